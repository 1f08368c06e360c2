#include "mcp_dispatch.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

#include "json.hpp"
#include "mcp_modern.hpp"
#include "mcp_tasks.hpp"
#include "metrics.hpp"

namespace mcp::bridge {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::array<std::string_view, 8> log_levels = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};

constexpr std::array<std::string_view, 20> known_methods = {
    "initialize", "ping", "tools/list", "tools/call", "resources/list",
    "resources/templates/list", "resources/read", "prompts/list", "prompts/get",
    "logging/setLevel", "notifications/initialized", "notifications/cancelled",
    "completion/complete", "resources/subscribe", "resources/unsubscribe", "server/discover",
    "subscriptions/listen", "tasks/get", "tasks/update", "tasks/cancel"};

constexpr const char* tasks_extension = "io.modelcontextprotocol/tasks";

// The tools that may run as tasks: they can take long.
bool task_tool(std::string_view tool) {
    return tool == "execute_multi_query" || tool == "weighted_query" ||
           tool == "reprofile_dataset";
}

// Methods of the initialize-based revisions that 2026-07-28 removed.
constexpr std::array<std::string_view, 6> session_only_methods = {
    "initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe",
    "notifications/initialized"};

// FNV-1a, 64 bits: the same on every bridge, so any bridge checks a requestState another
// minted.
std::string fingerprint(std::string_view text) {
    std::uint64_t hash = 14695981039346656037ULL;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    static const char* digits = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = digits[hash & 0xF];
        hash >>= 4;
    }
    return out;
}

// Metric labels stay a bounded set whatever methods clients invent.
std::string_view method_label(std::string_view method) {
    for (const auto known : known_methods) {
        if (known == method) {
            return known;
        }
    }
    return "other";
}

DispatchResult reply(const RpcMessage& message, std::string_view result_json) {
    DispatchResult result;
    result.response = rpc_result(message.id, result_json);
    return result;
}

DispatchResult fail(const RpcMessage& message, int code, std::string_view text,
                    std::string_view data_json = {}) {
    DispatchResult result;
    result.response = rpc_error_message(message.id, code, text, data_json);
    result.error_code = code;
    return result;
}

const rapidjson::Value* param(const RpcMessage& message, const char* name) {
    if (!message.params.IsObject()) {
        return nullptr;
    }
    const auto found = message.params.FindMember(name);
    return found == message.params.MemberEnd() ? nullptr : &found->value;
}

// Backend failures that are not the client's fault, as JSON-RPC errors.
DispatchResult backend_failure(const RpcMessage& message, const BackendError& error) {
    switch (error.kind) {
        case BackendError::Kind::unavailable:
            return fail(message, rpc_error::internal_error,
                        "The analytics database is not reachable right now; try again shortly.");
        case BackendError::Kind::busy:
            return fail(message, rpc_error::internal_error,
                        "The server is busy with other queries; try again shortly.");
        case BackendError::Kind::timeout:
            return fail(message, rpc_error::internal_error,
                        "The request took longer than the server allows and was stopped.");
        case BackendError::Kind::invalid_params:
        case BackendError::Kind::unknown_name:
            return fail(message, rpc_error::invalid_params, error.message);
        default:
            return fail(message, rpc_error::internal_error, "Internal error");
    }
}

constexpr const char* json_schema_2020_12 = "https://json-schema.org/draft/2020-12/schema";

// Removes what an older client's schema does not know, and names the JSON Schema dialect
// for 2026-07-28 clients (SEP-2106).
void shape_for_version(rapidjson::Value& item, std::string_view version, bool is_tool,
                       rapidjson::Document::AllocatorType& allocator, bool with_tasks) {
    if (!item.IsObject()) {
        return;
    }
    if (is_tool && is_modern_protocol_version(version)) {
        for (const char* key : {"inputSchema", "outputSchema"}) {
            auto schema = item.FindMember(key);
            if (schema != item.MemberEnd() && schema->value.IsObject() &&
                !schema->value.HasMember("$schema")) {
                rapidjson::Value dialect(json_schema_2020_12, allocator);
                schema->value.AddMember("$schema", dialect, allocator);
            }
        }
    }
    if (!supports_structured_output(version)) {
        item.RemoveMember("title");
        if (is_tool) {
            item.RemoveMember("outputSchema");
        }
    }
    if (is_tool && !supports_tool_annotations(version)) {
        item.RemoveMember("annotations");
    }
    if (!supports_icons(version)) {
        item.RemoveMember("icons");
    }
    if (is_tool && with_tasks && supports_experimental_tasks(version) && item.HasMember("name") &&
        item["name"].IsString() && task_tool(item["name"].GetString()) && !item.HasMember("execution")) {
        rapidjson::Value execution(rapidjson::kObjectType);
        execution.AddMember("taskSupport", "optional", allocator);
        item.AddMember("execution", execution, allocator);
    }
}

std::string tool_error_result(std::string_view text) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    writer.Key("content");
    writer.StartArray();
    writer.StartObject();
    write_key_string(writer, "type", "text");
    write_key_string(writer, "text", text);
    writer.EndObject();
    writer.EndArray();
    writer.Key("isError");
    writer.Bool(true);
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string in_flight_key(const std::string& session_id, const rapidjson::Value& id) {
    return session_id + '\n' + to_json(id);
}

McpDispatcher::McpDispatcher(McpBackend& backend, InFlightRequests& in_flight, Options options,
                             Metrics* metrics)
    : backend_(backend), in_flight_(in_flight), options_(std::move(options)), metrics_(metrics) {}

DispatchResult McpDispatcher::handle(const RpcMessage& message, DispatchContext& context) {
    if (metrics_ != nullptr && !message.method.empty()) {
        metrics_->rpc_request(method_label(message.method));
    }
    switch (message.kind) {
        case MessageKind::response:
            return {};  // we send no requests; a stray response needs no answer
        case MessageKind::notification:
            notification(message, context);
            return {};
        case MessageKind::invalid:
            return fail(message, message.error_code, message.error_message);
        case MessageKind::request:
            break;
    }
    if (context.stateless) {
        return handle_stateless(message, context);
    }
    // W3C trace context reaches the query log from any revision's requests.
    context.caller.traceparent = read_request_meta(message).traceparent;
    const std::string& method = message.method;
    if (method == "initialize") {
        return initialize(message, context);
    }
    if (method == "ping") {
        return reply(message, "{}");
    }
    if (method == "server/discover") {
        // Without 2026-07-28 _meta this is a dual-era client's probe (stdio): not found, so it
        // falls back to initialize, which this transport serves.
        return fail(message, rpc_error::method_not_found,
                    "Method not found: server/discover needs 2026-07-28 request _meta; "
                    "initialize starts a session");
    }
    if (!context.has_session) {
        return fail(message, rpc_error::invalid_request,
                    "Invalid Request: send initialize before " + utf8_prefix(method, 100));
    }
    if (method == "logging/setLevel") {
        return set_level(message, context);
    }
    if (tasks_ != nullptr && supports_experimental_tasks(context.protocol_version) &&
        (method == "tasks/get" || method == "tasks/result" || method == "tasks/cancel")) {
        return legacy_task_method(message, context);
    }
    if (method == "resources/subscribe" || method == "resources/unsubscribe") {
        return subscribe(message, context, method == "resources/subscribe");
    }
    return dispatch(message, context);
}

// The methods both eras share.
DispatchResult McpDispatcher::dispatch(const RpcMessage& message, DispatchContext& context) {
    const std::string& method = message.method;
    int code = 0;
    std::string text;
    auto list = [&](BackendResult listed, const char* key) {
        if (!listed.ok()) {
            return backend_failure(message, listed.error);
        }
        std::string page = list_page(message, listed, key, context, code, text);
        return code != 0 ? fail(message, code, text) : reply(message, page);
    };
    if (method == "tools/list") {
        return list(backend_.list_tools(context.caller), "tools");
    }
    if (method == "tools/call") {
        return call_tool(message, context);
    }
    if (method == "resources/list") {
        return list(backend_.list_resources(context.caller), "resources");
    }
    if (method == "resources/templates/list") {
        return list(backend_.list_resource_templates(context.caller), "resourceTemplates");
    }
    if (method == "resources/read") {
        return read_resource(message, context);
    }
    if (method == "prompts/list") {
        return list(backend_.list_prompts(context.caller), "prompts");
    }
    if (method == "prompts/get") {
        return get_prompt(message, context);
    }
    if (method == "completion/complete") {
        return complete(message, context);
    }
    return fail(message, rpc_error::method_not_found, "Method not found: " + utf8_prefix(method, 100));
}

DispatchResult McpDispatcher::initialize(const RpcMessage& message, DispatchContext& context) {
    if (context.has_session) {
        return fail(message, rpc_error::invalid_request,
                    "Invalid Request: the session is already initialized");
    }
    if (context.in_batch) {
        return fail(message, rpc_error::invalid_request,
                    "Invalid Request: initialize cannot be part of a batch");
    }
    const rapidjson::Value* requested = param(message, "protocolVersion");
    if (requested == nullptr || !requested->IsString()) {
        return fail(message, rpc_error::invalid_params,
                    "Invalid params: protocolVersion (a string) is required");
    }
    const std::string version = negotiate_protocol_version(requested->GetString());
    NewSession session;
    session.protocol_version = version;
    session.user_agent = context.caller.user_agent;
    session.transport = context.transport;
    const rapidjson::Value* client_info = param(message, "clientInfo");
    if (client_info != nullptr && client_info->IsObject()) {
        session.client_info_json = to_json(*client_info);
        context.caller.client_name = string_member(*client_info, "name");
        context.caller.client_version = string_member(*client_info, "version");
    }
    const rapidjson::Value* capabilities = param(message, "capabilities");
    if (capabilities != nullptr && capabilities->IsObject()) {
        session.capabilities_json = to_json(*capabilities);
    }
    const auto id = backend_.open_session(context.caller.identity, session);
    if (!id) {
        return fail(message, rpc_error::internal_error,
                    "The analytics database is not reachable right now; try again shortly.");
    }
    context.has_session = true;
    context.protocol_version = version;
    context.caller.session_id = *id;

    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "protocolVersion", version);
    writer.Key("capabilities");
    // Only what is implemented: list_changed is sent for tools and resources on hot reload,
    // resources/updated to subscribers when a dataset changes; logging/setLevel and
    // completion/complete are answered. Prompts do not change with datasets.
    write_raw(writer,
              tasks_ != nullptr && supports_experimental_tasks(version)
                  ? R"({"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},)"
                    R"("prompts":{"listChanged":false},"logging":{},"completions":{},)"
                    R"("tasks":{"cancel":{},"requests":{"tools":{"call":{}}}}})"
                  : R"({"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},)"
                    R"("prompts":{"listChanged":false},"logging":{},"completions":{}})");
    writer.Key("serverInfo");
    writer.StartObject();
    write_key_string(writer, "name", options_.server.name);
    if (supports_structured_output(version)) {
        write_key_string(writer, "title", options_.server.title);
    }
    write_key_string(writer, "version", options_.server.version);
    writer.EndObject();
    write_key_string(writer, "instructions", options_.server.instructions);
    writer.EndObject();

    DispatchResult result = reply(message, std::string_view(buffer.GetString(), buffer.GetSize()));
    result.new_session_id = *id;
    result.negotiated_version = version;
    return result;
}

std::string McpDispatcher::list_page(const RpcMessage& message, const BackendResult& listed,
                                     const char* key, const DispatchContext& context,
                                     int& error_code, std::string& error_text) {
    std::size_t offset = 0;
    if (const rapidjson::Value* cursor = param(message, "cursor");
        cursor != nullptr && !cursor->IsNull()) {
        // Cursors are opaque to clients; ours is the offset of the next page.
        const std::string text = cursor->IsString() ? cursor->GetString() : "";
        const bool digits = !text.empty() && text.size() <= 9 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits) {
            error_code = rpc_error::invalid_params;
            error_text = "Invalid params: unknown cursor";
            return {};
        }
        offset = std::stoul(text);
    }
    auto items = parse_json(listed.json);
    if (!items || !items->IsArray()) {
        error_code = rpc_error::internal_error;
        error_text = "Internal error";
        return {};
    }
    const std::size_t total = items->Size();
    if (offset > total) {
        error_code = rpc_error::invalid_params;
        error_text = "Invalid params: unknown cursor";
        return {};
    }
    const bool is_tool = std::string_view(key) == "tools";
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    writer.Key(key);
    writer.StartArray();
    const std::size_t end = std::min(total, offset + options_.page_size);
    for (std::size_t i = offset; i < end; ++i) {
        auto& item = (*items)[static_cast<rapidjson::SizeType>(i)];
        shape_for_version(item, context.protocol_version, is_tool, items->GetAllocator(),
                          tasks_ != nullptr);
        item.Accept(writer);
    }
    writer.EndArray();
    if (end < total) {
        write_key_string(writer, "nextCursor", std::to_string(end));
    }
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

DispatchResult McpDispatcher::call_tool(const RpcMessage& message, DispatchContext& context) {
    const rapidjson::Value* name = param(message, "name");
    if (name == nullptr || !name->IsString()) {
        return fail(message, rpc_error::invalid_params, "Invalid params: name (a string) is required");
    }
    const rapidjson::Value* arguments = param(message, "arguments");
    if (arguments != nullptr && !arguments->IsNull() && !arguments->IsObject()) {
        return fail(message, rpc_error::invalid_params, "Invalid params: arguments must be an object");
    }
    const std::string tool(name->GetString(), name->GetStringLength());
    const std::string args_json =
        arguments != nullptr && arguments->IsObject() ? to_json(*arguments) : "{}";
    if (!context.stateless && param(message, "task") != nullptr &&
        supports_experimental_tasks(context.protocol_version) && tasks_ != nullptr) {
        return start_legacy_task(message, context, tool, args_json);
    }

    const std::string key = in_flight_key(context.caller.session_id, message.id);
    const auto token = in_flight_.begin(key);
    const auto started = Clock::now();
    BackendResult called = backend_.call_tool(context.caller, tool, args_json, *token);
    in_flight_.end(key, token);
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

    DispatchResult result;
    std::string outcome = "ok";
    const bool known = called.error.kind != BackendError::Kind::unknown_name;
    if (token->cancelled() || called.error.kind == BackendError::Kind::cancelled) {
        // The client gave up on it; it gets no response (the cancellation rules).
        result.cancelled = true;
        outcome = "cancelled";
    } else if (!known) {
        result = fail(message, rpc_error::invalid_params,
                      "Unknown tool: " + utf8_prefix(tool, 128));
        outcome = "rejected";
    } else if (called.error.kind == BackendError::Kind::timeout ||
               called.error.kind == BackendError::Kind::unavailable ||
               called.error.kind == BackendError::Kind::busy) {
        // Failures the model can react to (retry, narrow the query) are tool results.
        const char* text =
            called.error.kind == BackendError::Kind::timeout
                ? "Error: the tool took longer than the server allows and was stopped. "
                  "Narrow the query (filters, aggregation, LIMIT) and try again."
            : called.error.kind == BackendError::Kind::busy
                ? "Error: the server is busy with other queries; try again in a few seconds."
                : "Error: the analytics database is not reachable right now; try again shortly.";
        result = reply(message, tool_error_result(text));
        outcome = "error";
    } else if (!called.ok()) {
        result = backend_failure(message, called.error);
        outcome = "rejected";
    } else if (supports_structured_output(context.protocol_version)) {
        // Passed through as the database wrote it: a large result is not parsed again.
        result = reply(message, called.json);
        outcome = called.tool_error ? "error" : "ok";
    } else {
        auto document = parse_json(called.json);
        if (!document || !document->IsObject()) {
            result = fail(message, rpc_error::internal_error, "Internal error");
            outcome = "error";
        } else {
            document->RemoveMember("structuredContent");
            result = reply(message, to_json(*document));
            outcome = called.tool_error ? "error" : "ok";
        }
    }
    result.tool = known ? tool : "unknown";
    if (called.ok()) {
        result.insufficient_scope = called.insufficient_scope;
    }
    if (metrics_ != nullptr) {
        metrics_->tool_call(known && tool.size() <= 128 ? tool : "unknown", outcome, seconds);
    }
    return result;
}

DispatchResult McpDispatcher::read_resource(const RpcMessage& message, DispatchContext& context) {
    const rapidjson::Value* uri = param(message, "uri");
    if (uri == nullptr || !uri->IsString()) {
        return fail(message, rpc_error::invalid_params, "Invalid params: uri (a string) is required");
    }
    const std::string_view wanted(uri->GetString(), uri->GetStringLength());
    BackendResult read = backend_.read_resource(context.caller, wanted);
    if (read.error.kind == BackendError::Kind::not_found) {
        rapidjson::StringBuffer buffer;
        JsonWriter writer(buffer);
        writer.StartObject();
        write_key_string(writer, "uri", wanted);
        writer.EndObject();
        // 2026-07-28 renumbered it to Invalid params.
        return fail(message,
                    context.stateless ? rpc_error::invalid_params : rpc_error::resource_not_found,
                    "Resource not found", std::string_view(buffer.GetString(), buffer.GetSize()));
    }
    if (!read.ok()) {
        return backend_failure(message, read.error);
    }
    return reply(message, read.json);
}

DispatchResult McpDispatcher::get_prompt(const RpcMessage& message, DispatchContext& context) {
    const rapidjson::Value* name = param(message, "name");
    if (name == nullptr || !name->IsString()) {
        return fail(message, rpc_error::invalid_params, "Invalid params: name (a string) is required");
    }
    const rapidjson::Value* arguments = param(message, "arguments");
    std::string args_json = "{}";
    if (arguments != nullptr && !arguments->IsNull()) {
        bool strings_only = arguments->IsObject();
        if (strings_only) {
            for (const auto& member : arguments->GetObject()) {
                strings_only = strings_only && member.value.IsString();
            }
        }
        if (!strings_only) {
            return fail(message, rpc_error::invalid_params,
                        "Invalid params: arguments must be an object of strings");
        }
        args_json = to_json(*arguments);
    }
    BackendResult got = backend_.get_prompt(context.caller, name->GetString(), args_json);
    if (!got.ok()) {
        return backend_failure(message, got.error);
    }
    return reply(message, got.json);
}

DispatchResult McpDispatcher::set_level(const RpcMessage& message, DispatchContext& context) {
    const rapidjson::Value* level = param(message, "level");
    const std::string_view wanted =
        level != nullptr && level->IsString() ? level->GetString() : std::string_view();
    bool valid = false;
    for (const auto known : log_levels) {
        valid = valid || known == wanted;
    }
    if (!valid) {
        return fail(message, rpc_error::invalid_params,
                    "Invalid params: level must be one of debug, info, notice, warning, error, "
                    "critical, alert, emergency");
    }
    backend_.update_session(context.caller.session_id, context.caller.identity, std::nullopt,
                            std::string(wanted));
    return reply(message, "{}");
}

DispatchResult McpDispatcher::complete(const RpcMessage& message, DispatchContext& context) {
    const rapidjson::Value* ref = param(message, "ref");
    const rapidjson::Value* argument = param(message, "argument");
    if (ref == nullptr || !ref->IsObject() || !ref->HasMember("type") ||
        !(*ref)["type"].IsString()) {
        return fail(message, rpc_error::invalid_params,
                    "Invalid params: ref must be {type: \"ref/prompt\", name} or "
                    "{type: \"ref/resource\", uri}");
    }
    const bool names_string = argument != nullptr && argument->IsObject() &&
                              argument->HasMember("name") && (*argument)["name"].IsString();
    const auto value = names_string ? argument->FindMember("value") : rapidjson::Value::ConstMemberIterator();
    if (!names_string || value == argument->MemberEnd() || !value->value.IsString()) {
        return fail(message, rpc_error::invalid_params,
                    "Invalid params: argument must be {name, value} with string values");
    }
    std::string context_json = "{}";
    if (const rapidjson::Value* given = param(message, "context"); given != nullptr && !given->IsNull()) {
        if (!given->IsObject()) {
            return fail(message, rpc_error::invalid_params,
                        "Invalid params: context must be an object {arguments}");
        }
        context_json = to_json(*given);
    }
    BackendResult completed =
        backend_.complete(context.caller, to_json(*ref), to_json(*argument), context_json);
    if (!completed.ok()) {
        return backend_failure(message, completed.error);
    }
    return reply(message, completed.json);
}

DispatchResult McpDispatcher::subscribe(const RpcMessage& message, DispatchContext& context,
                                        bool subscribed) {
    const rapidjson::Value* uri = param(message, "uri");
    if (uri == nullptr || !uri->IsString()) {
        return fail(message, rpc_error::invalid_params, "Invalid params: uri (a string) is required");
    }
    if (context.caller.session_id.empty()) {
        // Updates travel on a session's stream; stdio and HTTP sessions have one.
        return fail(message, rpc_error::invalid_request,
                    "Invalid Request: resources/subscribe needs a session");
    }
    BackendResult done = backend_.subscribe_resource(
        context.caller, std::string_view(uri->GetString(), uri->GetStringLength()), subscribed);
    if (!done.ok()) {
        return backend_failure(message, done.error);
    }
    if (done.json != "true") {
        return fail(message, rpc_error::invalid_request, "Invalid Request: the session has ended");
    }
    return reply(message, "{}");
}

void McpDispatcher::notification(const RpcMessage& message, DispatchContext& context) {
    if (!context.has_session) {
        return;
    }
    if (message.method == "notifications/initialized") {
        backend_.update_session(context.caller.session_id, context.caller.identity, true,
                                std::nullopt);
    } else if (message.method == "notifications/cancelled") {
        const rapidjson::Value* request_id = param(message, "requestId");
        if (request_id != nullptr && (request_id->IsString() || request_id->IsInt64())) {
            // Unknown or finished ids are ignored, as the protocol asks.
            in_flight_.cancel(in_flight_key(context.caller.session_id, *request_id));
        }
    }
}

// 2026-07-28 -------------------------------------------------------------------------------

DispatchResult McpDispatcher::handle_stateless(const RpcMessage& message,
                                               DispatchContext& context) {
    const RequestMeta meta = read_request_meta(message);
    if (!meta.problem.empty()) {
        return fail(message, rpc_error::invalid_params, "Invalid params: " + meta.problem);
    }
    context.caller.client_name = meta.client_name;
    context.caller.client_version = meta.client_version;
    context.caller.traceparent = meta.traceparent;
    const std::string& method = message.method;
    if (method == "server/discover") {
        return discover(message);
    }
    if (std::find(session_only_methods.begin(), session_only_methods.end(), method) !=
        session_only_methods.end()) {
        return fail(message, rpc_error::method_not_found,
                    "Method not found: " + method + " is not part of protocol version " +
                        context.protocol_version +
                        " (state travels in each request's _meta; use subscriptions/listen for "
                        "notifications)");
    }
    DispatchResult result;
    bool decided = false;
    if (method == "tools/call") {
        const rapidjson::Value* name = param(message, "name");
        if (name != nullptr && name->IsString()) {
            // A confirmation round trip comes first, then (maybe) a task: the protocol wants
            // multi round-trips settled before a task exists.
            if (auto asked = confirm_expensive(message, meta, name->GetString())) {
                return std::move(*asked);
            }
            if (auto task = start_task(message, context, meta, name->GetString())) {
                return std::move(*task);
            }
        }
    } else if (method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel") {
        if (tasks_ == nullptr) {
            return fail(message, rpc_error::method_not_found, "Method not found: " + method);
        }
        result = task_method(message, context);
        decided = true;
    }
    if (!decided) {
        result = dispatch(message, context);
    }
    if (!result.response || result.error_code != 0) {
        return result;
    }
    // Every result says it is complete and who answered; lists and reads say how long they
    // stay fresh (they are per key, so private).
    std::string members = R"("resultType":"complete")";
    const bool cacheable = method == "tools/list" || method == "resources/list" ||
                           method == "resources/templates/list" || method == "prompts/list" ||
                           method == "resources/read";
    if (cacheable) {
        members += ",\"ttlMs\":" +
                   std::to_string(method == "resources/read" ? options_.read_ttl_ms
                                                              : options_.list_ttl_ms) +
                   ",\"cacheScope\":\"private\"";
    }
    {
        rapidjson::StringBuffer buffer;
        JsonWriter writer(buffer);
        writer.StartObject();
        writer.Key(meta_key::server_info);
        writer.StartObject();
        write_key_string(writer, "name", options_.server.name);
        write_key_string(writer, "title", options_.server.title);
        write_key_string(writer, "version", options_.server.version);
        writer.EndObject();
        writer.EndObject();
        members += ",\"_meta\":";
        members.append(buffer.GetString(), buffer.GetSize());
    }
    // The response is {"jsonrpc":"2.0","id":…,"result":{…}}: the result starts where an
    // empty one would, so it is extended without parsing it again.
    const std::size_t result_at = rpc_result(message.id, "{}").size() - 3;
    std::string& response = *result.response;
    response = response.substr(0, result_at) +
               add_result_members(std::string_view(response).substr(result_at), members);
    return result;
}

DispatchResult McpDispatcher::discover(const RpcMessage& message) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "resultType", "complete");
    writer.Key("supportedVersions");
    write_raw(writer, supported_versions_json());
    writer.Key("capabilities");
    write_raw(writer,
              tasks_ != nullptr
                  ? R"({"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},)"
                    R"("prompts":{"listChanged":false},"completions":{},)"
                    R"("extensions":{"io.modelcontextprotocol/tasks":{}}})"
                  : R"({"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},)"
                    R"("prompts":{"listChanged":false},"completions":{}})");
    writer.Key("_meta");
    writer.StartObject();
    writer.Key(meta_key::server_info);
    writer.StartObject();
    write_key_string(writer, "name", options_.server.name);
    write_key_string(writer, "title", options_.server.title);
    write_key_string(writer, "version", options_.server.version);
    writer.EndObject();
    writer.EndObject();
    write_key_string(writer, "instructions", options_.server.instructions);
    writer.Key("ttlMs");
    writer.Uint(3'600'000);
    write_key_string(writer, "cacheScope", "public");
    writer.EndObject();
    return reply(message, std::string_view(buffer.GetString(), buffer.GetSize()));
}

std::optional<DispatchResult> McpDispatcher::confirm_expensive(const RpcMessage& message,
                                                               const RequestMeta& meta,
                                                               const std::string& tool) {
    if (tool != "execute_multi_query") {
        return std::nullopt;
    }
    const rapidjson::Value* arguments = param(message, "arguments");
    if (arguments == nullptr || !arguments->IsObject()) {
        return std::nullopt;
    }
    const auto queries = arguments->FindMember("queries");
    if (queries == arguments->MemberEnd() || !queries->value.IsArray() ||
        queries->value.Size() <= options_.confirm_queries_over) {
        return std::nullopt;
    }
    // Only a client that can show a form is asked (the protocol forbids asking others).
    const auto capabilities = parse_json(meta.client_capabilities_json);
    if (!capabilities || !capabilities->IsObject() || !capabilities->HasMember("elicitation")) {
        return std::nullopt;
    }
    // The state binds the answer to these arguments: a confirmation of another call does
    // not count. It needs no secret: forging it only skips a question the client answers.
    const std::string state = fingerprint(to_json(*arguments));
    const std::size_t count = queries->value.Size();
    const rapidjson::Value* echoed = param(message, "requestState");
    const rapidjson::Value* responses = param(message, "inputResponses");
    if (echoed != nullptr && echoed->IsString() && state == echoed->GetString() &&
        responses != nullptr && responses->IsObject() && responses->HasMember("confirm") &&
        (*responses)["confirm"].IsObject()) {
        const rapidjson::Value& answer = (*responses)["confirm"];
        const bool accepted = string_member(answer, "action") == "accept" &&
                              answer.HasMember("content") && answer["content"].IsObject() &&
                              answer["content"].HasMember("confirm") &&
                              answer["content"]["confirm"].IsBool() &&
                              answer["content"]["confirm"].GetBool();
        if (accepted) {
            return std::nullopt;
        }
        DispatchResult declined = reply(
            message, add_result_members(
                         tool_error_result("Not run: running " + std::to_string(count) +
                                           " queries was not confirmed. Ask fewer queries, or "
                                           "confirm when asked."),
                         R"("resultType":"complete")"));
        declined.tool = tool;
        return declined;
    }
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "resultType", "input_required");
    writer.Key("inputRequests");
    writer.StartObject();
    writer.Key("confirm");
    writer.StartObject();
    write_key_string(writer, "method", "elicitation/create");
    writer.Key("params");
    writer.StartObject();
    write_key_string(writer, "mode", "form");
    write_key_string(writer, "message",
                     "Run " + std::to_string(count) +
                         " queries at once? Each one scans a dataset; together they can take "
                         "a while and load the databases.");
    writer.Key("requestedSchema");
    write_raw(writer,
              R"({"type":"object","properties":{"confirm":{"type":"boolean","title":"Run them",)"
              R"("description":"Yes to run every query"}},"required":["confirm"]})");
    writer.EndObject();
    writer.EndObject();
    writer.EndObject();
    write_key_string(writer, "requestState", state);
    writer.EndObject();
    DispatchResult asked = reply(message, std::string_view(buffer.GetString(), buffer.GetSize()));
    asked.tool = tool;
    return asked;
}

std::optional<DispatchResult> McpDispatcher::start_task(const RpcMessage& message,
                                                        DispatchContext& context,
                                                        const RequestMeta& meta,
                                                        const std::string& tool) {
    if (tasks_ == nullptr || !task_tool(tool) || !tasks_->has_room()) {
        return std::nullopt;
    }
    // Only for a client that declared the extension in this request's capabilities.
    const auto capabilities = parse_json(meta.client_capabilities_json);
    if (!capabilities || !capabilities->IsObject() || !capabilities->HasMember("extensions") ||
        !(*capabilities)["extensions"].IsObject() ||
        !(*capabilities)["extensions"].HasMember(tasks_extension)) {
        return std::nullopt;
    }
    const rapidjson::Value* arguments = param(message, "arguments");
    if (arguments != nullptr && !arguments->IsNull() && !arguments->IsObject()) {
        return fail(message, rpc_error::invalid_params, "Invalid params: arguments must be an object");
    }
    const std::string args_json =
        arguments != nullptr && arguments->IsObject() ? to_json(*arguments) : "{}";
    BackendResult created = backend_.create_task(context.caller, tool, args_json);
    if (created.error.kind == BackendError::Kind::unknown_name) {
        return fail(message, rpc_error::invalid_params, "Unknown tool: " + utf8_prefix(tool, 128));
    }
    if (!created.ok()) {
        return backend_failure(message, created.error);
    }
    const auto task = parse_json(created.json);
    const std::string id = task && task->IsObject() ? string_member(*task, "taskId") : "";
    if (id.empty() || !tasks_->start(context.caller, id)) {
        // Stored but not started (the runner filled up meanwhile): it stays queued and
        // expires; the client is told the truth by tasks/get.
        if (id.empty()) {
            return fail(message, rpc_error::internal_error, "Internal error");
        }
    }
    DispatchResult result = reply(message, add_result_members(created.json, R"("resultType":"task")"));
    result.tool = tool;
    if (metrics_ != nullptr) {
        metrics_->tool_call(tool, "task", 0.0);
    }
    return result;
}

DispatchResult McpDispatcher::task_method(const RpcMessage& message, DispatchContext& context) {
    const rapidjson::Value* id = param(message, "taskId");
    if (id == nullptr || !id->IsString() || id->GetStringLength() != 32) {
        return fail(message, rpc_error::invalid_params,
                    "Invalid params: taskId (the handle a task result gave) is required");
    }
    const std::string task_id(id->GetString(), id->GetStringLength());
    if (task_id.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return fail(message, rpc_error::invalid_params, "Invalid params: unknown task");
    }
    if (message.method == "tasks/get" || message.method == "tasks/update") {
        BackendResult found = backend_.get_task(context.caller, task_id);
        if (found.error.kind == BackendError::Kind::not_found) {
            return fail(message, rpc_error::invalid_params, "Invalid params: unknown task");
        }
        if (!found.ok()) {
            return backend_failure(message, found.error);
        }
        // Our tasks never ask for input, so an update has nothing to apply: acknowledged.
        return reply(message, message.method == "tasks/get" ? found.json : std::string("{}"));
    }
    BackendResult cancelled = backend_.cancel_task(context.caller, task_id);
    if (!cancelled.ok()) {
        return backend_failure(message, cancelled.error);
    }
    if (cancelled.json != "true") {
        return fail(message, rpc_error::invalid_params, "Invalid params: unknown task");
    }
    return reply(message, "{}");
}

namespace {

// A stored task as 2025-11-25 shows it: ttl and pollInterval instead of ttlMs and
// pollIntervalMs, and never the result or error inline (tasks/result gives those).
std::string legacy_task_json(const rapidjson::Value& task) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    for (const auto& member : task.GetObject()) {
        const std::string_view key(member.name.GetString(), member.name.GetStringLength());
        if (key == "result" || key == "error" || key == "resultType") {
            continue;
        }
        writer.Key(key == "ttlMs" ? "ttl" : key == "pollIntervalMs" ? "pollInterval" : member.name.GetString());
        member.value.Accept(writer);
    }
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

DispatchResult McpDispatcher::start_legacy_task(const RpcMessage& message, DispatchContext& context,
                                                const std::string& tool,
                                                const std::string& args_json) {
    const rapidjson::Value* task = param(message, "task");
    if (!task->IsObject()) {
        return fail(message, rpc_error::invalid_params, "Invalid params: task must be an object {ttl?}");
    }
    if (!task_tool(tool)) {
        // The protocol's answer for a tool whose execution.taskSupport is not declared.
        return fail(message, rpc_error::method_not_found,
                    "Method not found: " + utf8_prefix(tool, 128) + " does not run as a task");
    }
    if (!tasks_->has_room()) {
        return fail(message, rpc_error::internal_error,
                    "The server is running as many tasks as it allows; try again shortly.");
    }
    BackendResult created = backend_.create_task(context.caller, tool, args_json);
    if (!created.ok()) {
        return backend_failure(message, created.error);
    }
    const auto parsed = parse_json(created.json);
    const std::string id = parsed && parsed->IsObject() ? string_member(*parsed, "taskId") : "";
    if (id.empty()) {
        return fail(message, rpc_error::internal_error, "Internal error");
    }
    tasks_->start(context.caller, id);
    DispatchResult result = reply(message, "{\"task\":" + legacy_task_json(*parsed) + "}");
    result.tool = tool;
    if (metrics_ != nullptr) {
        metrics_->tool_call(tool, "task", 0.0);
    }
    return result;
}

DispatchResult McpDispatcher::legacy_task_method(const RpcMessage& message, DispatchContext& context) {
    const rapidjson::Value* id = param(message, "taskId");
    const bool well_formed = id != nullptr && id->IsString() && id->GetStringLength() == 32 &&
                             std::string_view(id->GetString()).find_first_not_of("0123456789abcdef") ==
                                 std::string_view::npos;
    if (!well_formed) {
        return fail(message, rpc_error::invalid_params, "Invalid params: unknown taskId");
    }
    const std::string task_id(id->GetString(), id->GetStringLength());
    auto load = [&](BackendResult& found) -> std::optional<rapidjson::Document> {
        found = backend_.get_task(context.caller, task_id);
        if (!found.ok()) {
            return std::nullopt;
        }
        auto parsed = parse_json(found.json);
        if (!parsed || !parsed->IsObject()) {
            found.error.kind = BackendError::Kind::internal;
            return std::nullopt;
        }
        return parsed;
    };
    auto failed = [&](const BackendResult& found) {
        return found.error.kind == BackendError::Kind::not_found
                   ? fail(message, rpc_error::invalid_params, "Invalid params: unknown taskId")
                   : backend_failure(message, found.error);
    };
    BackendResult found;
    auto task = load(found);
    if (!task) {
        return failed(found);
    }
    const auto terminal = [](const rapidjson::Document& t) {
        const std::string status = string_member(t, "status");
        return status == "completed" || status == "failed" || status == "cancelled";
    };
    if (message.method == "tasks/get") {
        return reply(message, legacy_task_json(*task));
    }
    if (message.method == "tasks/cancel") {
        if (terminal(*task)) {
            return fail(message, rpc_error::invalid_params,
                        "Invalid params: the task has already ended (" + string_member(*task, "status") + ")");
        }
        BackendResult cancelled = backend_.cancel_task(context.caller, task_id);
        if (!cancelled.ok()) {
            return backend_failure(message, cancelled.error);
        }
        // The cancel is recorded at once; the SQL stops and run_task writes the status.
        rapidjson::Document shown;
        shown.CopyFrom(*task, shown.GetAllocator());
        shown["status"].SetString("cancelled", shown.GetAllocator());
        if (shown.HasMember("statusMessage")) {
            shown["statusMessage"].SetString("The task was cancelled by request.", shown.GetAllocator());
        }
        return reply(message, legacy_task_json(shown));
    }
    // tasks/result waits for the end (polling the stored task: any bridge may be running it).
    const auto deadline = Clock::now() + options_.task_result_wait;
    while (!terminal(*task) && Clock::now() < deadline) {
        options_.pause(options_.task_result_poll);
        task = load(found);
        if (!task) {
            return failed(found);
        }
    }
    const std::string status = string_member(*task, "status");
    const std::string related = std::string(R"("_meta":{"io.modelcontextprotocol/related-task":{"taskId":")") +
                                task_id + "\"}}";
    if (status == "completed" && task->HasMember("result") && (*task)["result"].IsObject()) {
        return reply(message, add_result_members(to_json((*task)["result"]), related));
    }
    if (status == "failed") {
        return fail(message, rpc_error::internal_error, "The task failed: " +
                    (task->HasMember("error") && (*task)["error"].IsObject()
                         ? string_member((*task)["error"], "message") : std::string("unknown error")));
    }
    if (status == "cancelled") {
        return fail(message, rpc_error::internal_error, "The task was cancelled.");
    }
    if (status == "completed") {
        return fail(message, rpc_error::internal_error, "Internal error: the task kept no result");
    }
    return fail(message, rpc_error::internal_error,
                "The task is still running; ask tasks/result again, or poll tasks/get.");
}

}  // namespace mcp::bridge
