#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cancel_token.hpp"

namespace mcp::bridge {

// Who a request comes from: the API key that authenticated it.
struct Identity {
    int api_key_id = 0;
    std::string name;
    std::string role;  // "reader" or "admin"
};

// Who asks, as the query log records it (the `context` argument of the SQL functions).
struct CallerContext {
    Identity identity;
    std::string session_id;
    std::string client_name;
    std::string client_version;
    std::string user_agent;
    std::string traceparent;  // W3C trace context of the request, when the client sent one
};

// An MCP session as stored in the metadata database.
struct SessionRecord {
    std::string id;
    std::string protocol_version;
    std::string client_name;
    std::string client_version;
    std::string user_agent;
    std::string log_level = "info";
    bool initialized = false;
};

struct NewSession {
    std::string protocol_version;
    std::string client_info_json = "{}";
    std::string capabilities_json = "{}";
    std::string user_agent;
    std::string transport = "http";
};

struct BackendError {
    enum class Kind {
        none,
        unknown_name,    // no such tool or prompt
        invalid_params,  // the arguments break a rule of the function
        not_found,       // no such resource
        cancelled,       // notifications/cancelled stopped it
        timeout,         // the bridge's query timeout passed
        unavailable,     // the database cannot be reached
        busy,            // every database connection stayed in use
        internal,        // anything else; the message is not for clients
    };
    Kind kind = Kind::none;
    std::string message;
};

// JSON text on success; an error otherwise.
struct BackendResult {
    std::string json;
    BackendError error;
    // For a CallToolResult: whether it has isError set, known without parsing `json` (which
    // can be megabytes of query result).
    bool tool_error = false;
    // For a CallToolResult refused for want of an OAuth scope: the scopes to ask for.
    std::string insufficient_scope = {};
    bool ok() const { return error.kind == BackendError::Kind::none; }
};

enum class SessionLookup { found, not_found, unavailable };

// Everything MCP needs from the extension. The bridge's implementation calls SQL functions
// (sql_backend); tests and the fuzzer use fakes.
class McpBackend {
public:
    virtual ~McpBackend() = default;

    // Catalogs as JSON arrays in MCP's wire shape (tools with inputSchema, outputSchema …).
    virtual BackendResult list_tools(const CallerContext& caller) = 0;
    virtual BackendResult list_resources(const CallerContext& caller) = 0;
    virtual BackendResult list_resource_templates(const CallerContext& caller) = 0;
    virtual BackendResult list_prompts(const CallerContext& caller) = 0;

    // A CallToolResult object.
    virtual BackendResult call_tool(const CallerContext& caller, std::string_view name,
                                    std::string_view arguments_json, CancelToken& cancel) = 0;
    // A ReadResourceResult object ({contents: [...]}).
    virtual BackendResult read_resource(const CallerContext& caller, std::string_view uri) = 0;
    // A GetPromptResult object.
    virtual BackendResult get_prompt(const CallerContext& caller, std::string_view name,
                                     std::string_view arguments_json) = 0;

    // completion/complete: a CompleteResult object ({completion: {values, total, hasMore}}).
    // ref and argument are objects, context an object or "{}".
    virtual BackendResult complete(const CallerContext& caller, std::string_view ref_json,
                                   std::string_view argument_json,
                                   std::string_view context_json) = 0;
    // resources/subscribe (subscribed) or unsubscribe for the caller's session: json is
    // "true", or "false" when the session is gone; a URI not of this server is invalid_params.
    virtual BackendResult subscribe_resource(const CallerContext& caller, std::string_view uri,
                                             bool subscribed) = 0;

    // Tasks (io.modelcontextprotocol/tasks). create_task stores a tool call and answers the
    // Task object ({taskId, status, …}); run_task runs it to the end (json: the final
    // status); get_task answers the Task (not_found when unknown to the caller's key);
    // cancel_task answers "true", or "false" when unknown.
    virtual BackendResult create_task(const CallerContext& caller, std::string_view tool,
                                      std::string_view arguments_json) = 0;
    virtual BackendResult run_task(const CallerContext& caller, std::string_view task_id) = 0;
    virtual BackendResult get_task(const CallerContext& caller, std::string_view task_id) = 0;
    virtual BackendResult cancel_task(const CallerContext& caller, std::string_view task_id) = 0;

    // The new session's id, or nullopt when the database is unavailable.
    virtual std::optional<std::string> open_session(const Identity& identity,
                                                    const NewSession& session) = 0;
    virtual SessionLookup resume_session(std::string_view session_id, const Identity& identity,
                                         SessionRecord& out) = 0;
    virtual bool update_session(std::string_view session_id, const Identity& identity,
                                std::optional<bool> initialized,
                                std::optional<std::string> log_level) = 0;
    virtual SessionLookup close_session(std::string_view session_id, const Identity& identity) = 0;

    // A tool call that could not reach the database (`reason` says why), kept so that the
    // query log still gets its row once the database answers again.
    virtual void record_unreached_call(const CallerContext& /*caller*/, std::string_view /*tool*/,
                                       std::string_view /*arguments_json*/,
                                       std::string_view /*reason*/) {}
};

}  // namespace mcp::bridge
