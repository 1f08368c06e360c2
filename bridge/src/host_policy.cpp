#include "host_policy.hpp"

#include <algorithm>
#include <cctype>

namespace mcp::bridge {

namespace {

bool is_loopback_name(std::string_view name) {
    return name == "localhost" || name == "127.0.0.1" || name == "[::1]";
}

}  // namespace

HostPolicy::HostPolicy(std::string listen_host, std::vector<std::string> allowed_hosts) {
    bool any = false;
    for (const auto& item : allowed_hosts) {
        if (item == "*") {
            any = true;
            continue;
        }
        // A configured "name:port" is taken as the name: the port is the listener's business.
        const std::string name = host_name(item);
        if (!name.empty()) {
            allowed_.push_back(name);
        }
    }
    checking_ = !any && (is_loopback_address(listen_host) || !allowed_.empty());
}

bool HostPolicy::is_loopback_address(std::string_view listen_host) {
    return listen_host == "localhost" || listen_host == "::1" || listen_host == "[::1]" ||
           listen_host.rfind("127.", 0) == 0;
}

std::string HostPolicy::host_name(std::string_view host) {
    std::string_view name = host;
    std::string_view rest;
    if (!name.empty() && name.front() == '[') {
        const auto close = name.find(']');
        if (close == std::string_view::npos) {
            return {};
        }
        rest = name.substr(close + 1);
        name = name.substr(0, close + 1);
    } else {
        const auto colon = name.find(':');
        if (colon != std::string_view::npos) {
            rest = name.substr(colon);
            name = name.substr(0, colon);
        }
    }
    if (!rest.empty() && (rest.size() < 2 || rest.size() > 6 || rest.front() != ':' ||
                          rest.find_first_not_of("0123456789", 1) != std::string_view::npos)) {
        return {};  // anything after the name must be :port
    }
    if (name.empty() || name.size() > 253) {
        return {};
    }
    std::string lowered;
    lowered.reserve(name.size());
    for (const char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (!(std::isalnum(u) || c == '.' || c == '-' || c == '_' || c == '[' || c == ']' ||
              c == ':')) {
            return {};
        }
        lowered.push_back(static_cast<char>(std::tolower(u)));
    }
    return lowered;
}

bool HostPolicy::allows_host(std::string_view host) const {
    if (!checking_) {
        return true;
    }
    const std::string name = host_name(host);
    if (name.empty()) {
        return false;
    }
    return is_loopback_name(name) ||
           std::find(allowed_.begin(), allowed_.end(), name) != allowed_.end();
}

bool HostPolicy::allows(const Request& request) const {
    const auto found = request.find(http::field::host);
    // HTTP/1.1 requires Host; a browser always sends one, so a request without one is not a
    // rebinding page and is judged by the rest of the checks.
    if (found == request.end()) {
        return true;
    }
    return allows_host(found->value());
}

}  // namespace mcp::bridge
