#include "pg_health.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "extension_version.hpp"
#include "fiber.hpp"
#include "pg_connection.hpp"

namespace mcp::bridge {

std::string_view to_string(DatabaseState state) {
    switch (state) {
        case DatabaseState::reachable:
            return "reachable";
        case DatabaseState::unreachable:
            return "unreachable";
        case DatabaseState::incompatible:
            return "incompatible";
        case DatabaseState::unconfigured:
            break;
    }
    return "unconfigured";
}

class PgHealth::Worker {
public:
    Worker(std::string conninfo, PgHealthOptions options)
        : conninfo_(std::move(conninfo)), options_(options), thread_([this] { run(); }) {}

    ~Worker() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        work_ready_.notify_one();
        thread_.join();
    }

    HealthReport check() {
        std::unique_lock<std::mutex> lock(mutex_);
        // Whether a check is running or not, the next one to complete is fresh enough for us:
        // a running check started no earlier than a moment ago.
        const std::uint64_t wanted = completed_ + 1;
        if (!running_) {
            requested_ = true;
            work_ready_.notify_one();
        }
        // A fiber-aware wait: /healthz runs in a request fiber, which must not hold its thread.
        const auto deadline = std::chrono::steady_clock::now() + options_.wait_timeout;
        fiber::Wakeup wakeup;
        waiters_.push_back(&wakeup);
        while (completed_ < wanted && std::chrono::steady_clock::now() < deadline) {
            lock.unlock();
            wakeup.wait_until(deadline);
            lock.lock();
        }
        waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &wakeup));
        if (completed_ < wanted) {
            return {DatabaseState::unreachable, 0, {}, {}};
        }
        return last_;
    }

    std::uint64_t connections_opened() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return connections_opened_;
    }

private:
    void run() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            work_ready_.wait(lock, [&] { return requested_ || stopping_; });
            if (stopping_) {
                return;
            }
            requested_ = false;
            running_ = true;
            lock.unlock();
            const HealthReport report = run_check();
            lock.lock();
            last_ = report;
            ++completed_;
            running_ = false;
            for (fiber::Wakeup* waiter : waiters_) {
                waiter->notify();  // under the lock: a waiter leaves the list only under it
            }
        }
    }

    // Only the worker thread touches connection_.
    HealthReport run_check() {
        const auto start = std::chrono::steady_clock::now();
        const Deadline deadline = start + options_.check_timeout;
        // A cached connection may have died quietly (server restart, idle kill); the ping
        // finds out, and one reconnect within the same deadline repairs it.
        bool ok = connection_.is_open() && connection_.ping(deadline);
        if (!ok) {
            ok = reconnect(deadline) && connection_.ping(deadline);
        }
        if (!ok) {
            connection_.close();
            return {DatabaseState::unreachable, 0, {}, {}};
        }
        // The extension's version, once per connection (an upgrade reconnects nobody, so a
        // version read as unsupported is read again at every check until it is fixed).
        if (!version_checked_ || !version_problem_.empty()) {
            std::optional<std::string> version;
            if (!read_extension_version(connection_, deadline, version)) {
                connection_.close();
                return {DatabaseState::unreachable, 0, {}, {}};
            }
            extension_version_ = version.value_or("");
            version_problem_ = extension_version_problem(version);
            version_checked_ = true;
        }
        const std::chrono::duration<double, std::milli> latency =
            std::chrono::steady_clock::now() - start;
        if (!version_problem_.empty()) {
            return {DatabaseState::incompatible, latency.count(), extension_version_, version_problem_};
        }
        return {DatabaseState::reachable, latency.count(), extension_version_, {}};
    }

    bool reconnect(Deadline deadline) {
        version_checked_ = false;
        if (!connection_.connect(conninfo_, deadline)) {
            return false;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        ++connections_opened_;
        return true;
    }

    const std::string conninfo_;
    const PgHealthOptions options_;
    PgConnection connection_;
    bool version_checked_ = false;
    std::string extension_version_;
    std::string version_problem_;

    mutable std::mutex mutex_;
    std::condition_variable work_ready_;
    std::vector<fiber::Wakeup*> waiters_;  // of check()
    bool requested_ = false;
    bool running_ = false;
    bool stopping_ = false;
    std::uint64_t completed_ = 0;
    std::uint64_t connections_opened_ = 0;
    HealthReport last_;

    std::thread thread_;  // last member: starts after everything it uses exists
};

PgHealth::PgHealth(std::string conninfo, PgHealthOptions options) {
    if (!conninfo.empty()) {
        worker_ = std::make_unique<Worker>(std::move(conninfo), options);
    }
}

PgHealth::~PgHealth() = default;

HealthReport PgHealth::check() {
    if (!worker_) {
        return {DatabaseState::unconfigured, 0, {}, {}};
    }
    return worker_->check();
}

std::uint64_t PgHealth::connections_opened() const {
    return worker_ ? worker_->connections_opened() : 0;
}

}  // namespace mcp::bridge
