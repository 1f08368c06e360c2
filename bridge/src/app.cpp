#include "app.hpp"

#include "health_routes.hpp"

namespace mcp::bridge {

namespace {

Router build_router(PgHealth& health) {
    Router router;
    add_health_routes(router, health);
    return router;
}

}  // namespace

App::App(const Config& config, Logger& logger, std::ostream& announce)
    : health_(config.database_url), server_(config, build_router(health_), logger, announce) {}

void App::start() { server_.start(); }

std::uint16_t App::port() const { return server_.port(); }

bool App::stop(std::chrono::milliseconds timeout) { return server_.stop(timeout); }

}  // namespace mcp::bridge
