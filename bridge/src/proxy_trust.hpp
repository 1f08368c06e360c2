#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "http_types.hpp"

namespace mcp::bridge {

// Behind a TLS-terminating proxy the bridge learns the browser's scheme and host from
// X-Forwarded-Proto / X-Forwarded-Host or Forwarded (RFC 7239). Anyone can send those
// headers, so they count only from the configured proxies; from any other peer they are
// removed before a handler sees the request. A configured public URL overrides them: it says
// how clients reach the bridge (https: Secure cookies; its host: the expected Origin).
struct ProxyTrust {
    struct Network {
        boost::asio::ip::address address;
        unsigned prefix = 0;
    };
    std::vector<Network> networks;
    bool any = false;         // "*": every peer is a proxy (the bridge is reachable only through one)
    std::string public_url;   // scheme://host[:port], no trailing slash; empty: unset

    bool trusts(const boost::asio::ip::address& peer) const;
};

// "10.0.0.0/8, 192.168.1.7, fd00::/8" or "*"; an error message on failure.
std::optional<std::string> parse_trusted_proxies(std::string_view text, ProxyTrust& trust);

// "https://analytics.example.com" (a path is not allowed); an error message on failure.
std::optional<std::string> parse_public_url(std::string_view text, std::string& url);

// The header apply_proxy_trust sets to the client's address (the peer, or what a trusted proxy
// forwarded for); whatever a client sent under that name is replaced.
inline constexpr const char* client_address_header = "X-MCP-Client-Address";

// Applies the rules above to a request that came from `peer`: afterwards X-Forwarded-Proto and
// X-Forwarded-Host say what the handlers may believe, Forwarded/X-Forwarded-For are gone
// unless the peer is trusted, and client_address_header names the client.
void apply_proxy_trust(Request& request, const boost::asio::ip::address& peer, const ProxyTrust& trust);

// The base URL clients reach the bridge at, for links: after apply_proxy_trust, the public URL
// or what a trusted proxy forwarded, else the Host the client asked for (no trailing slash).
std::string public_base_url(const Request& request);

}  // namespace mcp::bridge
