// libFuzzer target: the JSON-RPC entry of the bridge (body parsing, message validation and
// the MCP method dispatch) on arbitrary bytes, with a backend that needs no database. Built
// by `make fuzz` with clang and AddressSanitizer + UBSan; any crash, leak or undefined
// behaviour is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "json.hpp"
#include "mcp_dispatch.hpp"
#include "mcp_protocol.hpp"
#include "metrics.hpp"

namespace {

using namespace mcp::bridge;

// Answers like the SQL backend would (its JSON comes from jsonb, so it is always valid),
// echoing what it was given so that the dispatcher's handling of backend output is exercised.
class EchoBackend final : public McpBackend {
public:
    BackendResult list_tools(const CallerContext&) override {
        return {R"([{"name":"t","title":"T","description":"d","inputSchema":{"type":"object"},)"
                R"("outputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}])",
                {}};
    }
    BackendResult list_resources(const CallerContext&) override { return {R"([{"uri":"u","name":"n"}])", {}}; }
    BackendResult list_resource_templates(const CallerContext&) override { return {"[]", {}}; }
    BackendResult list_prompts(const CallerContext&) override { return {R"([{"name":"p"}])", {}}; }
    BackendResult call_tool(const CallerContext&, std::string_view name, std::string_view arguments,
                            CancelToken&) override {
        if (name == "t") {
            return {R"({"content":[{"type":"text","text":"x"}],"structuredContent":)" + std::string(arguments) +
                        R"(,"isError":false})",
                    {}};
        }
        return {{}, {BackendError::Kind::unknown_name, "Unknown tool"}};
    }
    BackendResult read_resource(const CallerContext&, std::string_view uri) override {
        if (uri == "u") {
            return {R"({"contents":[]})", {}};
        }
        return {{}, {BackendError::Kind::not_found, {}}};
    }
    BackendResult get_prompt(const CallerContext&, std::string_view name, std::string_view) override {
        if (name == "p") {
            return {R"({"messages":[]})", {}};
        }
        return {{}, {BackendError::Kind::invalid_params, "no"}};
    }
    BackendResult complete(const CallerContext&, std::string_view, std::string_view,
                           std::string_view) override {
        return {R"({"completion":{"values":["1"],"total":1,"hasMore":false}})", {}};
    }
    BackendResult subscribe_resource(const CallerContext&, std::string_view uri, bool) override {
        if (uri == "u") {
            return {"true", {}};
        }
        return {{}, {BackendError::Kind::invalid_params, "no"}};
    }
    BackendResult create_task(const CallerContext&, std::string_view, std::string_view) override {
        return {R"({"taskId":"0123456789abcdef0123456789abcdef","status":"working"})", {}};
    }
    BackendResult run_task(const CallerContext&, std::string_view) override { return {"completed", {}}; }
    BackendResult get_task(const CallerContext&, std::string_view) override {
        return {{}, {BackendError::Kind::not_found, {}}};
    }
    BackendResult cancel_task(const CallerContext&, std::string_view) override { return {"false", {}}; }
    std::optional<std::string> open_session(const Identity&, const NewSession&) override {
        return std::string(64, 'a');
    }
    SessionLookup resume_session(std::string_view, const Identity&, SessionRecord&) override {
        return SessionLookup::found;
    }
    bool update_session(std::string_view, const Identity&, std::optional<bool>,
                        std::optional<std::string>) override {
        return true;
    }
    SessionLookup close_session(std::string_view, const Identity&) override { return SessionLookup::found; }
};

void check_line(const std::string& message) {
    // Every answer is one line of valid JSON: anything else breaks SSE and stdio framing.
    if (message.find('\n') != std::string::npos || !parse_json(message)) {
        __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static EchoBackend backend;
    static InFlightRequests in_flight;
    static Metrics metrics;
    static McpDispatcher dispatcher(backend, in_flight, McpDispatcher::Options{2, ServerInfo{}}, &metrics);

    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const ParsedBody body = parse_body(text);
    if (body.parse_error) {
        return 0;
    }
    // Once as a fresh connection (before initialize), once inside an established session of
    // an old and of a current protocol version.
    for (const char* version : {"", "2024-11-05", "2025-11-25"}) {
        DispatchContext context;
        context.has_session = *version != '\0';
        context.protocol_version = version;
        context.caller.session_id = std::string(64, 'b');
        context.in_batch = body.batch;
        for (const RpcMessage& message : body.messages) {
            const DispatchResult result = dispatcher.handle(message, context);
            if (result.response) {
                check_line(*result.response);
            }
        }
    }
    return 0;
}
