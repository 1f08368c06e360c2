#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mcp::bridge {

// Slows down credential guessing: after `max_failures` failed authentications from one client
// address within `window`, that address is refused (429) for the rest of the window without
// asking the database, except for credentials already verified (they are served from the
// cache). Each bridge counts its own clients; memory is bounded by `max_clients`.
class AuthThrottle {
public:
    using Clock = std::chrono::steady_clock;

    AuthThrottle(std::size_t max_failures = 20, std::chrono::seconds window = std::chrono::seconds(60),
                 std::size_t max_clients = 10'000);

    // Seconds until `client` may try again; 0 when it may try now.
    long long refused_for(const std::string& client, Clock::time_point now = Clock::now());
    // Returns true when this failure is the one that starts the refusal (log it once).
    bool record_failure(const std::string& client, Clock::time_point now = Clock::now());

private:
    struct Window {
        Clock::time_point started;
        std::size_t failures = 0;
    };

    void forget_expired(Clock::time_point now);

    const std::size_t max_failures_;
    const Clock::duration window_;
    const std::size_t max_clients_;
    std::mutex mutex_;
    std::unordered_map<std::string, Window> clients_;
};

}  // namespace mcp::bridge
