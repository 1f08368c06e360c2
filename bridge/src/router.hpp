#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "http_types.hpp"

namespace mcp::bridge {

// Strips "?query" (and "#fragment"): routing and logging look at the path only.
std::string_view path_without_query(std::string_view target);

// Maps (method, exact path) to a handler. Built once before the server starts and read-only
// afterwards, so handlers may run on many threads without locking the table.
class Router {
public:
    // May block (database calls); the server runs handlers off its I/O threads.
    using Handler = std::function<Response(const Request&)>;

    void add(http::verb method, std::string path, Handler handler);

    // Unknown path: 404. Known path, other method: 405 with Allow. HEAD falls back to GET;
    // the server drops the body.
    Response route(const Request& request) const;

private:
    using MethodTable = std::map<http::verb, Handler>;

    static std::string allow_header(const MethodTable& methods);

    std::map<std::string, MethodTable, std::less<>> routes_;
};

}  // namespace mcp::bridge
