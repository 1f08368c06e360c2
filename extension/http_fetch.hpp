// Outbound HTTPS requests of the extension (the OpenID provider, OAuth client metadata
// documents) with libcurl: one place that sets the limits every such request needs.
#pragma once

#include <optional>
#include <string>

namespace mcp::ext::http_fetch {

struct Limits {
    size_t max_bytes = 1 << 20;  // a longer body fails the request
    long timeout_ms = 10000;     // connecting and the whole transfer
    bool https_only = false;
    // Refuse to connect to loopback, private, link-local, unique-local, multicast and
    // unspecified addresses (server-side request forgery), checked on the address libcurl is
    // about to connect to, so a DNS name cannot sneak one in.
    bool public_addresses_only = false;
    std::string ca_file;  // an extra CA bundle to trust; empty: the system's
    const char* user_agent = "mcp_analytics";
};

struct Answer {
    long status = 0;
    std::string body;
    std::string content_type;   // as sent, lower-cased; empty when none
    std::string cache_control;  // as sent; empty when none
};

// Why a request failed before an HTTP answer; each has its own message.
enum class Failure { none, not_allowed_url, private_address, too_large, timeout, unreachable };

struct Outcome {
    Failure failure = Failure::none;
    std::string detail;  // libcurl's words, for the DETAIL of an error
    Answer answer;
};

// GET, or POST of form_body (application/x-www-form-urlencoded) when given. Never follows a
// redirect and never goes through a proxy. Throws only for libcurl itself failing to start.
Outcome request(const std::string& url, const Limits& limits,
                const std::optional<std::string>& form_body = std::nullopt);

}  // namespace mcp::ext::http_fetch
