// The SQL behind completion/complete, resource subscriptions and tasks (the SqlBackend's
// share of the MCP protocol utilities; the catalogs and tools are in sql_backend.cpp).
#include "logger.hpp"
#include "pg_pool.hpp"
#include "sql_backend.hpp"

namespace mcp::bridge {

BackendResult SqlBackend::complete(const CallerContext& caller, std::string_view ref_json,
                                   std::string_view argument_json,
                                   std::string_view context_json) {
    return single_json("complete", "SELECT mcp.complete($1::jsonb, $2::jsonb, $3::jsonb)::text",
                       {std::string(ref_json), std::string(argument_json),
                        std::string(context_json)},
                       caller, true, nullptr);
}

BackendResult SqlBackend::subscribe_resource(const CallerContext& caller, std::string_view uri,
                                             bool subscribed) {
    return single_json(
        "subscribe_resource",
        "SELECT mcp.subscribe_resource($1, $2::integer, $3, $4::boolean)::text",
        {caller.session_id, std::to_string(caller.identity.api_key_id), std::string(uri),
         std::string(subscribed ? "true" : "false")},
        caller, true, nullptr);
}

BackendResult SqlBackend::create_task(const CallerContext& caller, std::string_view tool,
                                      std::string_view arguments_json) {
    return single_json("create_task",
                       "SELECT mcp.create_task($1::integer, $2, $3::jsonb, $4::jsonb)::text",
                       {std::to_string(caller.identity.api_key_id), std::string(tool),
                        std::string(arguments_json), context_json(caller)},
                       caller, false, nullptr);
}

BackendResult SqlBackend::run_task(const CallerContext& caller, std::string_view task_id) {
    // Not retried: the tool call may have run before a connection broke.
    return single_json("run_task", "SELECT coalesce(mcp.run_task($1, $2::integer), 'unknown')",
                       {std::string(task_id), std::to_string(caller.identity.api_key_id)}, caller,
                       false, nullptr);
}

BackendResult SqlBackend::get_task(const CallerContext& caller, std::string_view task_id) {
    BackendResult found = single_json(
        "get_task", "SELECT coalesce(mcp.get_task($1, $2::integer)::text, 'null')",
        {std::string(task_id), std::to_string(caller.identity.api_key_id)}, caller, true, nullptr);
    if (found.ok() && found.json == "null") {
        found.json.clear();
        found.error.kind = BackendError::Kind::not_found;
    }
    return found;
}

BackendResult SqlBackend::cancel_task(const CallerContext& caller, std::string_view task_id) {
    return single_json("cancel_task", "SELECT mcp.cancel_task($1, $2::integer)::text",
                       {std::string(task_id), std::to_string(caller.identity.api_key_id)}, caller,
                       true, nullptr);
}

namespace {

// A PostgreSQL array literal of integers or of quoted texts.
std::string int_array(const std::vector<int>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        out += (i > 0 ? "," : "") + std::to_string(values[i]);
    }
    return out + "}";
}

std::string text_array(const std::vector<std::string>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        out += i > 0 ? ",\"" : "\"";
        for (const char c : values[i]) {
            if (c == '"' || c == '\\') {
                out += '\\';
            }
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> SqlBackend::resource_subscribers(
    const std::vector<int>& dataset_ids, const std::vector<std::string>& session_ids) {
    std::vector<std::pair<std::string, std::string>> found;
    if (dataset_ids.empty() || session_ids.empty()) {
        return found;
    }
    PgQuery query;
    query.sql = "SELECT session_id, uri FROM mcp.resource_subscribers($1::integer[], $2::text[])";
    query.params = {int_array(dataset_ids), text_array(session_ids)};
    query.role = DbRole::reader;
    query.retry_on_broken_connection = true;
    PgRows rows;
    PgError error;
    if (!pool_.run(query, rows, error)) {
        logger_.event("resource_subscribers failed; no resources/updated sent");
        return found;
    }
    for (const auto& row : rows.rows) {
        if (row.size() == 2 && row[0] && row[1]) {
            found.emplace_back(*row[0], *row[1]);
        }
    }
    return found;
}

}  // namespace mcp::bridge
