#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>

#include "config.hpp"
#include "logger.hpp"

namespace mcp::bridge {

// The bridge as one object: the database side (pool, LISTEN), MCP, the REST API, health and
// metrics, and the HTTP server, wired from a Config. main() and the in-process tests build
// exactly the same thing.
class App {
public:
    App(const Config& config, Logger& logger, std::ostream& announce);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // HTTP mode.
    void start();
    std::uint16_t port() const;
    bool stop(std::chrono::milliseconds timeout);

    // stdio mode (--stdio): serves one session until `in` ends; returns the exit code.
    int run_stdio(std::istream& in, std::ostream& out);

private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

}  // namespace mcp::bridge
