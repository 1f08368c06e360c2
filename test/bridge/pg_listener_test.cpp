#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "pg_listener.hpp"
#include "test_support.hpp"

namespace mcp::bridge {
namespace {

using namespace std::chrono_literals;
using test::missing_database_message;
using test::test_database_url;

class Recorder {
public:
    void payloads(const std::vector<std::string>& received) {
        std::lock_guard<std::mutex> lock(mutex_);
        payloads_.insert(payloads_.end(), received.begin(), received.end());
        changed_.notify_all();
    }
    void reconnected() {
        std::lock_guard<std::mutex> lock(mutex_);
        ++reconnects_;
        changed_.notify_all();
    }
    bool wait_for_payload(const std::string& payload, std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] {
            return std::find(payloads_.begin(), payloads_.end(), payload) != payloads_.end();
        });
    }
    bool wait_for_reconnect(std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return reconnects_ > 0; });
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::string> payloads_;
    int reconnects_ = 0;
};

bool wait_listening(const PgListener& listener) {
    for (int i = 0; i < 300 && !listener.listening(); ++i) {
        std::this_thread::sleep_for(10ms);
    }
    return listener.listening();
}

TEST(PgListener, DeliversNotificationsOfItsChannel) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    Recorder recorder;
    PgListener listener(*url, "mcp_bridge_test_a",
                        [&](const std::vector<std::string>& p) { recorder.payloads(p); },
                        [&] { recorder.reconnected(); });
    listener.start();
    ASSERT_TRUE(wait_listening(listener));
    test::query_value(*url, "SELECT pg_notify('mcp_bridge_test_a', 'hello')");
    EXPECT_TRUE(recorder.wait_for_payload("hello", 2s));
    const auto start = std::chrono::steady_clock::now();
    listener.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "stop does not wait for a poll timeout";
}

TEST(PgListener, ReconnectsAndSaysSoWhenItsConnectionDies) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    const std::string name = "mcp-bridge-listener-test";
    Recorder recorder;
    PgListener listener(test::with_application_name(*url, name), "mcp_bridge_test_b",
                        [&](const std::vector<std::string>& p) { recorder.payloads(p); },
                        [&] { recorder.reconnected(); });
    listener.start();
    ASSERT_TRUE(wait_listening(listener));
    ASSERT_EQ(test::terminate_backends(*url, name), 1);
    ASSERT_TRUE(recorder.wait_for_reconnect(5s)) << "notifications sent meanwhile are lost: say so";
    test::query_value(*url, "SELECT pg_notify('mcp_bridge_test_b', 'after')");
    EXPECT_TRUE(recorder.wait_for_payload("after", 2s));
}

}  // namespace
}  // namespace mcp::bridge
