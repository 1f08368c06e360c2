#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "cancel_token.hpp"
#include "mcp_backend.hpp"
#include "mcp_modern.hpp"
#include "mcp_protocol.hpp"

namespace mcp::bridge {

class Metrics;
class TaskRunner;

struct ServerInfo {
    std::string name = "mcp-analytics";
    std::string title = "mcp_analytics";
    std::string version = "0.4.0";
    std::string instructions =
        "Analytics over consumer-panel datasets. Start with get_global_context (house rules: "
        "weighted figures, at most five raw rows) and list_datasets, then describe_dataset "
        "before writing SQL for execute_query.";
};

// The state of one conversation as the dispatcher sees it; the transport loads it (from the
// Mcp-Session-Id, or the stdio process) before each message.
struct DispatchContext {
    CallerContext caller;            // identity, session id, client name and version
    std::string protocol_version;    // negotiated; empty before initialize
    bool has_session = false;
    bool in_batch = false;
    std::string transport = "http";
    // 2026-07-28: no session; the request's _meta says the version (the transport checked it).
    bool stateless = false;
};

struct DispatchResult {
    std::optional<std::string> response;  // a JSON-RPC response, when one is due
    // Set when an initialize created a session: the transport announces it.
    std::optional<std::string> new_session_id;
    std::string negotiated_version;
    // What the request log and the metrics say about it.
    std::string tool;
    bool cancelled = false;
    // A tool call refused for want of an OAuth scope: the scopes to ask for (HTTP step-up).
    std::string insufficient_scope = {};
    int error_code = 0;  // the JSON-RPC error code when the response is an error
};

// Serves MCP methods over any transport. Stateless itself: sessions live in the backend
// (the metadata database), so any bridge can answer any message of a session.
class McpDispatcher {
public:
    struct Options {
        std::size_t page_size = 100;  // items per tools/list, resources/list … page
        ServerInfo server;
        // 2026-07-28 clients able to answer an elicitation confirm an execute_multi_query of
        // more queries than this before it runs (an input_required round trip).
        std::size_t confirm_queries_over = 10;
        // Freshness hints of list and read results (ttlMs) for 2026-07-28 clients.
        unsigned list_ttl_ms = 60'000;
        unsigned read_ttl_ms = 30'000;
        // How long tasks/result (2025-11-25) waits for a task to end, and how often it looks.
        std::chrono::milliseconds task_result_wait{55'000};
        std::chrono::milliseconds task_result_poll{200};
        // How it pauses between looks: the bridge suspends the request's fiber instead of its
        // thread (fiber::sleep_until); the protocol core itself knows no fibers.
        std::function<void(std::chrono::milliseconds)> pause = [](std::chrono::milliseconds span) {
            std::this_thread::sleep_for(span);
        };
    };

    McpDispatcher(McpBackend& backend, InFlightRequests& in_flight, Options options,
                  Metrics* metrics = nullptr);

    DispatchResult handle(const RpcMessage& message, DispatchContext& context);

    // Enables tasks (io.modelcontextprotocol/tasks) for 2026-07-28 clients that declare them.
    void set_task_runner(TaskRunner* runner) { tasks_ = runner; }

private:
    DispatchResult dispatch(const RpcMessage& message, DispatchContext& context);
    DispatchResult handle_stateless(const RpcMessage& message, DispatchContext& context);
    DispatchResult discover(const RpcMessage& message);
    std::optional<DispatchResult> start_task(const RpcMessage& message, DispatchContext& context,
                                             const RequestMeta& meta, const std::string& tool);
    DispatchResult task_method(const RpcMessage& message, DispatchContext& context);
    // The experimental tasks of 2025-11-25 (params.task on tools/call; tasks/get, tasks/result,
    // tasks/cancel), over the same stored tasks.
    DispatchResult start_legacy_task(const RpcMessage& message, DispatchContext& context,
                                     const std::string& tool, const std::string& args_json);
    DispatchResult legacy_task_method(const RpcMessage& message, DispatchContext& context);
    std::optional<DispatchResult> confirm_expensive(const RpcMessage& message,
                                                    const RequestMeta& meta,
                                                    const std::string& tool);
    DispatchResult initialize(const RpcMessage& message, DispatchContext& context);
    std::string list_page(const RpcMessage& message, const BackendResult& listed,
                          const char* key, const DispatchContext& context, int& error_code,
                          std::string& error_text);
    DispatchResult call_tool(const RpcMessage& message, DispatchContext& context);
    DispatchResult read_resource(const RpcMessage& message, DispatchContext& context);
    DispatchResult get_prompt(const RpcMessage& message, DispatchContext& context);
    DispatchResult set_level(const RpcMessage& message, DispatchContext& context);
    DispatchResult complete(const RpcMessage& message, DispatchContext& context);
    DispatchResult subscribe(const RpcMessage& message, DispatchContext& context, bool subscribed);
    void notification(const RpcMessage& message, DispatchContext& context);

    McpBackend& backend_;
    InFlightRequests& in_flight_;
    Options options_;
    Metrics* metrics_;
    TaskRunner* tasks_ = nullptr;
};

// The key under which a request is known to notifications/cancelled.
std::string in_flight_key(const std::string& session_id, const rapidjson::Value& id);

}  // namespace mcp::bridge
