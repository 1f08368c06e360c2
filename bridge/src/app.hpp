#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>

#include "config.hpp"
#include "http_server.hpp"
#include "logger.hpp"
#include "pg_health.hpp"

namespace mcp::bridge {

// The bridge as one object: the database side, the routes and the server, wired from a
// Config. main() and the in-process tests build exactly the same thing.
class App {
public:
    App(const Config& config, Logger& logger, std::ostream& announce);

    void start();
    std::uint16_t port() const;
    bool stop(std::chrono::milliseconds timeout);

private:
    // Declared before the server: handlers reference it until the server is gone.
    PgHealth health_;
    HttpServer server_;
};

}  // namespace mcp::bridge
