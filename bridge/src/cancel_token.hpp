#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mcp::bridge {

// Lets notifications/cancelled, which arrives on another request (or another thread), stop
// work in flight. Whoever runs the work installs an action (cancel the database query);
// cancel() runs it at most once, also when it is installed after the cancellation.
class CancelToken {
public:
    bool cancelled() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return cancelled_;
    }

    void cancel() {
        std::function<void()> action;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (cancelled_) {
                return;
            }
            cancelled_ = true;
            action = action_;
        }
        if (action) {
            action();
        }
    }

    // The action must stay valid until clear_action() returns; it may run on another thread.
    void set_action(std::function<void()> action) {
        std::function<void()> run_now;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            action_ = std::move(action);
            if (cancelled_) {
                run_now = action_;
            }
        }
        if (run_now) {
            run_now();
        }
    }

    void clear_action() {
        std::lock_guard<std::mutex> lock(mutex_);
        action_ = nullptr;
    }

private:
    mutable std::mutex mutex_;
    bool cancelled_ = false;
    std::function<void()> action_;
};

// Requests in flight on this bridge, by session and JSON-RPC id, for notifications/cancelled.
class InFlightRequests {
public:
    std::shared_ptr<CancelToken> begin(const std::string& key) {
        auto token = std::make_shared<CancelToken>();
        std::lock_guard<std::mutex> lock(mutex_);
        tokens_[key] = token;
        return token;
    }

    void end(const std::string& key, const std::shared_ptr<CancelToken>& token) {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = tokens_.find(key);
        if (found != tokens_.end() && found->second == token) {
            tokens_.erase(found);
        }
    }

    // False when nothing with that key runs here (finished, unknown, or on another bridge).
    bool cancel(const std::string& key) {
        std::shared_ptr<CancelToken> token;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            const auto found = tokens_.find(key);
            if (found == tokens_.end()) {
                return false;
            }
            token = found->second;
        }
        token->cancel();
        return true;
    }

private:
    std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<CancelToken>> tokens_;
};

}  // namespace mcp::bridge
