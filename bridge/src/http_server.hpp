#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>

#include "config.hpp"
#include "logger.hpp"
#include "router.hpp"

namespace mcp::bridge {

// The HTTP/1.1 server: one io_context run by config.threads threads, and one session per
// connection, whose route handlers run as fibers on those threads (fiber.hpp). Networking types stay in the source so includers compile fast.
class HttpServer {
public:
    // `logger` and `announce` must outlive the server.
    // `observer`, when set, sees every finished request (metrics).
    HttpServer(const Config& config, Router router, Logger& logger, std::ostream& announce,
               RequestObserver observer = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds, prints "mcp-bridge listening on http://HOST:PORT" to `announce`, starts the
    // threads. Throws std::runtime_error when the address cannot be used.
    void start();

    // The bound port, which differs from the configured one when that was 0.
    std::uint16_t port() const;

    // Stops accepting, lets requests in flight finish, closes idle connections. After
    // `timeout`, what is left is cut off. Returns false when something had to be cut off.
    // Idempotent; the destructor calls it with the configured shutdown timeout.
    bool stop(std::chrono::milliseconds timeout);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mcp::bridge
