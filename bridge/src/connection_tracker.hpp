#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace mcp::bridge {

class HttpSession;

// Knows which connections are alive, so a stop can reach each of them and wait until the
// last one is gone. Holds weak references: a connection's lifetime is its own.
class ConnectionTracker {
public:
    using Clock = std::chrono::steady_clock;

    // False once stopping: a connection accepted during a stop is closed at once.
    bool add(const std::shared_ptr<HttpSession>& session);
    // Called from a session's destructor.
    void remove(const HttpSession* session);

    // Refuses new connections from now on.
    void begin_stop();
    std::vector<std::shared_ptr<HttpSession>> live_sessions() const;
    // The caller must not hold references from live_sessions() while waiting.
    bool wait_until_empty(Clock::time_point deadline);

private:
    mutable std::mutex mutex_;
    std::condition_variable emptied_;
    bool stopping_ = false;
    std::unordered_map<const HttpSession*, std::weak_ptr<HttpSession>> sessions_;
};

}  // namespace mcp::bridge
