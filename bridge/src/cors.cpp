#include "cors.hpp"

#include <algorithm>

namespace mcp::bridge {

namespace {

constexpr const char* allow_methods = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
constexpr const char* allow_headers =
    "Content-Type, Accept, Authorization, X-API-Key, Mcp-Session-Id, MCP-Protocol-Version, "
    "Last-Event-ID, Mcp-Method, Mcp-Name";
constexpr const char* expose_headers = "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate";

std::optional<std::string_view> origin_of(const Request& request) {
    const auto found = request.find(http::field::origin);
    if (found == request.end()) {
        return std::nullopt;
    }
    return found->value();
}

}  // namespace

OriginPolicy::OriginPolicy(std::vector<std::string> allowed_origins)
    : allowed_(std::move(allowed_origins)) {}

bool OriginPolicy::is_loopback_origin(std::string_view origin) {
    std::string_view rest;
    if (origin.rfind("http://", 0) == 0) {
        rest = origin.substr(7);
    } else if (origin.rfind("https://", 0) == 0) {
        rest = origin.substr(8);
    } else {
        return false;
    }
    std::string_view host = rest;
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        rest = host.substr(close + 1);
        host = host.substr(0, close + 1);
    } else {
        const auto colon = host.find(':');
        rest = colon == std::string_view::npos ? std::string_view() : host.substr(colon);
        host = host.substr(0, colon);
    }
    if (host != "localhost" && host != "127.0.0.1" && host != "[::1]") {
        return false;
    }
    // Nothing but an optional :port may follow.
    if (rest.empty()) {
        return true;
    }
    return rest.size() > 1 && rest.size() <= 6 && rest.front() == ':' &&
           rest.find_first_not_of("0123456789", 1) == std::string_view::npos;
}

bool OriginPolicy::allows(const Request& request) const {
    const auto origin = origin_of(request);
    if (!origin) {
        return true;
    }
    if (is_loopback_origin(*origin)) {
        return true;
    }
    const auto host = request.find(http::field::host);
    if (host != request.end() && !host->value().empty()) {
        const std::string_view host_value = host->value();
        if (*origin == "http://" + std::string(host_value) ||
            *origin == "https://" + std::string(host_value)) {
            return true;  // the bridge's own pages (the dashboard)
        }
    }
    return std::any_of(allowed_.begin(), allowed_.end(),
                       [&](const std::string& item) { return item == "*" || item == *origin; });
}

void OriginPolicy::decorate(const Request& request, Response& response) const {
    response.set(http::field::access_control_expose_headers, expose_headers);
    const auto origin = origin_of(request);
    if (origin && allows(request)) {
        response.set(http::field::access_control_allow_origin, *origin);
        response.set(http::field::vary, "Origin");
    }
}

Response OriginPolicy::preflight(const Request& request) const {
    Response response{allows(request) ? http::status::no_content : http::status::forbidden,
                      request.version()};
    if (allows(request)) {
        response.set(http::field::access_control_allow_methods, allow_methods);
        response.set(http::field::access_control_allow_headers, allow_headers);
        response.set(http::field::access_control_max_age, "600");
    }
    response.set(http::field::content_type, "text/plain");
    return response;
}

}  // namespace mcp::bridge
