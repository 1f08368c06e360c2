#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "event_streams.hpp"
#include "http_server.hpp"
#include "responses.hpp"
#include "test_support.hpp"

namespace mcp::bridge {
namespace {

using namespace std::chrono_literals;
using test::RawClient;

// A server whose GET /events opens an event stream the test feeds.
class SseTest : public ::testing::Test {
protected:
    void start(std::chrono::milliseconds heartbeat = 10s) {
        Config config = test::test_config();
        config.limits.sse_heartbeat = heartbeat;
        Router router;
        router.add(http::verb::get, "/events",
                   Router::ReplyHandler([this](const Request& request, const RouteParams&) {
                       Reply reply;
                       reply.response = Response{http::status::ok, request.version()};
                       reply.stream = hub_.open("session");
                       return reply;
                   }));
        server_ = std::make_unique<HttpServer>(config, std::move(router), logger_, announce_);
        server_->start();
    }

    std::string open_stream(RawClient& client) {
        client.send(test::get_request("/events"));
        return client.read_until("\r\n\r\n", 5s);
    }

    bool wait_stream_count(std::size_t count) {
        for (int i = 0; i < 300; ++i) {
            if (hub_.open_streams() == count) {
                return true;
            }
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }

    StreamHub hub_;
    std::ostringstream log_;
    std::ostringstream announce_;
    Logger logger_{log_};
    std::unique_ptr<HttpServer> server_;
};

TEST_F(SseTest, EventsAreWrittenAsTheyArriveOneJsonMessagePerEvent) {
    start();
    RawClient client(server_->port());
    const std::string head = open_stream(client);
    EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
    EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;
    EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
    EXPECT_NE(head.find("X-Accel-Buffering: no"), std::string::npos) << head;
    EXPECT_NE(head.find("Cache-Control: no-cache"), std::string::npos) << head;
    ASSERT_TRUE(wait_stream_count(1));
    hub_.broadcast(R"({"jsonrpc":"2.0","method":"a"})");
    std::string seen = client.read_until(R"(data: {"jsonrpc":"2.0","method":"a"})", 2s);
    EXPECT_NE(seen.find("event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"a\"}\n\n"), std::string::npos) << seen;
    hub_.broadcast(R"({"jsonrpc":"2.0","method":"b"})");
    seen = client.read_until(R"("method":"b")", 2s);
    EXPECT_NE(seen.find(R"("method":"b")"), std::string::npos) << seen;
}

TEST_F(SseTest, HeadGetsTheHeadersAndNoStream) {
    start();
    const auto reply = test::fetch(server_->port(), "/events", "HEAD");
    EXPECT_EQ(reply.status, 200u);
    EXPECT_EQ(hub_.open_streams(), 0u);
}

TEST_F(SseTest, HeartbeatsKeepAnIdleStreamAlive) {
    start(100ms);
    RawClient client(server_->port());
    open_stream(client);
    const std::string seen = client.read_until(": keepalive\n\n", 2s);
    EXPECT_NE(seen.find(": keepalive\n\n"), std::string::npos) << seen;
}

TEST_F(SseTest, ClosingTheChannelEndsTheResponseAndTheConnection) {
    start();
    RawClient client(server_->port());
    open_stream(client);
    ASSERT_TRUE(wait_stream_count(1));
    hub_.close_session("session");
    const std::string seen = client.read_until("0\r\n\r\n", 2s);
    EXPECT_NE(seen.find("0\r\n\r\n"), std::string::npos) << "the last chunk";
    EXPECT_TRUE(client.wait_closed(3s));
}

TEST_F(SseTest, AClientThatLeavesClosesItsChannel) {
    start();
    auto client = std::make_unique<RawClient>(server_->port());
    open_stream(*client);
    ASSERT_TRUE(wait_stream_count(1));
    client.reset();
    EXPECT_TRUE(wait_stream_count(0));
}

TEST_F(SseTest, AGracefulStopEndsOpenStreamsPromptly) {
    start();
    RawClient client(server_->port());
    open_stream(client);
    ASSERT_TRUE(wait_stream_count(1));
    const auto begin = std::chrono::steady_clock::now();
    EXPECT_TRUE(server_->stop(5s)) << "nothing had to be cut off";
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 4s);
    EXPECT_TRUE(client.wait_closed(1s));
}

TEST_F(SseTest, TheStreamIsLoggedOnceWithTheBytesItCarried) {
    start();
    {
        RawClient client(server_->port());
        open_stream(client);
        ASSERT_TRUE(wait_stream_count(1));
        hub_.broadcast("{}");
        client.read_until("data: {}", 2s);
        hub_.close_session("session");
        client.wait_closed(3s);
    }
    server_->stop(2s);
    const std::string log = log_.str();
    EXPECT_NE(log.find(R"("path":"/events","status":200)"), std::string::npos) << log;
    EXPECT_EQ(log.find("\"path\":\"/events\""), log.rfind("\"path\":\"/events\"")) << log;
}

}  // namespace
}  // namespace mcp::bridge
