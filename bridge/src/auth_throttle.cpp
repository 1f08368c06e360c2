#include "auth_throttle.hpp"

namespace mcp::bridge {

AuthThrottle::AuthThrottle(std::size_t max_failures, std::chrono::seconds window, std::size_t max_clients)
    : max_failures_(max_failures), window_(window), max_clients_(max_clients) {}

long long AuthThrottle::refused_for(const std::string& client, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = clients_.find(client);
    if (found == clients_.end() || found->second.failures < max_failures_) return 0;
    const auto left = found->second.started + window_ - now;
    if (left <= Clock::duration::zero()) {
        clients_.erase(found);
        return 0;
    }
    return std::chrono::duration_cast<std::chrono::seconds>(left).count() + 1;
}

bool AuthThrottle::record_failure(const std::string& client, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = clients_.find(client);
    if (found != clients_.end() && now - found->second.started >= window_) {
        clients_.erase(found);
        found = clients_.end();
    }
    if (found == clients_.end()) {
        // Under a flood of addresses, the oldest windows make room (a spoofing attacker only
        // resets counters it could not have kept anyway: each address starts its own).
        if (clients_.size() >= max_clients_) forget_expired(now);
        if (clients_.size() >= max_clients_) clients_.clear();
        found = clients_.emplace(client, Window{now, 0}).first;
    }
    return ++found->second.failures == max_failures_;
}

void AuthThrottle::forget_expired(Clock::time_point now) {
    for (auto it = clients_.begin(); it != clients_.end();) {
        if (now - it->second.started >= window_) it = clients_.erase(it);
        else ++it;
    }
}

}  // namespace mcp::bridge
