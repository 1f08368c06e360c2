#include "mcp_http.hpp"

#include "http_headers.hpp"

#include <algorithm>
#include <cctype>

#include "auth.hpp"
#include "cors.hpp"
#include "event_streams.hpp"
#include "json.hpp"
#include "mcp_dispatch.hpp"
#include "mcp_protocol.hpp"
#include "metrics.hpp"
#include "responses.hpp"

namespace mcp::bridge {

namespace {

constexpr std::size_t max_user_agent = 500;

Reply rpc_reply(http::status status, const std::string& body) {
    return Reply{json_response(status, body), nullptr, {}};
}

Reply rpc_failure(http::status status, int code, std::string_view text,
                  const rapidjson::Value* id = nullptr) {
    rapidjson::Value null_id;
    return rpc_reply(status, rpc_error_message(id != nullptr ? *id : null_id, code, text));
}

// Answers as SSE only for a client that accepts nothing else; JSON is simplest for the rest,
// including those that send no Accept at all (never 406).
bool wants_event_stream(const Request& request) {
    const std::string accept = lowercase(header_value(request, "Accept"));
    return accept.find("text/event-stream") != std::string::npos &&
           accept.find("application/json") == std::string::npos &&
           accept.find("*/*") == std::string::npos;
}

bool json_content_type(const Request& request) {
    const std::string type = content_type(request);
    return type.empty() || starts_with(type, "application/json");  // lenient: some send none
}

struct Gate {
    std::optional<Reply> refusal;
    Identity identity;
    bool database_unreachable = false;  // the refusal is the database's fault, not the client's
};

// Origin, database, API key and protocol version: what every /mcp request must pass.
Gate check_request(const McpHttpDeps& deps, const Request& request) {
    Gate gate;
    if (!deps.origins.allows(request)) {
        gate.refusal = rpc_failure(http::status::forbidden, rpc_error::bad_request,
                                   "Forbidden: this Origin is not allowed");
        return gate;
    }
    if (!deps.database_configured) {
        gate.refusal = rpc_failure(http::status::service_unavailable, rpc_error::internal_error,
                                   "Service unavailable: no metadata database is configured");
        return gate;
    }
    const AuthResult auth = deps.auth.authenticate(request);
    if (auth.status != AuthStatus::ok) {
        if (auth.status != AuthStatus::unavailable) {
            deps.metrics.auth_failure();
        }
        gate.database_unreachable = auth.status == AuthStatus::unavailable;
        gate.refusal = Reply{auth_failure_response(auth, true), nullptr, {}};
        return gate;
    }
    gate.identity = auth.identity;
    const std::string version = header_value(request, "MCP-Protocol-Version");
    if (!version.empty() && !is_supported_protocol_version(version)) {
        gate.refusal = rpc_failure(http::status::bad_request, rpc_error::bad_request,
                                   "Bad Request: unsupported MCP-Protocol-Version " +
                                       version.substr(0, 40) + "; supported: 2025-11-25, "
                                       "2025-06-18, 2025-03-26, 2024-11-05");
    }
    return gate;
}

enum class SessionState { found, missing, unknown, unavailable };

SessionState load_session(const McpHttpDeps& deps, const Request& request, const Identity& identity,
                          DispatchContext& context) {
    const std::string id = header_value(request, "Mcp-Session-Id");
    if (id.empty()) {
        return SessionState::missing;
    }
    // Ids are ours: 64 hex digits. Anything else cannot be a session and needs no lookup.
    if (id.size() != 64 || id.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return SessionState::unknown;
    }
    SessionRecord record;
    switch (deps.backend.resume_session(id, identity, record)) {
        case SessionLookup::not_found:
            return SessionState::unknown;
        case SessionLookup::unavailable:
            return SessionState::unavailable;
        case SessionLookup::found:
            break;
    }
    context.has_session = true;
    context.protocol_version = record.protocol_version;
    context.caller.session_id = id;
    context.caller.client_name = record.client_name;
    context.caller.client_version = record.client_version;
    if (context.caller.user_agent.empty()) {
        context.caller.user_agent = record.user_agent;
    }
    return SessionState::found;
}

std::optional<Reply> session_refusal(SessionState state, const rapidjson::Value* id) {
    switch (state) {
        case SessionState::found:
            return std::nullopt;
        case SessionState::missing:
            return rpc_failure(http::status::bad_request, rpc_error::bad_request,
                               "Bad Request: Mcp-Session-Id header is required", id);
        case SessionState::unknown:
            // 404 tells the client to initialize a new session.
            return rpc_failure(http::status::not_found, rpc_error::session_not_found,
                               "Session not found", id);
        case SessionState::unavailable:
            break;
    }
    return rpc_failure(http::status::service_unavailable, rpc_error::internal_error,
                       "Service unavailable: the metadata database is not reachable", id);
}

// Tool calls refused because the database could not be reached still get their query-log
// rows, written once it answers again (UnreachedCalls). The caller is who the gate saw; the
// session, when the database could not confirm it, is only a claim the SQL side checks.
void keep_unreached_tool_calls(const McpHttpDeps& deps, const Request& request,
                               const Identity& identity) {
    const ParsedBody body = parse_body(request.body());
    CallerContext caller;
    caller.identity = identity;
    caller.session_id = header_value(request, "Mcp-Session-Id").substr(0, 64);
    caller.user_agent = header_value(request, "User-Agent").substr(0, max_user_agent);
    for (const RpcMessage& message : body.messages) {
        if (message.kind != MessageKind::request || message.method != "tools/call") continue;
        const auto arguments = message.params.FindMember("arguments");
        deps.backend.record_unreached_call(
            caller, string_member(message.params, "name"),
            arguments != message.params.MemberEnd() ? to_json(arguments->value) : "{}",
            "the metadata database was not reachable");
    }
}

Reply handle_post(const McpHttpDeps& deps, const Request& request) {
    if (!json_content_type(request)) {
        if (!deps.origins.allows(request)) {
            return rpc_failure(http::status::forbidden, rpc_error::bad_request,
                               "Forbidden: this Origin is not allowed");
        }
        return rpc_failure(http::status::unsupported_media_type, rpc_error::bad_request,
                           "Unsupported Media Type: send Content-Type: application/json");
    }
    Gate gate = check_request(deps, request);
    if (gate.refusal) {
        if (gate.database_unreachable) keep_unreached_tool_calls(deps, request, {});
        return std::move(*gate.refusal);
    }
    ParsedBody body = parse_body(request.body());
    if (body.parse_error) {
        return rpc_failure(http::status::bad_request, rpc_error::parse_error, "Parse error");
    }
    if (body.batch && (body.messages.empty() || body.messages.size() > max_batch_messages)) {
        return rpc_failure(http::status::bad_request, rpc_error::invalid_request,
                           "Invalid Request: a batch holds 1 to 100 messages");
    }
    const RpcMessage& first = body.messages.front();
    if (!body.batch && first.kind == MessageKind::invalid &&
        first.error_code == rpc_error::invalid_request) {
        return rpc_failure(http::status::bad_request, first.error_code, first.error_message,
                           &first.id);
    }

    DispatchContext context;
    context.caller.identity = gate.identity;
    context.caller.user_agent = header_value(request, "User-Agent").substr(0, max_user_agent);
    context.transport = "http";
    const bool initialize = !body.batch && first.kind == MessageKind::request &&
                            first.method == "initialize";
    const bool sessionless_ping = !body.batch && first.kind == MessageKind::request &&
                                  first.method == "ping";
    if (!initialize) {
        const SessionState state = load_session(deps, request, gate.identity, context);
        if (!(state == SessionState::missing && sessionless_ping)) {
            if (auto refusal = session_refusal(state, body.batch ? nullptr : &first.id)) {
                if (state == SessionState::unavailable) {
                    keep_unreached_tool_calls(deps, request, gate.identity);
                }
                return std::move(*refusal);
            }
        }
    }
    if (body.batch && !supports_batches(context.protocol_version)) {
        return rpc_failure(http::status::bad_request, rpc_error::invalid_request,
                           "Invalid Request: batches are not part of protocol version " +
                               context.protocol_version);
    }
    context.in_batch = body.batch;

    Reply reply;
    reply.log.api_key_id = gate.identity.api_key_id;
    reply.log.rpc_method = body.batch ? "batch" : first.method.substr(0, 64);
    std::vector<std::string> responses;
    std::string new_session;
    for (const RpcMessage& message : body.messages) {
        DispatchResult result = deps.dispatcher.handle(message, context);
        if (result.new_session_id) {
            new_session = *result.new_session_id;
        }
        if (!result.tool.empty()) {
            reply.log.tool = result.tool;
        }
        if (result.response) {
            responses.push_back(std::move(*result.response));
        }
    }
    reply.log.client = context.caller.client_name;
    if (responses.empty()) {
        // Notifications and responses are acknowledged with 202 and no body; so is a request
        // that was cancelled, whose answer must not be sent.
        reply.response = Response{http::status::accepted, request.version()};
        return reply;
    }
    if (wants_event_stream(request)) {
        std::string events;
        for (const auto& message : responses) {
            events += "event: message\ndata: " + message + "\n\n";
        }
        reply.response = Response{http::status::ok, request.version()};
        reply.response.set(http::field::content_type, "text/event-stream");
        reply.response.set("X-Accel-Buffering", "no");
        reply.response.body() = std::move(events);
    } else if (body.batch) {
        std::string joined = "[";
        for (std::size_t i = 0; i < responses.size(); ++i) {
            joined += (i > 0 ? "," : "") + responses[i];
        }
        reply.response = json_response(http::status::ok, joined + "]");
    } else {
        reply.response = json_response(http::status::ok, std::move(responses.front()));
    }
    if (!new_session.empty()) {
        reply.response.set("Mcp-Session-Id", new_session);
    }
    return reply;
}

Reply handle_get(const McpHttpDeps& deps, const Request& request) {
    Gate gate = check_request(deps, request);
    if (gate.refusal) {
        return std::move(*gate.refusal);
    }
    DispatchContext context;
    const SessionState state = load_session(deps, request, gate.identity, context);
    if (auto refusal = session_refusal(state, nullptr)) {
        return std::move(*refusal);
    }
    Reply reply;
    reply.log.api_key_id = gate.identity.api_key_id;
    reply.log.client = context.caller.client_name;
    reply.response = Response{http::status::ok, request.version()};
    // The stream carries server-initiated messages only (list_changed); no ids, no replay.
    reply.stream = deps.streams.open(context.caller.session_id);
    return reply;
}

Reply handle_delete(const McpHttpDeps& deps, const Request& request) {
    Gate gate = check_request(deps, request);
    if (gate.refusal) {
        return std::move(*gate.refusal);
    }
    const std::string id = header_value(request, "Mcp-Session-Id");
    if (id.empty()) {
        return *session_refusal(SessionState::missing, nullptr);
    }
    switch (deps.backend.close_session(id, gate.identity)) {
        case SessionLookup::not_found:
            return *session_refusal(SessionState::unknown, nullptr);
        case SessionLookup::unavailable:
            return *session_refusal(SessionState::unavailable, nullptr);
        case SessionLookup::found:
            break;
    }
    deps.streams.close_session(id);
    Reply reply;
    reply.log.api_key_id = gate.identity.api_key_id;
    reply.response = Response{http::status::no_content, request.version()};
    return reply;
}

}  // namespace

void add_mcp_routes(Router& router, const McpHttpDeps& deps) {
    router.add(http::verb::post, "/mcp",
               Router::ReplyHandler([&deps](const Request& request, const RouteParams&) {
                   return handle_post(deps, request);
               }));
    router.add(http::verb::get, "/mcp",
               Router::ReplyHandler([&deps](const Request& request, const RouteParams&) {
                   return handle_get(deps, request);
               }));
    router.add(http::verb::delete_, "/mcp",
               Router::ReplyHandler([&deps](const Request& request, const RouteParams&) {
                   return handle_delete(deps, request);
               }));
    router.add(http::verb::options, "/mcp", [&deps](const Request& request) {
        return deps.origins.preflight(request);
    });
    router.decorate("/mcp", [&deps](const Request& request, Response& response) {
        deps.origins.decorate(request, response);
    });
}

}  // namespace mcp::bridge
