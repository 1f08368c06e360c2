#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "cancel_token.hpp"
#include "mcp_backend.hpp"
#include "mcp_protocol.hpp"

namespace mcp::bridge {

class Metrics;

struct ServerInfo {
    std::string name = "mcp-analytics";
    std::string title = "mcp_analytics";
    std::string version = "0.1.0";
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
};

// Serves MCP methods over any transport. Stateless itself: sessions live in the backend
// (the metadata database), so any bridge can answer any message of a session.
class McpDispatcher {
public:
    struct Options {
        std::size_t page_size = 100;  // items per tools/list, resources/list … page
        ServerInfo server;
    };

    McpDispatcher(McpBackend& backend, InFlightRequests& in_flight, Options options,
                  Metrics* metrics = nullptr);

    DispatchResult handle(const RpcMessage& message, DispatchContext& context);

private:
    DispatchResult initialize(const RpcMessage& message, DispatchContext& context);
    std::string list_page(const RpcMessage& message, const BackendResult& listed,
                          const char* key, const DispatchContext& context, int& error_code,
                          std::string& error_text);
    DispatchResult call_tool(const RpcMessage& message, DispatchContext& context);
    DispatchResult read_resource(const RpcMessage& message, DispatchContext& context);
    DispatchResult get_prompt(const RpcMessage& message, DispatchContext& context);
    DispatchResult set_level(const RpcMessage& message, DispatchContext& context);
    void notification(const RpcMessage& message, DispatchContext& context);

    McpBackend& backend_;
    InFlightRequests& in_flight_;
    Options options_;
    Metrics* metrics_;
};

// The key under which a request is known to notifications/cancelled.
std::string in_flight_key(const std::string& session_id, const rapidjson::Value& id);

}  // namespace mcp::bridge
