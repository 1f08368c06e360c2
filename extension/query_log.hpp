// One row in mcp.query_logs per client query, success or failure. A success is queued for the
// log writer when the caller's transaction commits having written nothing else
// (query_log_queue.hpp), else written in that transaction; a failure is written in a
// transaction of its own (the queue's writer, or a short-lived background worker without
// one), so that the error that follows cannot roll the row back.
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

// Whether the current transaction has written nothing yet. Asked when a call starts, before
// it writes anything itself (the cache), it decides where the call's log rows go (write()).
bool transaction_wrote_nothing();

// Logs the entries of a call that succeeded. When the transaction had written nothing before
// the call (`wrote_nothing_before`, asked when it started), they wait in this backend until
// the transaction commits and then go to the queue, so the transaction stays read-only; an
// aborted transaction or subtransaction drops them, as it would drop inserted rows. Else,
// and for what the queue cannot take at the commit, they are inserted in the current
// transaction (one statement), which commits or rolls back with the rest of its work.
void write(const std::vector<std::string>& entries_json, bool wrote_nothing_before);

// Logs one entry in a transaction of its own, waiting until it is committed (at most 5 s
// through the queue). Falls back to a WARNING when no background worker slot is free.
void write_autonomously(const std::string& entry_json);

// The INSERT of a JSON array of entries ($1) for a database whose extension is updated, or
// not yet (0.1.0's columns); and the query that tells which (one boolean).
const char* insert_sql(bool updated_schema);
const char* updated_schema_sql();

}  // namespace mcp::ext::query_log
