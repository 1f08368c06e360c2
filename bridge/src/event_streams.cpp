#include "event_streams.hpp"

namespace mcp::bridge {

EventChannel::EventChannel(std::string session_id) : session_id_(std::move(session_id)) {}

bool EventChannel::push(std::string message) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_) {
            return false;
        }
        if (queue_.size() >= max_queued) {
            closed_ = true;  // a client this slow gets disconnected, and may reconnect
        } else {
            queue_.push_back(std::move(message));
        }
    }
    wake();
    return !closed();
}

void EventChannel::close() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_) {
            return;
        }
        closed_ = true;
    }
    wake();
}

bool EventChannel::closed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return closed_;
}

void EventChannel::set_waker(std::function<void()> waker) {
    std::lock_guard<std::mutex> lock(mutex_);
    waker_ = std::move(waker);
}

bool EventChannel::pop(std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty()) {
        return false;
    }
    message = std::move(queue_.front());
    queue_.pop_front();
    return true;
}

void EventChannel::wake() {
    std::function<void()> waker;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        waker = waker_;
    }
    if (waker) {
        waker();
    }
}

std::shared_ptr<EventChannel> StreamHub::open(const std::string& session_id) {
    auto channel = std::make_shared<EventChannel>(session_id);
    std::lock_guard<std::mutex> lock(mutex_);
    auto& list = streams_[session_id];
    list.push_back(channel);
    return channel;
}

std::vector<std::shared_ptr<EventChannel>> StreamHub::live_locked(const std::string& session_id) {
    std::vector<std::shared_ptr<EventChannel>> live;
    const auto found = streams_.find(session_id);
    if (found == streams_.end()) {
        return live;
    }
    auto& list = found->second;
    std::vector<std::weak_ptr<EventChannel>> kept;
    for (const auto& weak : list) {
        if (auto channel = weak.lock(); channel && !channel->closed()) {
            live.push_back(channel);
            kept.push_back(weak);
        }
    }
    if (kept.empty()) {
        streams_.erase(found);
    } else {
        list = std::move(kept);
    }
    return live;
}

void StreamHub::close_session(const std::string& session_id) {
    std::vector<std::shared_ptr<EventChannel>> live;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        live = live_locked(session_id);
        streams_.erase(session_id);
    }
    for (const auto& channel : live) {
        channel->close();
    }
}

void StreamHub::close_all() {
    std::vector<std::shared_ptr<EventChannel>> live;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& [session, list] : streams_) {
            for (const auto& weak : list) {
                if (auto channel = weak.lock()) {
                    live.push_back(channel);
                }
            }
        }
        streams_.clear();
    }
    for (const auto& channel : live) {
        channel->close();
    }
}

std::size_t StreamHub::broadcast(const std::string& message) {
    std::vector<std::shared_ptr<EventChannel>> targets;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<std::string> sessions;
        sessions.reserve(streams_.size());
        for (const auto& entry : streams_) {
            sessions.push_back(entry.first);
        }
        for (const auto& session : sessions) {
            auto live = live_locked(session);
            if (!live.empty()) {
                targets.push_back(live.back());  // the newest stream of the session
            }
        }
    }
    std::size_t sent = 0;
    for (const auto& channel : targets) {
        sent += channel->push(message) ? 1 : 0;
    }
    return sent;
}

bool StreamHub::send(const std::string& session_id, const std::string& message) {
    std::shared_ptr<EventChannel> target;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto live = live_locked(session_id);
        if (live.empty()) {
            return false;
        }
        target = live.back();
    }
    return target->push(message);
}

std::size_t StreamHub::open_streams() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t count = 0;
    for (const auto& [session, list] : streams_) {
        for (const auto& weak : list) {
            if (auto channel = weak.lock(); channel && !channel->closed()) {
                ++count;
            }
        }
    }
    return count;
}

std::vector<std::string> StreamHub::sessions() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [session, list] : streams_) {
        for (const auto& weak : list) {
            if (auto channel = weak.lock(); channel && !channel->closed()) {
                out.push_back(session);
                break;
            }
        }
    }
    return out;
}

}  // namespace mcp::bridge
