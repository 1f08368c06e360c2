#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http_types.hpp"

namespace mcp::bridge {

// Strips "?query" (and "#fragment"): routing and logging look at the path only.
std::string_view path_without_query(std::string_view target);

// Maps (method, path) to a handler. A path is exact ("/healthz") or a pattern whose
// segments may be "{name}" (one segment) or, last, "{name*}" (the rest of the path, for
// static files). Exact paths win over patterns; patterns match in registration order. Built
// once before the server starts and read-only afterwards, so handlers may run on many
// threads without locking the table.
class Router {
public:
    // May block (database calls); the server runs handlers off its I/O threads.
    using Handler = std::function<Response(const Request&)>;
    using ReplyHandler = std::function<Reply(const Request&, const RouteParams&)>;
    // Adjusts every response under a path prefix, errors and 405s included (CORS headers).
    using Decorator = std::function<void(const Request&, Response&)>;

    void add(http::verb method, std::string path, Handler handler);
    void add(http::verb method, std::string path, ReplyHandler handler);
    void decorate(std::string path_prefix, Decorator decorator);

    // Unknown path: 404. Known path, other method: 405 with Allow. HEAD falls back to GET;
    // the server drops the body.
    Reply dispatch(const Request& request) const;
    Response route(const Request& request) const { return dispatch(request).response; }

private:
    using MethodTable = std::map<http::verb, ReplyHandler>;
    struct Pattern {
        std::string text;
        std::vector<std::string> segments;
        MethodTable methods;
    };

    static std::string allow_header(const MethodTable& methods);
    static bool match(const Pattern& pattern, std::string_view path, RouteParams& params);
    Reply dispatch_to(const MethodTable& methods, const std::string& route, const Request& request,
                      const RouteParams& params) const;
    void apply_decorators(const Request& request, Response& response) const;

    std::map<std::string, MethodTable, std::less<>> routes_;
    std::vector<Pattern> patterns_;
    std::vector<std::pair<std::string, Decorator>> decorators_;
};

}  // namespace mcp::bridge
