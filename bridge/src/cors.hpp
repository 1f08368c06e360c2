#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_types.hpp"

namespace mcp::bridge {

// Which browser origins may call /mcp and /api (DNS rebinding and cross-site requests are
// refused with 403), and the CORS headers that let the allowed ones read the answers.
// Requests without Origin come from non-browser clients and are not affected.
class OriginPolicy {
public:
    explicit OriginPolicy(std::vector<std::string> allowed_origins = {});

    // True when the request has no Origin or an allowed one: loopback (http or https on
    // localhost, 127.0.0.1 or [::1], any port), the bridge's own (matching Host), or listed.
    bool allows(const Request& request) const;

    // CORS headers for every response under /mcp and /api, errors and 405s included;
    // Mcp-Session-Id is exposed so that browser clients can read it.
    void decorate(const Request& request, Response& response) const;

    // The answer to an OPTIONS preflight.
    Response preflight(const Request& request) const;

    static bool is_loopback_origin(std::string_view origin);

private:
    std::vector<std::string> allowed_;
};

}  // namespace mcp::bridge
