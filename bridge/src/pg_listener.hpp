#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace mcp::bridge {

// LISTENs on one channel of the metadata database on a dedicated connection and thread.
// Payloads that arrive together are delivered together. After any break (a server restart)
// it reconnects with backoff and calls on_reconnect, because notifications sent while it
// was away are lost and whoever listens must assume that something changed.
class PgListener {
public:
    using PayloadHandler = std::function<void(const std::vector<std::string>& payloads)>;
    using ReconnectHandler = std::function<void()>;

    PgListener(std::string conninfo, std::string channel, PayloadHandler on_payloads,
               ReconnectHandler on_reconnect);
    ~PgListener();
    PgListener(const PgListener&) = delete;
    PgListener& operator=(const PgListener&) = delete;

    void start();
    void stop();
    bool listening() const { return listening_.load(); }

private:
    void run();
    bool sleep_unless_stopped(std::chrono::milliseconds duration);

    const std::string conninfo_;
    const std::string channel_;
    PayloadHandler on_payloads_;
    ReconnectHandler on_reconnect_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> listening_{false};
    int wake_fd_ = -1;  // eventfd: stop() interrupts the wait at once
    std::thread thread_;
};

}  // namespace mcp::bridge
