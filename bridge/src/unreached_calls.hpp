#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace mcp::bridge {

class Logger;
class PgPool;

// Tool calls that could not reach the metadata database (it was down, restarting, or every
// connection stayed busy) leave no query-log row there by themselves. They wait here, in
// memory and bounded, and a background thread writes them with mcp.log_unreached_calls as
// soon as the database answers, so the log keeps one row per query a client asked for. What
// is still waiting at shutdown gets one last try; what cannot be written is counted in the
// bridge's own log, never silently dropped.
class UnreachedCalls {
public:
    UnreachedCalls(PgPool& pool, Logger& logger, std::size_t capacity = 10'000,
                   std::chrono::milliseconds retry_every = std::chrono::milliseconds(1'000));
    ~UnreachedCalls();
    UnreachedCalls(const UnreachedCalls&) = delete;
    UnreachedCalls& operator=(const UnreachedCalls&) = delete;

    // `context_json` is the caller as the query log wants it (SqlBackend::context_json).
    void record(std::string_view tool, std::string_view arguments_json, std::string context_json,
                std::string_view reason);
    // Writes what waits; true when nothing waits afterwards.
    bool flush();
    std::size_t pending() const;

    void start();
    void stop();  // one last flush, then the thread ends

private:
    void run();

    PgPool& pool_;
    Logger& logger_;
    const std::size_t capacity_;
    const std::chrono::milliseconds retry_every_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::string> waiting_;  // one JSON object per call
    std::size_t dropped_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace mcp::bridge
