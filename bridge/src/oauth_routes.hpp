#pragma once

#include <string>

#include "router.hpp"

namespace mcp::bridge {

class PgPool;

struct OAuthDeps {
    PgPool& pool;
    std::string issuer;    // the public URL, e.g. https://mcp.example.com
    std::string resource;  // issuer + "/mcp": what access tokens are bound to
};

// The OAuth 2.1 authorization server MCP clients (ChatGPT and Claude connectors, the SDKs,
// mcp-remote) sign people in through, added only when a public URL is configured:
//   /.well-known/oauth-protected-resource[/mcp]   RFC 9728 resource metadata
//   /.well-known/oauth-authorization-server        RFC 8414 (also /.well-known/openid-configuration)
//   POST /register                                 RFC 7591 dynamic client registration
//   GET/POST /authorize                            sign-in and consent pages (PKCE S256 only)
//   POST /token                                    authorization_code and refresh_token grants
//   POST /revoke                                   RFC 7009
// Each step is one mcp.oauth_* function; the bridge renders its answer or forwards it.
// `deps` must outlive the router.
void add_oauth_routes(Router& router, OAuthDeps& deps);

}  // namespace mcp::bridge
