#include "executor_settings.hpp"

extern "C" {
#include "postgres.h"
#include "utils/guc.h"
}

namespace mcp::ext::executor_settings {

int statement_timeout_ms = 30000;
int max_raw_rows = 5;
int min_cell_users = 5;
int max_rows = 10000;
int max_result_bytes = 4 * 1024 * 1024;
int cache_ttl_s = 300;
int max_pooled_per_dataset = 4;
bool async_log_commit = true;

void define() {
    DefineCustomIntVariable(
        "mcp_analytics.statement_timeout", "Longest a client query may run on a dataset.",
        "Set on the dataset's server with SET LOCAL statement_timeout, and enforced here too.",
        &statement_timeout_ms, 30000, 100, 3600 * 1000, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr,
        nullptr);
    DefineCustomIntVariable(
        "mcp_analytics.max_raw_rows", "Most rows a query without aggregation may return.",
        "The house rule: never show more than 5 raw rows; aggregate instead.", &max_raw_rows, 5,
        0, 1000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "mcp_analytics.min_cell_users",
        "Fewest distinct panelists an aggregated row must stand for to be shown.",
        "Rows of smaller groups are held back and the response says how many; a dataset may "
        "set its own value (mcp.set_min_cell_users). 1 turns the check off.",
        &min_cell_users, 5, 1, 1000000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("mcp_analytics.max_rows",
                            "Ceiling of the max_rows argument of execute_query.", nullptr,
                            &max_rows, 10000, 1, 1000000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "mcp_analytics.max_result_bytes", "Most bytes of row data one query may return.",
        "Rows past the cap are dropped and the result is marked truncated.", &max_result_bytes,
        4 * 1024 * 1024, 1024, 1024 * 1024 * 1024, PGC_SUSET, GUC_UNIT_BYTE, nullptr, nullptr,
        nullptr);
    DefineCustomIntVariable(
        "mcp_analytics.cache_ttl", "How long a query result is served from the cache.",
        "The same dataset, normalized SQL, max_rows and format within this time is answered "
        "from mcp.query_cache; 0 turns the cache off.",
        &cache_ttl_s, 300, 0, 7 * 24 * 3600, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "mcp_analytics.pool_size", "Idle connections kept per dataset in each backend.",
        "Connections are reused across queries of the same backend, as postgres_fdw does.",
        &max_pooled_per_dataset, 4, 0, 64, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable(
        "mcp_analytics.async_log_commit",
        "Commit a query call that wrote nothing but its log row without waiting for the WAL flush.",
        "The flush costs more than the query itself on most disks; a crash may lose the last "
        "fraction of a second of log rows, never other data. Off: every call waits.",
        &async_log_commit, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

}  // namespace mcp::ext::executor_settings
