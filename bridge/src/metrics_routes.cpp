#include "metrics_routes.hpp"

#include "metrics.hpp"

namespace mcp::bridge {

void add_metrics_routes(Router& router, const Metrics& metrics) {
    router.add(http::verb::get, "/metrics", [&metrics](const Request& request) {
        Response response{http::status::ok, request.version()};
        response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        response.body() = metrics.render();
        return response;
    });
}

}  // namespace mcp::bridge
