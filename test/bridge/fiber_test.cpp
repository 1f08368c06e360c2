#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "fiber.hpp"

namespace mcp::bridge {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

// An event loop run by one thread, as a bridge with --threads 1.
class OneThreadLoop {
public:
    OneThreadLoop() : work_(net::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
    ~OneThreadLoop() {
        work_.reset();
        thread_.join();
    }

    // Starts `body` as a fiber on a strand of its own, as a connection's handler.
    void start_fiber(std::function<void()> body) {
        auto strand = net::make_strand(io_);
        net::post(strand, [strand, body = std::move(body)]() mutable {
            fiber::start(strand, std::move(body));
        });
    }

    // Runs `body` on the loop's thread as a plain handler and waits for it.
    bool runs_soon(std::chrono::milliseconds within) {
        auto ran = std::make_shared<std::promise<void>>();
        auto done = ran->get_future();
        net::post(io_, [ran] { ran->set_value(); });
        return done.wait_for(within) == std::future_status::ready;
    }

private:
    net::io_context io_;
    net::executor_work_guard<net::io_context::executor_type> work_;
    std::thread thread_;
};

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds within = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

TEST(Fiber, ManyWaitingFibersShareOneThread) {
    OneThreadLoop loop;
    constexpr int count = 50;
    std::vector<std::unique_ptr<fiber::Wakeup>> wakeups;
    for (int i = 0; i < count; ++i) {
        wakeups.push_back(std::make_unique<fiber::Wakeup>());
    }
    std::atomic<int> waiting{0}, woken{0}, inside{0};
    for (int i = 0; i < count; ++i) {
        loop.start_fiber([&, i] {
            inside += fiber::inside() ? 1 : 0;
            ++waiting;
            if (wakeups[i]->wait_until(fiber::Clock::now() + 10s)) {
                ++woken;
            }
        });
    }
    // All fifty wait at once on one thread, which still runs other work meanwhile.
    ASSERT_TRUE(eventually([&] { return waiting == count; }));
    EXPECT_TRUE(loop.runs_soon(1s)) << "a waiting fiber held the thread";
    EXPECT_EQ(woken, 0);
    for (auto& wakeup : wakeups) {
        wakeup->notify();  // from another thread
    }
    ASSERT_TRUE(eventually([&] { return woken == count; }));
    EXPECT_EQ(inside, count);
    EXPECT_FALSE(fiber::inside()) << "the test's own thread is no fiber";
}

TEST(Fiber, ADescriptorWaitResumesWhenReadableAndEndsAtItsDeadline) {
    OneThreadLoop loop;
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    std::atomic<int> readable{-1}, quiet{-1};
    loop.start_fiber([&] {
        fiber::FdWatch watch;
        readable = watch.wait(pair[0], false, fiber::Clock::now() + 10s) ? 1 : 0;
        // Nothing more arrives: the wait ends at its deadline, false.
        char byte;
        ASSERT_EQ(::read(pair[0], &byte, 1), 1);
        quiet = watch.wait(pair[0], false, fiber::Clock::now() + 100ms) ? 1 : 0;
    });
    ASSERT_TRUE(loop.runs_soon(1s));
    EXPECT_EQ(readable, -1) << "resumed before anything was written";
    ASSERT_EQ(::write(pair[1], "x", 1), 1);
    ASSERT_TRUE(eventually([&] { return quiet != -1; }));
    EXPECT_EQ(readable, 1);
    EXPECT_EQ(quiet, 0);
    ::close(pair[0]);
    ::close(pair[1]);
}

TEST(Fiber, AForgottenWatchDoesNotWatchTheOldSocketUnderAReusedNumber) {
    OneThreadLoop loop;
    int first[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, first), 0);
    ASSERT_EQ(::write(first[1], "a", 1), 1);  // left unread
    std::atomic<int> before{-1}, after{-1}, reused{-1};
    int second[2] = {-1, -1};
    loop.start_fiber([&] {
        fiber::FdWatch watch;
        before = watch.wait(first[0], false, fiber::Clock::now() + 5s) ? 1 : 0;
        // As libpq on a failed host: the socket closes, the next one gets its number.
        const int number = first[0];
        watch.forget();
        ::close(first[0]);
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, second) != 0) return;
        reused = second[0] == number ? 1 : 0;
        // Nothing was written to the new socket: a watch still on the old one would see its
        // unread byte and answer at once.
        after = watch.wait(second[0], false, fiber::Clock::now() + 200ms) ? 1 : 0;
    });
    ASSERT_TRUE(eventually([&] { return after != -1; }));
    EXPECT_EQ(before, 1);
    ASSERT_EQ(reused, 1) << "the new socket did not get the old number: nothing was tested";
    EXPECT_EQ(after, 0);
    ::close(first[1]);
    ::close(second[0]);
    ::close(second[1]);
}

TEST(Fiber, OutsideAFiberTheSameWaitsBlockTheThread) {
    fiber::Wakeup wakeup;
    wakeup.notify();  // before the wait: kept for it
    EXPECT_TRUE(wakeup.wait_until(fiber::Clock::now() + 1s));
    EXPECT_FALSE(wakeup.wait_until(fiber::Clock::now() + 50ms)) << "one notify serves one wait";
    std::thread notifier([&] {
        std::this_thread::sleep_for(50ms);
        wakeup.notify();
    });
    EXPECT_TRUE(wakeup.wait_until(fiber::Clock::now() + 5s));
    notifier.join();

    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    fiber::FdWatch watch;
    EXPECT_FALSE(watch.wait(pair[0], false, fiber::Clock::now() + 50ms));
    EXPECT_TRUE(watch.wait(pair[1], true, fiber::Clock::now() + 1s)) << "writable at once";
    ::close(pair[0]);
    ::close(pair[1]);
}

TEST(Fiber, ASleepingFiberLeavesTheThreadFree) {
    OneThreadLoop loop;
    std::atomic<bool> slept{false};
    loop.start_fiber([&] {
        fiber::sleep_until(fiber::Clock::now() + 500ms);
        slept = true;
    });
    EXPECT_TRUE(loop.runs_soon(300ms)) << "the sleep held the thread";
    EXPECT_FALSE(slept);
    ASSERT_TRUE(eventually([&] { return slept.load(); }));
}

TEST(Fiber, BlockingWorkRunsOnAThreadOfItsOwn) {
    OneThreadLoop loop;
    std::atomic<bool> done{false}, rethrown{false};
    loop.start_fiber([&] {
        // As a host name lookup: nothing an event loop can wait on.
        fiber::run_blocking([] { std::this_thread::sleep_for(500ms); });
        done = true;
        try {
            fiber::run_blocking([] { throw std::runtime_error("lookup failed"); });
        } catch (const std::runtime_error&) {
            rethrown = true;
        }
    });
    EXPECT_TRUE(loop.runs_soon(300ms)) << "the blocking work held the loop's thread";
    EXPECT_FALSE(done);
    ASSERT_TRUE(eventually([&] { return rethrown.load(); }));
    EXPECT_TRUE(done);
}

}  // namespace
}  // namespace mcp::bridge
