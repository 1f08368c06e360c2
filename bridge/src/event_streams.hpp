#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mcp::bridge {

// One open server-to-client stream (an SSE response to GET /mcp, or stdout in stdio mode):
// a bounded queue of JSON-RPC messages. Producers push from any thread; the consumer is woken
// and drains it. A consumer that falls too far behind is cut off rather than buffered
// without limit.
class EventChannel {
public:
    static constexpr std::size_t max_queued = 256;

    explicit EventChannel(std::string session_id);

    // False when the channel is closed (or just closed itself for overflowing).
    bool push(std::string message);
    void close();
    bool closed() const;

    // Consumer side. The waker is called without locks held, after a push or a close.
    void set_waker(std::function<void()> waker);
    bool pop(std::string& message);
    const std::string& session_id() const { return session_id_; }

private:
    void wake();

    const std::string session_id_;
    mutable std::mutex mutex_;
    std::deque<std::string> queue_;
    bool closed_ = false;
    std::function<void()> waker_;
};

// The open streams of this bridge, by MCP session. A message goes to the newest open
// stream of a session and to no other (one stream per message, as the transport requires).
class StreamHub {
public:
    std::shared_ptr<EventChannel> open(const std::string& session_id);
    // Ends every stream of a session (DELETE /mcp).
    void close_session(const std::string& session_id);
    void close_all();

    // Sends to every session that has an open stream; returns how many got it.
    std::size_t broadcast(const std::string& message);
    bool send(const std::string& session_id, const std::string& message);
    std::size_t open_streams() const;
    // The sessions with at least one open stream here.
    std::vector<std::string> sessions() const;

private:
    std::vector<std::shared_ptr<EventChannel>> live_locked(const std::string& session_id);

    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::vector<std::weak_ptr<EventChannel>>> streams_;
};

}  // namespace mcp::bridge
