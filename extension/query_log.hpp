// One row in mcp.query_logs per client query, success or failure. Successes are written in
// the caller's transaction; a failure is written by a short-lived background worker in a
// transaction of its own, so that the error that follows cannot roll the row back.
#pragma once

#include <string>
#include <vector>

namespace mcp::ext::query_log {

struct Entry {
    std::string query_text;
    std::string query_type;  // raw | aggregated | weighted
    std::vector<int> datasets_used;
    double execution_time_ms = 0;
    long rows_returned = 0;
    bool success = true;
    std::string error_message;
    std::string error_sqlstate;
    std::string response_format;
    long response_size_bytes = 0;
    bool was_cached = false;
    std::string house_rule;  // raw_rows | min_cells | empty: no rule changed the answer
};

// The caller's identity for the log from a JSON object: only the known keys (client_name,
// client_version, user_agent, session_id, tool: strings; api_key_id: integer), strings cut
// at 1,000 characters. Throws PgError 22023 naming the bad key.
std::string normalize_context(const std::string& context_json);

// The context of the MCP tool call this query runs under (the transaction setting
// mcp.request_context, set by mcp.call_tool), else {"tool": fallback_tool}.
std::string request_context(const std::string& fallback_tool);

// The entry as the JSON object mcp._log_query() takes; `context_json` is the caller's
// context object (client name and version, user agent, session, API key id).
std::string to_json(const Entry& entry, const std::string& context_json);

// Writes entries in the current transaction (one statement for all of them).
void write(const std::vector<std::string>& entries_json);

// Writes one entry in its own transaction, waiting until it is committed. Falls back to a
// WARNING when no background worker slot is free.
void write_autonomously(const std::string& entry_json);

}  // namespace mcp::ext::query_log
