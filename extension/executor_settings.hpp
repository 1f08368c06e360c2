// Configuration parameters of query execution (defined in executor_settings.cpp).
#pragma once

namespace mcp::ext::executor_settings {

extern int statement_timeout_ms;  // mcp_analytics.statement_timeout
extern int max_raw_rows;          // mcp_analytics.max_raw_rows
extern int min_cell_users;        // mcp_analytics.min_cell_users
extern int max_rows;              // mcp_analytics.max_rows: ceiling of the max_rows argument
extern int max_result_bytes;      // mcp_analytics.max_result_bytes
extern int cache_ttl_s;           // mcp_analytics.cache_ttl (0 turns the cache off)
extern int max_pooled_per_dataset;  // mcp_analytics.pool_size
extern bool async_log_commit;     // mcp_analytics.async_log_commit

void define();

}  // namespace mcp::ext::executor_settings
