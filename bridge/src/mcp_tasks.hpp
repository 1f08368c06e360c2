#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "mcp_backend.hpp"

namespace mcp::bridge {

// Runs MCP tasks in the background: each started task gets a thread that makes one call,
// mcp.run_task, which runs the tool and stores the outcome in the metadata database (where
// tasks/get reads it, on any bridge). A bounded number run at once; beyond it the dispatcher
// answers the call directly instead of making a task.
class TaskRunner {
public:
    explicit TaskRunner(McpBackend& backend, std::size_t max_running = 4);
    ~TaskRunner();
    TaskRunner(const TaskRunner&) = delete;
    TaskRunner& operator=(const TaskRunner&) = delete;

    bool has_room() const;
    // False when full or stopping (the task then stays queued until its TTL).
    bool start(const CallerContext& caller, const std::string& task_id);
    // Cancels what still runs (recorded as cancelled) and waits for the threads.
    void stop();
    std::size_t running() const;

private:
    struct Job {
        std::thread thread;
        std::string task_id;
        CallerContext caller;
        bool done = false;
    };
    void reap_locked();

    McpBackend& backend_;
    const std::size_t max_running_;
    mutable std::mutex mutex_;
    std::list<Job> jobs_;
    bool stopping_ = false;
};

}  // namespace mcp::bridge
