#include "mcp_tasks.hpp"

#include <vector>

namespace mcp::bridge {

TaskRunner::TaskRunner(McpBackend& backend, std::size_t max_running)
    : backend_(backend), max_running_(max_running) {}

TaskRunner::~TaskRunner() { stop(); }

void TaskRunner::reap_locked() {
    for (auto it = jobs_.begin(); it != jobs_.end();) {
        if (it->done) {
            it->thread.join();
            it = jobs_.erase(it);
        } else {
            ++it;
        }
    }
}

bool TaskRunner::has_room() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t active = 0;
    for (const auto& job : jobs_) {
        active += job.done ? 0 : 1;
    }
    return !stopping_ && active < max_running_;
}

bool TaskRunner::start(const CallerContext& caller, const std::string& task_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    reap_locked();
    if (stopping_ || jobs_.size() >= max_running_) {
        return false;
    }
    jobs_.emplace_back();
    Job& job = jobs_.back();
    job.task_id = task_id;
    job.caller = caller;
    job.thread = std::thread([this, &job] {
        // The outcome is in the database; a failure here (database gone) leaves the task
        // working until its TTL, when tasks/get reports it lost.
        backend_.run_task(job.caller, job.task_id);
        std::lock_guard<std::mutex> done_lock(mutex_);
        job.done = true;
    });
    return true;
}

void TaskRunner::stop() {
    std::vector<std::pair<CallerContext, std::string>> to_cancel;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        for (const auto& job : jobs_) {
            if (!job.done) {
                to_cancel.emplace_back(job.caller, job.task_id);
            }
        }
    }
    for (const auto& [caller, id] : to_cancel) {
        backend_.cancel_task(caller, id);
    }
    std::list<Job> finishing;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        finishing.splice(finishing.end(), jobs_);
    }
    for (auto& job : finishing) {
        if (job.thread.joinable()) {
            job.thread.join();
        }
    }
}

std::size_t TaskRunner::running() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t active = 0;
    for (const auto& job : jobs_) {
        active += job.done ? 0 : 1;
    }
    return active;
}

}  // namespace mcp::bridge
