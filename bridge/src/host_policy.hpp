#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http_types.hpp"

namespace mcp::bridge {

// Which Host headers /mcp answers. A page on a foreign site can point its own DNS name at
// 127.0.0.1 (DNS rebinding); its requests then reach a loopback bridge with that foreign
// name in Host. So a bridge listening on a loopback address answers only loopback names
// (localhost, 127.0.0.1, [::1], any port) plus the configured ones; a bridge listening on
// another address checks Host only when names are configured (it cannot guess its public
// names). "*" in the list turns the check off.
class HostPolicy {
public:
    HostPolicy(std::string listen_host = "127.0.0.1", std::vector<std::string> allowed_hosts = {});

    bool allows(const Request& request) const;
    // The same rule on a Host value ("name" or "name:port").
    bool allows_host(std::string_view host) const;

    static bool is_loopback_address(std::string_view listen_host);
    // The name of a Host value without its port, lowercased; empty when malformed.
    static std::string host_name(std::string_view host);

private:
    bool checking_ = true;
    std::vector<std::string> allowed_;  // lowercased names, no ports
};

}  // namespace mcp::bridge
