#pragma once

#include "router.hpp"

namespace mcp::bridge {

class Authenticator;
class McpBackend;
class McpDispatcher;
class Metrics;
class HostPolicy;
class ListenHub;
class OriginPolicy;
class StreamHub;

struct McpHttpDeps {
    McpDispatcher& dispatcher;
    McpBackend& backend;
    Authenticator& auth;
    const OriginPolicy& origins;
    StreamHub& streams;
    Metrics& metrics;
    bool database_configured = false;
    const HostPolicy* hosts = nullptr;  // Host header check; none when null
    ListenHub* listeners = nullptr;     // 2026-07-28 subscriptions/listen; none when null
};

// Streamable HTTP at /mcp: POST carries one JSON-RPC message (or, for sessions of protocol
// versions that had them, a batch) answered as JSON or as a one-event SSE stream as the
// client accepts; GET opens the session's server-to-client event stream (list_changed);
// DELETE ends the session; OPTIONS answers CORS preflights. Every request needs an API key;
// every request but initialize (and ping) needs Mcp-Session-Id. `deps` must outlive the router.
void add_mcp_routes(Router& router, const McpHttpDeps& deps);

}  // namespace mcp::bridge
