// One row in mcp.query_logs per client query, success or failure. A success is queued for the
// log writer when the caller's transaction writes nothing else (query_log_queue.hpp), else
// written in that transaction; a failure is written in a transaction of its own (the queue's
// writer, or a short-lived background worker without one), so that the error that follows
// cannot roll the row back.
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

// Whether a call starting now may queue its log rows: the queue is on and the current
// transaction has written nothing yet. A transaction that writes keeps its log rows with the
// rest of its work (they commit or roll back together); one that only reads hands them to
// the queue and stays read-only. Ask before the call writes anything itself (the cache).
bool may_queue();

// Logs the entries of a call that succeeded: queued when `may_queue` (asked when the call
// started), else inserted in the current transaction (one statement for all of them).
void write(const std::vector<std::string>& entries_json, bool may_queue);

// Logs one entry in a transaction of its own, waiting until it is committed (at most 5 s
// through the queue). Falls back to a WARNING when no background worker slot is free.
void write_autonomously(const std::string& entry_json);

// The INSERT of a JSON array of entries ($1) for a database whose extension is updated, or
// not yet (0.1.0's columns); and the query that tells which (one boolean).
const char* insert_sql(bool updated_schema);
const char* updated_schema_sql();

}  // namespace mcp::ext::query_log
