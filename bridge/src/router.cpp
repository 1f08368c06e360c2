#include "router.hpp"

#include <stdexcept>

#include "responses.hpp"

namespace mcp::bridge {

namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> segments;
    std::size_t start = 1;  // paths begin with '/'
    while (start <= path.size()) {
        const auto slash = path.find('/', start);
        const auto end = slash == std::string_view::npos ? path.size() : slash;
        segments.emplace_back(path.substr(start, end - start));
        start = end + 1;
    }
    return segments;
}

bool is_param(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

std::string_view path_without_query(std::string_view target) {
    return target.substr(0, target.find_first_of("?#"));
}

void Router::add(http::verb method, std::string path, Handler handler) {
    add(method, std::move(path),
        ReplyHandler([handler = std::move(handler)](const Request& request, const RouteParams&) {
            return Reply{handler(request), nullptr, {}};
        }));
}

void Router::add(http::verb method, std::string path, ReplyHandler handler) {
    MethodTable* methods = nullptr;
    if (path.find('{') == std::string::npos) {
        methods = &routes_[path];
    } else {
        for (auto& pattern : patterns_) {
            if (pattern.text == path) {
                methods = &pattern.methods;
            }
        }
        if (methods == nullptr) {
            patterns_.push_back(Pattern{path, split_path(path), {}});
            methods = &patterns_.back().methods;
        }
    }
    if (!methods->emplace(method, std::move(handler)).second) {
        throw std::logic_error("route registered twice");
    }
}

void Router::decorate(std::string path_prefix, Decorator decorator) {
    decorators_.emplace_back(std::move(path_prefix), std::move(decorator));
}

bool Router::match(const Pattern& pattern, std::string_view path, RouteParams& params) {
    const auto segments = split_path(path);
    const auto& wanted = pattern.segments;
    for (std::size_t i = 0; i < wanted.size(); ++i) {
        const std::string& segment = wanted[i];
        const bool rest = is_param(segment) && segment[segment.size() - 2] == '*';
        if (rest) {
            if (i >= segments.size()) {
                return false;
            }
            std::string joined;
            for (std::size_t j = i; j < segments.size(); ++j) {
                joined += (j > i ? "/" : "") + segments[j];
            }
            params[segment.substr(1, segment.size() - 3)] = joined;
            return !joined.empty();
        }
        if (i >= segments.size()) {
            return false;
        }
        if (is_param(segment)) {
            if (segments[i].empty()) {
                return false;
            }
            params[segment.substr(1, segment.size() - 2)] = segments[i];
        } else if (segment != segments[i]) {
            return false;
        }
    }
    return segments.size() == wanted.size();
}

Reply Router::dispatch(const Request& request) const {
    const auto path = path_without_query(request.target());
    Reply reply;
    const auto entry = routes_.find(path);
    if (entry != routes_.end()) {
        reply = dispatch_to(entry->second, entry->first, request, {});
    } else {
        bool matched = false;
        for (const auto& pattern : patterns_) {
            RouteParams params;
            if (match(pattern, path, params)) {
                reply = dispatch_to(pattern.methods, pattern.text, request, params);
                matched = true;
                break;
            }
        }
        if (!matched) {
            reply.response = json_error(http::status::not_found, "not found");
            reply.log.route = "unmatched";
        }
    }
    apply_decorators(request, reply.response);
    return reply;
}

Reply Router::dispatch_to(const MethodTable& methods, const std::string& route,
                          const Request& request, const RouteParams& params) const {
    auto handler = methods.find(request.method());
    if (handler == methods.end() && request.method() == http::verb::head) {
        handler = methods.find(http::verb::get);
    }
    Reply reply;
    if (handler == methods.end()) {
        reply.response = json_error(http::status::method_not_allowed, "method not allowed");
        reply.response.set(http::field::allow, allow_header(methods));
    } else {
        reply = handler->second(request, params);
    }
    if (reply.log.route.empty()) {
        reply.log.route = route;
    }
    return reply;
}

void Router::apply_decorators(const Request& request, Response& response) const {
    const auto path = path_without_query(request.target());
    for (const auto& [prefix, decorator] : decorators_) {
        if (path.substr(0, prefix.size()) == prefix) {
            decorator(request, response);
        }
    }
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
