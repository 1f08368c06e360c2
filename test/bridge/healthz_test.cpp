#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sstream>
#include <vector>

#include "app.hpp"
#include "test_support.hpp"

namespace mcp::bridge {
namespace {

using test::fetch;
using test::missing_database_message;

// The whole bridge in-process, with its log captured. The log may be read after stop().
class RunningApp {
public:
    explicit RunningApp(const std::string& database_url) {
        Config config = test::test_config();
        config.database_url = database_url;
        app_ = std::make_unique<App>(config, logger_, announce_);
        app_->start();
    }
    std::uint16_t port() const { return app_->port(); }
    std::string stop_and_read_log() {
        app_->stop(std::chrono::seconds(5));
        return log_.str();
    }

private:
    std::ostringstream log_;
    std::ostringstream announce_;
    Logger logger_{log_};
    std::unique_ptr<App> app_;
};

rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    EXPECT_FALSE(doc.HasParseError()) << text;
    return doc;
}

void expect_common_headers(const test::HttpReply& reply) {
    EXPECT_EQ(reply.header("content-type"), "application/json");
    EXPECT_EQ(reply.header("cache-control"), "no-store");
    EXPECT_EQ(reply.header("x-content-type-options"), "nosniff");
}

TEST(Healthz, Answers200WithLatencyWhenTheDatabaseIsReachable) {
    const auto url = test::test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    RunningApp app(*url);
    const auto reply = fetch(app.port(), "/healthz");
    EXPECT_EQ(reply.status, 200u) << reply.body;
    expect_common_headers(reply);
    const auto doc = parse_json(reply.body);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_STREQ(doc["status"].GetString(), "ok");
    EXPECT_STREQ(doc["database"].GetString(), "reachable");
    ASSERT_TRUE(doc["latency_ms"].IsNumber());
    EXPECT_GE(doc["latency_ms"].GetDouble(), 0.0);
}

TEST(Healthz, HeadAnswersWithTheSameHeadersAndNoBody) {
    const auto url = test::test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    RunningApp app(*url);
    test::RawClient client(app.port());
    client.send(test::get_request("/healthz", true, "HEAD"));
    const auto head = client.read_reply(std::chrono::seconds(5), true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200u);
    expect_common_headers(*head);
    EXPECT_TRUE(head->body.empty());
    EXPECT_NE(head->header("content-length"), "0");
    // The connection is still in step: a GET on it gets its own full answer.
    client.send(test::get_request("/healthz"));
    const auto get = client.read_reply();
    ASSERT_TRUE(get);
    EXPECT_EQ(std::to_string(get->body.size()), get->header("content-length"));
}

TEST(Healthz, Answers503UnreachableForAClosedPortWithoutRevealingTheUrl) {
    const std::string port = std::to_string(test::closed_port());
    RunningApp app("postgresql://bridge:sekrit123@127.0.0.1:" + port + "/postgres");
    const auto reply = fetch(app.port(), "/healthz");
    EXPECT_EQ(reply.status, 503u);
    expect_common_headers(reply);
    EXPECT_EQ(reply.body, R"({"status":"unavailable","database":"unreachable"})");
    const std::string log = app.stop_and_read_log();
    for (const std::string& secret : std::vector<std::string>{"sekrit123", "bridge:", port}) {
        EXPECT_EQ(reply.body.find(secret), std::string::npos) << secret;
        EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in log:\n" << log;
    }
}

TEST(Healthz, Answers503UnconfiguredWithoutADatabaseUrl) {
    RunningApp app("");
    const auto reply = fetch(app.port(), "/healthz");
    EXPECT_EQ(reply.status, 503u);
    EXPECT_EQ(reply.body, R"({"status":"unavailable","database":"unconfigured"})");
}

TEST(Healthz, AnswersWithinThreeSecondsWhenTheDatabaseBlackholes) {
    test::SilentListener blackhole;
    RunningApp app("host=127.0.0.1 port=" + std::to_string(blackhole.port()) +
                   " user=nobody dbname=nothing sslmode=disable");
    const auto start = std::chrono::steady_clock::now();
    const auto reply = fetch(app.port(), "/healthz");
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(reply.status, 503u);
    EXPECT_LT(elapsed.count(), 3.0);
}

TEST(Healthz, OtherMethodsGet405WithAllow) {
    RunningApp app("");
    const auto reply = fetch(app.port(), "/healthz", "POST");
    EXPECT_EQ(reply.status, 405u);
    EXPECT_EQ(reply.header("allow"), "GET, HEAD");
    expect_common_headers(reply);
}

TEST(Healthz, RequestIsLoggedAsOneLineWithoutQueryStringOrHeaders) {
    RunningApp app("");
    test::RawClient client(app.port());
    client.send(
        "GET /healthz?token=abc123 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hunter2\r\n"
        "Connection: close\r\n\r\n");
    ASSERT_TRUE(client.read_reply());
    const std::string log = app.stop_and_read_log();
    EXPECT_EQ(log.find("abc123"), std::string::npos) << log;
    EXPECT_EQ(log.find("hunter2"), std::string::npos) << log;
    std::istringstream lines(log);
    std::string line;
    ASSERT_TRUE(std::getline(lines, line));
    const auto doc = parse_json(line);
    EXPECT_STREQ(doc["method"].GetString(), "GET");
    EXPECT_STREQ(doc["path"].GetString(), "/healthz");
    EXPECT_EQ(doc["status"].GetUint(), 503u);
    EXPECT_TRUE(doc["duration_ms"].IsNumber());
    EXPECT_EQ(doc["bytes"].GetUint(), 50u);
    EXPECT_TRUE(doc.HasMember("ts"));
}

}  // namespace
}  // namespace mcp::bridge
