// mcp.execute_query for callers inside the extension (mcp.call_tool's execute_query tool).
#pragma once

#include <string>

namespace mcp::ext::query_functions {

// What mcp.execute_query(dataset_id, sql, max_rows, format, context) answers, as JSON text;
// throws PgError as it raises (the failure logged first).
std::string execute_query_answer(int dataset_id, const std::string& sql, long max_rows,
                                 const std::string& format, const std::string& context_json);

}  // namespace mcp::ext::query_functions
