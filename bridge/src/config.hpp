#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "proxy_trust.hpp"

namespace mcp::bridge {

// Protocol limits. They bound the memory and the time one client can take from the server.
struct Limits {
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_body_bytes = 1024 * 1024;
    // From the first byte of a request (or from accept) to the last byte of its body.
    std::chrono::milliseconds read_timeout{30'000};
    // How long a keep-alive connection may sit between two requests.
    std::chrono::milliseconds idle_timeout{60'000};
    // Interval of the comment lines that keep an idle event stream (GET /mcp) alive through
    // proxies, and that find out when its client is gone.
    std::chrono::milliseconds sse_heartbeat{15'000};
};

struct ListenAddress {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  // 0 lets the kernel pick a free port
};

struct Config {
    ListenAddress listen;
    // libpq conninfo or URI of the metadata database; empty means unconfigured.
    std::string database_url;
    unsigned threads = 2;   // I/O threads
    unsigned workers = 16;  // threads that run handlers in --stdio mode
    Limits limits;
    // Upper bound on a graceful stop; requests still running after it are cut off.
    std::chrono::milliseconds shutdown_timeout{10'000};

    // Database side.
    std::size_t db_pool_size = 8;
    std::chrono::milliseconds query_timeout{60'000};  // statement_timeout of every call

    // MCP and API.
    std::chrono::milliseconds auth_cache_ttl{10'000};
    std::chrono::seconds session_idle_timeout{24 * 3600};
    // Origins allowed besides loopback ones and the bridge's own; "*" allows any.
    std::vector<std::string> allowed_origins;
    // Which peers may say the client's scheme and host (X-Forwarded-*, Forwarded), and the
    // public URL clients use (links, Secure cookies). When the public URL is set, the bridge
    // is also an OAuth 2.1 authorization server for MCP clients: the URL is the issuer, and its
    // /mcp endpoint the resource tokens are bound to; unset, API keys only and no OAuth
    // discovery is advertised.
    ProxyTrust proxy_trust;
    // Host names /mcp answers besides loopback ones (DNS rebinding); "*" allows any.
    std::vector<std::string> allowed_hosts;
    // Serve one MCP session on stdin/stdout instead of HTTP.
    bool stdio = false;
    // The API key of the stdio session, from MCP_API_KEY only (flags show in `ps`).
    std::string api_key;
};

enum class ParseOutcome { run, help, error };

struct ParseResult {
    ParseOutcome outcome = ParseOutcome::run;
    Config config;
    std::string error;  // one line, set when outcome == error; never contains the database URL
};

// Looks up one environment variable; injectable so tests do not depend on the real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

EnvLookup process_environment();

// Environment first, then flags, so flags win. `args` excludes the program name.
ParseResult parse_config(const std::vector<std::string>& args, const EnvLookup& env);

std::string usage_text();

}  // namespace mcp::bridge
