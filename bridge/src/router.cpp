#include "router.hpp"

#include <stdexcept>

#include "responses.hpp"

namespace mcp::bridge {

std::string_view path_without_query(std::string_view target) {
    return target.substr(0, target.find_first_of("?#"));
}

void Router::add(http::verb method, std::string path, Handler handler) {
    auto& methods = routes_[std::move(path)];
    if (!methods.emplace(method, std::move(handler)).second) {
        throw std::logic_error("route registered twice");
    }
}

Response Router::route(const Request& request) const {
    const auto path = path_without_query(request.target());
    const auto entry = routes_.find(path);
    if (entry == routes_.end()) {
        return json_error(http::status::not_found, "not found");
    }
    const MethodTable& methods = entry->second;
    auto handler = methods.find(request.method());
    if (handler == methods.end() && request.method() == http::verb::head) {
        handler = methods.find(http::verb::get);
    }
    if (handler == methods.end()) {
        Response response = json_error(http::status::method_not_allowed, "method not allowed");
        response.set(http::field::allow, allow_header(methods));
        return response;
    }
    return handler->second(request);
}

std::string Router::allow_header(const MethodTable& methods) {
    std::string allow;
    auto append = [&allow](std::string_view name) {
        if (!allow.empty()) {
            allow += ", ";
        }
        allow += name;
    };
    for (const auto& [method, handler] : methods) {
        append(http::to_string(method));
        if (method == http::verb::get && methods.count(http::verb::head) == 0) {
            append("HEAD");
        }
    }
    return allow;
}

}  // namespace mcp::bridge
