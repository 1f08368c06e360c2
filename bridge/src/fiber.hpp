#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

#include <boost/asio/any_io_executor.hpp>

namespace mcp::bridge::fiber {

// Request handlers run as fibers (stackful coroutines) on the I/O threads. A handler is
// written as plain blocking code; where it waits (a database socket, a free pooled
// connection, a pause), its fiber suspends and the thread serves other connections until
// the wait ends. A request thus costs no thread hand-off, and a slow query holds a
// connection but no thread. Outside a fiber (background threads, tests) the same waits
// block the calling thread as before.
//
// Rules for code that runs in a fiber: never hold a lock across a wait (another fiber on the
// same thread may want it), and never keep thread_local state across one (the fiber may
// resume on another I/O thread).

using Clock = std::chrono::steady_clock;

namespace detail {
class Suspension;  // fiber.cpp
}

// Whether the calling code runs in a fiber.
bool inside();

// Runs `body` as a fiber, starting at once on the calling thread, which must be running a
// handler of `executor` (a connection's strand): the fiber is resumed only through it, so
// it never runs alongside that connection's other handlers. `body` must not throw.
void start(boost::asio::any_io_executor executor, std::function<void()> body);

// Suspends the calling fiber until `fd` is ready to read (or write), or `deadline` passes
// (false). `watch` keeps the descriptor registered with the event loop between waits (one
// per connection; forget() it before the descriptor is closed). Outside a fiber: poll().
class FdWatch {
public:
    FdWatch();
    ~FdWatch();
    FdWatch(const FdWatch&) = delete;
    FdWatch& operator=(const FdWatch&) = delete;

    bool wait(int fd, bool for_write, Clock::time_point deadline);
    void forget();

    struct Registration;

private:
    std::unique_ptr<Registration> registration_;
};

// A wake-up one waiter can sleep on, a thread or a fiber alike; notify() may come from any
// thread, before or during the wait. Reusable: each wait consumes one notify.
class Wakeup {
public:
    // True when notified, false when the deadline passed first.
    bool wait_until(Clock::time_point deadline);
    void notify();

private:
    std::mutex mutex_;
    std::condition_variable thread_waiter_;
    std::shared_ptr<detail::Suspension> fiber_waiter_;  // the fiber waiting, if one is
    bool notified_ = false;
};

// Sleeps until `deadline`: the fiber suspends, a thread sleeps.
void sleep_until(Clock::time_point deadline);

// Runs `work`, which blocks in a way no event loop can wait for (a host name lookup), on a
// thread of its own while the fiber suspends; outside a fiber, here. Its exceptions pass on.
void run_blocking(const std::function<void()>& work);

}  // namespace mcp::bridge::fiber
