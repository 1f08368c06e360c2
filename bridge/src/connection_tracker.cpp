#include "connection_tracker.hpp"

namespace mcp::bridge {

bool ConnectionTracker::add(const std::shared_ptr<HttpSession>& session) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
        return false;
    }
    sessions_.emplace(session.get(), session);
    return true;
}

void ConnectionTracker::remove(const HttpSession* session) {
    std::lock_guard<std::mutex> lock(mutex_);
    sessions_.erase(session);
    if (sessions_.empty()) {
        emptied_.notify_all();
    }
}

void ConnectionTracker::begin_stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
}

std::vector<std::shared_ptr<HttpSession>> ConnectionTracker::live_sessions() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::shared_ptr<HttpSession>> live;
    live.reserve(sessions_.size());
    for (const auto& [key, weak] : sessions_) {
        // Null when the session is mid-destruction; its remove() is on the way.
        if (auto session = weak.lock()) {
            live.push_back(std::move(session));
        }
    }
    return live;
}

bool ConnectionTracker::wait_until_empty(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return emptied_.wait_until(lock, deadline, [&] { return sessions_.empty(); });
}

}  // namespace mcp::bridge
