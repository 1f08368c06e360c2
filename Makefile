# mcp_analytics — one entry point for building, running and testing.
#
#   make            build the extension (PGXS target all) and the bridge
#   make install    install the extension into PostgreSQL (needs root or sudo)
#   make run        install what is missing, build, start a local cluster + bridge, load the demo
#   make stop       stop what `make run` started      make clean-data   remove .data/
#   make psql       psql on the local metadata database
#   make demo SCALE=n   (re)load the demo panel at n times the default size
#   make test       everything, ending with "N passed, N failed"

PG_CONFIG ?= $(shell command -v pg_config 2>/dev/null || echo /usr/bin/pg_config)

EXTENSION  = mcp_analytics
MODULE_big = mcp_analytics
# The install script is assembled from one part per concern (extension/sql/NN_*.sql), and
# so is each upgrade script (extension/upgrade/A--B/NN_*.sql). Earlier versions' install
# scripts ship frozen (extension/versions/), so `CREATE EXTENSION ... VERSION '0.1.0'` then
# `ALTER EXTENSION ... UPDATE` can be tested; the library keeps every C symbol they name.
EXTENSION_VERSION = 0.4.0
MCP_INSTALL_SCRIPT = $(EXTENSION)--$(EXTENSION_VERSION).sql
SQL_PARTS  = $(sort $(wildcard extension/sql/*.sql))
MCP_UPGRADE_DIRS    = $(notdir $(wildcard extension/upgrade/*--*))
MCP_UPGRADE_SCRIPTS = $(addprefix $(EXTENSION)--,$(addsuffix .sql,$(MCP_UPGRADE_DIRS)))
DATA_built = $(MCP_INSTALL_SCRIPT) $(MCP_UPGRADE_SCRIPTS)
DATA       = $(sort $(wildcard extension/versions/$(EXTENSION)--*.sql))
OBJS       = $(patsubst %.cpp,%.o,$(sort $(wildcard extension/*.cpp)))
PGFILEDESC = "mcp_analytics - dataset registry and safe analytics for MCP clients"

# pg_regress suite: sql/*.sql with expected/*.out (run by test/run_tests.sh on its own cluster)
REGRESS    = $(basename $(notdir $(sort $(wildcard sql/*.sql))))

PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -Wno-missing-field-initializers \
              -isystem $(shell $(PG_CONFIG) --includedir-server) \
              -isystem $(shell $(PG_CONFIG) --includedir)
PG_CPPFLAGS = -I$(shell $(PG_CONFIG) --includedir)
SHLIB_LINK  = -lpq -lssl -lcrypto -lcurl -lstdc++

# No LLVM bitcode: it needs clang, and JIT-inlining our C++ buys nothing. Set before PGXS
# so its own with_llvm = yes is ignored.
override with_llvm = no
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

BUILD_DIR  ?= build
BRIDGE_DIR  = $(BUILD_DIR)/bridge

.PHONY: build bridge test run stop psql clean-data demo deps bench fuzz soak
.DEFAULT_GOAL := build
build: all bridge

bridge:
	@cmake -S bridge -B $(BRIDGE_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BRIDGE_DIR) -j2

deps:
	@test/support/install_deps.sh build test

# libFuzzer (clang-14, ASan + UBSan) on the bridge's JSON-RPC entry for FUZZ_SECONDS; new
# inputs go to build/fuzz/corpus, findings to build/fuzz/ (and the target exits non-zero).
# FUZZ_FLAGS adds libFuzzer options (CI: a fixed seed and run count, so a run repeats).
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
fuzz:
	@test/support/install_deps.sh build fuzz
	@cmake -S bridge -B $(BUILD_DIR)/fuzz -DMCP_BRIDGE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD_DIR)/fuzz --target jsonrpc_fuzz -j2
	@mkdir -p $(BUILD_DIR)/fuzz/corpus
	$(BUILD_DIR)/fuzz/jsonrpc_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(BUILD_DIR)/fuzz/ \
	    -dict=bridge/fuzz/jsonrpc.dict $(FUZZ_FLAGS) $(BUILD_DIR)/fuzz/corpus bridge/fuzz/corpus

test: deps
	@test/run_tests.sh

# Benchmarks print figures and ratios against a baseline measured in the same run; they never
# fail on a timing. Each starts what it needs; the bridge's runs against `make run`.
bench:
	@test/support/install_deps.sh build test bench
	@test/bench/run_all.sh

# The soak suite at full length (about 2½ minutes): load, a metadata database restart,
# failing datasets, killed workers and hostile clients, with one table of figures. Its short
# form runs inside make test.
soak:
	@test/support/install_deps.sh build test
	@$(MAKE) -s build
	@SOAK_MODE=full test/soak/run.sh

run:
	@test/support/install_deps.sh build
	@test/support/run_local.sh start

stop:
	@test/support/run_local.sh stop

psql:
	@test/support/run_local.sh psql

demo:
	@test/support/run_local.sh demo $(or $(SCALE),1)

clean-data:
	@test/support/run_local.sh clean

clean: clean-bridge
clean-bridge:
	rm -rf $(BUILD_DIR)

# The pg_regress test list, for test/run_tests.sh.
print-regress:
	@echo $(REGRESS)

$(MCP_INSTALL_SCRIPT): $(SQL_PARTS)
	cat $^ > $@

.SECONDEXPANSION:
$(MCP_UPGRADE_SCRIPTS): $(EXTENSION)--%.sql: $$(sort $$(wildcard extension/upgrade/%/*.sql))
	cat $^ > $@

# PGXS tracks no header dependencies; every object depends on every header of ours.
$(OBJS): $(wildcard extension/*.hpp)
