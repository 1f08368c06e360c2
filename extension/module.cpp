// Library entry: module magic, _PG_init and the configuration parameters.
#include "circuit_breaker.hpp"
#include "executor_settings.hpp"
#include "gucs.hpp"
#include "jobs_settings.hpp"
#include "maintenance.hpp"
#include "query_log_queue.hpp"
#include "registry_generation.hpp"
#include "worker.hpp"
#include "weighting.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

char* mcp_key_file = nullptr;
int mcp_connect_timeout_s = 10;

void _PG_init(void);
}

namespace mcp::ext {

void define_gucs() {
    DefineCustomStringVariable(
        "mcp_analytics.key_file",
        "File holding the AES-256 key that encrypts dataset connection strings.",
        "32 random bytes, or 64 hex digits. Must be readable by the server only (mode 0600) "
        "and should live outside the data directory.",
        &mcp_key_file, nullptr, PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "mcp_analytics.connect_timeout",
        "Seconds to wait for a dataset's server when connecting.",
        "Applies when the connection string sets no connect_timeout of its own.",
        &mcp_connect_timeout_s, 10, 1, 300, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

}  // namespace mcp::ext

// Runs once per backend that loads the library (or in the postmaster with
// shared_preload_libraries). Nothing here may throw.
void _PG_init(void) {
    mcp::ext::define_gucs();
    mcp::ext::executor_settings::define();
    mcp::ext::define_weighting_gucs();
    mcp::ext::jobs_settings::define();
    mcp::ext::maintenance::define();
    mcp::ext::circuit_breaker::define_settings();
    mcp::ext::query_log_queue::define_settings();
    mcp::ext::worker::register_at_preload();  // launcher + shared memory, preload only
    mcp::ext::circuit_breaker::register_at_preload();
    mcp::ext::query_log_queue::register_at_preload();  // the log queue's shared memory
    mcp::ext::registry_generation::register_at_preload();
    // Last: every mcp_analytics.* setting is defined above; any other name is a typo.
#if PG_VERSION_NUM >= 150000
    MarkGUCPrefixReserved("mcp_analytics");
#else
    EmitWarningsOnPlaceholders("mcp_analytics");
#endif
}
