#include "mcp_http.hpp"

#include "http_headers.hpp"

#include <algorithm>
#include <cctype>

#include "auth.hpp"
#include "cors.hpp"
#include "event_streams.hpp"
#include "host_policy.hpp"
#include "json.hpp"
#include "mcp_dispatch.hpp"
#include "mcp_listen.hpp"
#include "mcp_modern.hpp"
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

// DNS rebinding: a foreign name in Host means a page elsewhere pointed its name at us.
std::optional<Reply> host_refusal(const McpHttpDeps& deps, const Request& request) {
    if (deps.hosts == nullptr || deps.hosts->allows(request)) {
        return std::nullopt;
    }
    return rpc_failure(http::status::forbidden, rpc_error::bad_request,
                       "Forbidden: this Host is not allowed (see --allowed-hosts)");
}

struct Gate {
    std::optional<Reply> refusal;
    Identity identity;
    bool database_unreachable = false;  // the refusal is the database's fault, not the client's
};

bool known_version(std::string_view version) {
    return is_supported_protocol_version(version) || is_modern_protocol_version(version);
}

Reply unsupported_version(std::string_view version) {
    return rpc_failure(http::status::bad_request, rpc_error::bad_request,
                       "Bad Request: unsupported MCP-Protocol-Version " +
                           std::string(version.substr(0, 40)) +
                           "; supported: 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, "
                           "2024-11-05");
}

// Host, Origin, database, API key and (unless the caller checks it later) protocol
// version: what every /mcp request must pass.
Gate check_request(const McpHttpDeps& deps, const Request& request, bool check_version = true) {
    Gate gate;
    if (auto refusal = host_refusal(deps, request)) {
        gate.refusal = std::move(*refusal);
        return gate;
    }
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
        gate.refusal = Reply{auth_failure_response(auth, true, deps.auth.resource_metadata_url()), nullptr, {}};
        return gate;
    }
    gate.identity = auth.identity;
    const std::string version = header_value(request, "MCP-Protocol-Version");
    if (check_version && !version.empty() && !known_version(version)) {
        gate.refusal = unsupported_version(version);
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

// 2026-07-28 -----------------------------------------------------------------------------

// 400 with HeaderMismatch (-32020): the headers gateways route on must say what the body says.
Reply header_mismatch(const std::string& text, const rapidjson::Value& id) {
    return rpc_failure(http::status::bad_request, rpc_error::header_mismatch,
                       "Header mismatch: " + text, &id);
}

std::string printable(std::string_view value) {
    std::string out;
    for (const char c : value.substr(0, 100)) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(u >= 0x20 && u < 0x7F && c != '\'' ? c : '?');
    }
    return out;
}

// Protocol version, Mcp-Method and Mcp-Name against the body; nullopt when they agree.
std::optional<Reply> check_modern_headers(const Request& request, const RpcMessage& message,
                                          const RequestMeta& meta) {
    const rapidjson::Value& id = message.id;
    const std::string header_version = header_value(request, "MCP-Protocol-Version");
    if (!meta.protocol_version.empty() && !is_modern_protocol_version(meta.protocol_version) &&
        !is_supported_protocol_version(meta.protocol_version)) {
        rapidjson::StringBuffer buffer;
        JsonWriter writer(buffer);
        writer.StartObject();
        writer.Key("supported");
        write_raw(writer, supported_versions_json());
        write_key_string(writer, "requested", meta.protocol_version.substr(0, 40));
        writer.EndObject();
        return Reply{json_response(http::status::bad_request,
                                   rpc_error_message(id, rpc_error::unsupported_protocol_version,
                                                     "Unsupported protocol version",
                                                     std::string_view(buffer.GetString(),
                                                                      buffer.GetSize()))),
                     nullptr, {}};
    }
    if (!meta.problem.empty() && meta.protocol_version.empty()) {
        return rpc_failure(http::status::bad_request, rpc_error::invalid_params,
                           "Invalid params: " + meta.problem, &id);
    }
    if (header_version.empty()) {
        return header_mismatch("the MCP-Protocol-Version header is required", id);
    }
    if (meta.protocol_version.empty()) {
        return header_mismatch("MCP-Protocol-Version is " + printable(header_version) +
                                   " but params._meta does not name " +
                                   meta_key::protocol_version,
                               id);
    }
    if (header_version != meta.protocol_version) {
        return header_mismatch("MCP-Protocol-Version header value '" + printable(header_version) +
                                   "' does not match body value '" +
                                   printable(meta.protocol_version) + "'",
                               id);
    }
    if (!is_modern_protocol_version(meta.protocol_version)) {
        // A legacy version in per-request _meta: that era needs initialize and a session.
        return rpc_failure(http::status::bad_request, rpc_error::invalid_request,
                           "Invalid Request: protocol version " + meta.protocol_version +
                               " needs initialize and a session; per-request _meta is 2026-07-28",
                           &id);
    }
    if (message.kind != MessageKind::request) {
        return std::nullopt;  // this revision defines no headers for notification POSTs
    }
    const std::string method_header = header_value(request, "Mcp-Method");
    if (method_header.empty()) {
        return header_mismatch("the Mcp-Method header is required", id);
    }
    if (method_header != message.method) {
        return header_mismatch("Mcp-Method header value '" + printable(method_header) +
                                   "' does not match body value '" + printable(message.method) +
                                   "'",
                               id);
    }
    if (const char* field = mcp_name_field(message.method)) {
        const auto name_header = request.find("Mcp-Name");
        const rapidjson::Value* body_value = nullptr;
        if (message.params.IsObject()) {
            const auto member = message.params.FindMember(field);
            if (member != message.params.MemberEnd()) {
                body_value = &member->value;
            }
        }
        if (name_header == request.end()) {
            return header_mismatch("the Mcp-Name header is required for " + message.method, id);
        }
        const auto decoded = decode_mcp_header_value(
            std::string_view(name_header->value().data(), name_header->value().size()));
        if (!decoded) {
            return header_mismatch("the Mcp-Name header holds invalid characters", id);
        }
        if (body_value == nullptr || !body_value->IsString() ||
            *decoded != std::string_view(body_value->GetString(), body_value->GetStringLength())) {
            return header_mismatch("Mcp-Name header value '" + printable(*decoded) +
                                       "' does not match body value params." + field,
                                   id);
        }
    }
    return std::nullopt;
}

Reply open_listen(const McpHttpDeps& deps, const Request& request, const RpcMessage& message) {
    std::string problem;
    auto filter = ListenFilter::from_params(message.params, problem);
    if (!filter) {
        return rpc_reply(http::status::ok, rpc_error_message(message.id, rpc_error::invalid_params,
                                                             "Invalid params: " + problem));
    }
    Reply reply;
    reply.response = Response{http::status::ok, request.version()};
    reply.response.set("X-Accel-Buffering", "no");
    // The request's id names the subscription in every notification it carries.
    reply.stream = deps.listeners->open(std::move(*filter), to_json(message.id));
    return reply;
}

Reply handle_stateless_post(const McpHttpDeps& deps, const Request& request,
                            const Identity& identity, const RpcMessage& message,
                            const RequestMeta& meta) {
    if (auto refusal = check_modern_headers(request, message, meta)) {
        refusal->log.api_key_id = identity.api_key_id;
        refusal->log.rpc_method = message.method.substr(0, 64);
        return std::move(*refusal);
    }
    if (message.kind == MessageKind::request && message.method == "subscriptions/listen" &&
        deps.listeners != nullptr) {
        Reply reply = open_listen(deps, request, message);
        reply.log.api_key_id = identity.api_key_id;
        reply.log.rpc_method = message.method;
        reply.log.client = meta.client_name;
        return reply;
    }
    DispatchContext context;
    context.caller.identity = identity;
    context.caller.user_agent = header_value(request, "User-Agent").substr(0, max_user_agent);
    context.transport = "http";
    context.stateless = true;
    context.protocol_version = meta.protocol_version;
    DispatchResult result = deps.dispatcher.handle(message, context);

    Reply reply;
    reply.log.api_key_id = identity.api_key_id;
    reply.log.rpc_method = message.method.substr(0, 64);
    reply.log.tool = result.tool;
    reply.log.client = context.caller.client_name;
    if (!result.response) {
        reply.response = Response{http::status::accepted, request.version()};
        return reply;
    }
    // A method this revision does not have is 404 with -32601, so that a client can tell it
    // from a server without the endpoint.
    const http::status status = result.error_code == rpc_error::method_not_found
                                    ? http::status::not_found
                                    : http::status::ok;
    if (status == http::status::ok && wants_event_stream(request)) {
        reply.response = Response{http::status::ok, request.version()};
        reply.response.set(http::field::content_type, "text/event-stream");
        reply.response.set("X-Accel-Buffering", "no");
        reply.response.body() = "event: message\ndata: " + *result.response + "\n\n";
    } else {
        reply.response = json_response(status, std::move(*result.response));
    }
    return reply;
}

Reply handle_post(const McpHttpDeps& deps, const Request& request) {
    if (!json_content_type(request)) {
        if (auto refusal = host_refusal(deps, request)) {
            return std::move(*refusal);
        }
        if (!deps.origins.allows(request)) {
            return rpc_failure(http::status::forbidden, rpc_error::bad_request,
                               "Forbidden: this Origin is not allowed");
        }
        return rpc_failure(http::status::unsupported_media_type, rpc_error::bad_request,
                           "Unsupported Media Type: send Content-Type: application/json");
    }
    Gate gate = check_request(deps, request, false);
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

    // A request that names its protocol version in _meta is a 2026-07-28 one: no session.
    const std::string header_version = header_value(request, "MCP-Protocol-Version");
    if (!body.batch && (first.kind == MessageKind::request || first.kind == MessageKind::notification)) {
        const RequestMeta meta = read_request_meta(first);
        if (meta.modern || is_modern_protocol_version(header_version)) {
            return handle_stateless_post(deps, request, gate.identity, first, meta);
        }
    }
    if (!header_version.empty() && !known_version(header_version)) {
        return unsupported_version(header_version);
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
    std::string step_up_scope;
    for (const RpcMessage& message : body.messages) {
        DispatchResult result = deps.dispatcher.handle(message, context);
        if (result.new_session_id) {
            new_session = *result.new_session_id;
        }
        step_up_scope = std::move(result.insufficient_scope);
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
    if (!body.batch && !step_up_scope.empty() && !deps.auth.resource_metadata_url().empty()) {
        // OAuth step-up: the token lacks a scope the tool needs; the client may ask for it.
        reply.response.result(http::status::forbidden);
        reply.response.set(http::field::www_authenticate,
                           "Bearer error=\"insufficient_scope\", scope=\"" + step_up_scope +
                               "\", resource_metadata=\"" + deps.auth.resource_metadata_url() + "\"");
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
        if (auto refusal = host_refusal(deps, request)) {
            return std::move(refusal->response);
        }
        return deps.origins.preflight(request);
    });
    router.decorate("/mcp", [&deps](const Request& request, Response& response) {
        deps.origins.decorate(request, response);
    });
}

}  // namespace mcp::bridge
