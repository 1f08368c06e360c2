#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "fiber.hpp"
#include "http_server.hpp"
#include "responses.hpp"
#include "test_support.hpp"

namespace mcp::bridge {
namespace {

using namespace std::chrono_literals;
using test::RawClient;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A server with routes made for probing the transport, not the product.
class ServerTest : public ::testing::Test {
protected:
    void start(Config config = test::test_config()) {
        Router router;
        router.add(http::verb::get, "/ping",
                   [](const Request&) { return json_response(http::status::ok, "{}"); });
        router.add(http::verb::post, "/size", [](const Request& request) {
            return json_response(http::status::ok, std::to_string(request.body().size()));
        });
        // A handler that waits as a database call does: its fiber suspends, not its thread.
        router.add(http::verb::get, "/slow", [this](const Request&) {
            slow_entered_.set_value();
            fiber::sleep_until(fiber::Clock::now() + slow_duration_);
            return json_response(http::status::ok, R"({"done":true})");
        });
        router.add(http::verb::get, "/throw", [](const Request&) -> Response {
            throw std::runtime_error("password=sekrit123");
        });
        server_ = std::make_unique<HttpServer>(config, std::move(router), logger_, announce_);
        server_->start();
    }

    std::uint16_t port() const { return server_->port(); }

    std::ostringstream log_;
    std::ostringstream announce_;
    Logger logger_{log_};
    std::promise<void> slow_entered_;
    std::chrono::milliseconds slow_duration_{500};
    std::unique_ptr<HttpServer> server_;
};

TEST_F(ServerTest, AnnouncesOneListeningLineWithTheActualPort) {
    start();
    EXPECT_NE(port(), 0);
    EXPECT_EQ(announce_.str(),
              "mcp-bridge listening on http://127.0.0.1:" + std::to_string(port()) + "\n");
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
    start();
    RawClient client(port());
    client.send(test::get_request("/ping"));
    const auto first = client.read_reply();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200u);
    EXPECT_NE(first->header("connection"), "close");
    client.send(test::get_request("/ping"));
    const auto second = client.read_reply();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->status, 200u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
    start();
    RawClient client(port());
    client.send(test::get_request("/ping") + test::get_request("/nowhere"));
    const auto first = client.read_reply();
    const auto second = client.read_reply();
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->status, 200u);
    EXPECT_EQ(second->status, 404u);
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
    start();
    RawClient client(port());
    client.send(test::get_request("/ping", false));
    const auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->header("connection"), "close");
    EXPECT_TRUE(client.wait_closed(2s));
}

TEST_F(ServerTest, UnknownPathGets404JsonWithSecurityHeaders) {
    start();
    const auto reply = test::fetch(port(), "/nowhere");
    EXPECT_EQ(reply.status, 404u);
    EXPECT_EQ(reply.body, R"({"error":"not found"})");
    EXPECT_EQ(reply.header("content-type"), "application/json");
    EXPECT_EQ(reply.header("cache-control"), "no-store");
    EXPECT_EQ(reply.header("x-content-type-options"), "nosniff");
}

TEST_F(ServerTest, OversizedHeaderIsAnswered431AndTheConnectionClosed) {
    start();
    RawClient client(port());
    client.send("GET /ping HTTP/1.1\r\nHost: x\r\nX-Fill: " + std::string(16 * 1024, 'a') +
                "\r\n\r\n");
    const auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 431u);
    EXPECT_EQ(reply->header("cache-control"), "no-store");
    EXPECT_EQ(reply->header("x-content-type-options"), "nosniff");
    EXPECT_EQ(reply->header("connection"), "close");
    EXPECT_TRUE(client.wait_closed(3s));
}

TEST_F(ServerTest, DeclaredOversizedBodyIsAnswered413BeforeItIsSent) {
    Config config = test::test_config();
    config.limits.max_body_bytes = 1024;
    start(config);
    RawClient client(port());
    client.send("POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n");
    const auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 413u);
    EXPECT_TRUE(client.wait_closed(3s));
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIsAnswered413) {
    Config config = test::test_config();
    config.limits.max_body_bytes = 1024;
    start(config);
    RawClient client(port());
    client.send("POST /size HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                std::string(0x800, 'b') + "\r\n0\r\n\r\n");
    const auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 413u);
}

TEST_F(ServerTest, BodyWithinTheLimitReachesTheHandler) {
    Config config = test::test_config();
    config.limits.max_body_bytes = 1024;
    start(config);
    RawClient client(port());
    client.send("POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" +
                std::string(1024, 'c'));
    const auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200u);
    EXPECT_EQ(reply->body, "1024");
}

TEST_F(ServerTest, MalformedRequestIsAnswered400) {
    start();
    RawClient client(port());
    client.send("GET /ping HTTP/9.9 nonsense\r\n\r\n");
    const auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 400u);
    EXPECT_EQ(reply->body, R"({"error":"bad request"})");
}

TEST_F(ServerTest, HandlerExceptionBecomes500WithoutItsMessage) {
    start();
    const auto reply = test::fetch(port(), "/throw");
    EXPECT_EQ(reply.status, 500u);
    EXPECT_EQ(reply.body, R"({"error":"internal error"})");
    server_->stop(5s);
    EXPECT_EQ(log_.str().find("sekrit123"), std::string::npos);
}

TEST_F(ServerTest, StalledHalfRequestIsCutOffAfterTheReadTimeout) {
    Config config = test::test_config();
    config.limits.read_timeout = 400ms;
    start(config);
    RawClient client(port());
    const auto start_time = std::chrono::steady_clock::now();
    client.send("GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow:");
    EXPECT_TRUE(client.wait_closed(3s));
    const double elapsed = seconds_since(start_time);
    EXPECT_GE(elapsed, 0.3);
    EXPECT_LT(elapsed, 1.5);
}

TEST_F(ServerTest, TricklingBytesDoesNotExtendTheReadTimeout) {
    Config config = test::test_config();
    config.limits.read_timeout = 600ms;
    start(config);
    RawClient client(port());
    const auto start_time = std::chrono::steady_clock::now();
    bool closed = false;
    for (int i = 0; i < 20 && !closed; ++i) {
        client.send("X");
        closed = client.wait_closed(100ms);
    }
    EXPECT_TRUE(closed || client.wait_closed(2s));
    EXPECT_LT(seconds_since(start_time), 1.5);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
    Config config = test::test_config();
    config.limits.idle_timeout = 400ms;
    start(config);
    RawClient client(port());
    client.send(test::get_request("/ping"));
    ASSERT_TRUE(client.read_reply());
    const auto start_time = std::chrono::steady_clock::now();
    EXPECT_TRUE(client.wait_closed(3s));
    const double elapsed = seconds_since(start_time);
    EXPECT_GE(elapsed, 0.3);
    EXPECT_LT(elapsed, 1.5);
}

TEST_F(ServerTest, GracefulStopFinishesARequestInFlight) {
    start();
    RawClient client(port());
    client.send(test::get_request("/slow"));
    ASSERT_EQ(slow_entered_.get_future().wait_for(5s), std::future_status::ready);
    auto stopped = std::async(std::launch::async, [this] { return server_->stop(5s); });
    const auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200u);
    EXPECT_EQ(reply->body, R"({"done":true})");
    EXPECT_EQ(reply->header("connection"), "close");
    client.close();
    EXPECT_TRUE(stopped.get());
    EXPECT_TRUE(test::connection_refused(port()));
}

TEST_F(ServerTest, AWaitingHandlerLeavesItsThreadToOtherConnections) {
    Config config = test::test_config();
    config.threads = 1;
    slow_duration_ = 3000ms;
    start(config);
    RawClient slow(port());
    slow.send(test::get_request("/slow"));
    ASSERT_EQ(slow_entered_.get_future().wait_for(5s), std::future_status::ready);
    // The only I/O thread serves another connection while /slow waits.
    RawClient other(port());
    other.send(test::get_request("/ping"));
    const auto start_time = std::chrono::steady_clock::now();
    const auto reply = other.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200u);
    EXPECT_LT(seconds_since(start_time), 2.0) << "the ping waited for the slow handler";
    const auto slow_reply = slow.read_reply();
    ASSERT_TRUE(slow_reply);
    EXPECT_EQ(slow_reply->body, R"({"done":true})");
}

TEST_F(ServerTest, StopClosesIdleConnectionsAtOnce) {
    start();
    RawClient client(port());
    client.send(test::get_request("/ping"));
    ASSERT_TRUE(client.read_reply());
    const auto start_time = std::chrono::steady_clock::now();
    EXPECT_TRUE(server_->stop(5s));
    EXPECT_LT(seconds_since(start_time), 1.0);
    EXPECT_TRUE(client.wait_closed(1s));
}

TEST_F(ServerTest, StopCutsOffWhatOutlivesTheShutdownTimeout) {
    slow_duration_ = 1500ms;
    start();
    RawClient client(port());
    client.send(test::get_request("/slow"));
    ASSERT_EQ(slow_entered_.get_future().wait_for(5s), std::future_status::ready);
    EXPECT_FALSE(server_->stop(200ms));
    EXPECT_TRUE(client.wait_closed(1s));
}

}  // namespace
}  // namespace mcp::bridge
