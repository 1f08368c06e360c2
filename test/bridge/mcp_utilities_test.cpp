// completion/complete, resources/subscribe and icons as the dispatcher serves them.
#include <gtest/gtest.h>

#include <string>

#include "fake_backend.hpp"
#include "json.hpp"
#include "mcp_dispatch.hpp"
#include "metrics.hpp"

namespace mcp::bridge {
namespace {

using test::FakeBackend;

class UtilitiesTest : public ::testing::Test {
protected:
    rapidjson::Document answer(const std::string& text) {
        auto body = parse_body(text);
        EXPECT_FALSE(body.parse_error) << text;
        const DispatchResult result = dispatcher_.handle(body.messages.at(0), context_);
        EXPECT_TRUE(result.response) << text;
        auto document = parse_json(result.response.value_or("{}"));
        return std::move(*document);
    }

    int error_code(const std::string& text) {
        const auto document = answer(text);
        if (!document.HasMember("error")) {
            ADD_FAILURE() << "no error for " << text << ": " << to_json(document);
            return 0;
        }
        return document["error"]["code"].GetInt();
    }

    void initialize(const std::string& version = "2025-11-25") {
        const auto result = answer(
            R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")" +
            version + R"(","capabilities":{},"clientInfo":{"name":"gtest","version":"9"}}})");
        ASSERT_TRUE(result.HasMember("result")) << to_json(result);
    }

    FakeBackend backend_;
    InFlightRequests in_flight_;
    Metrics metrics_;
    McpDispatcher dispatcher_{backend_, in_flight_, McpDispatcher::Options{}, &metrics_};
    DispatchContext context_;
};

TEST_F(UtilitiesTest, CompletionPassesRefArgumentAndContextToTheBackend) {
    initialize();
    auto document = answer(
        R"({"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},)"
        R"("argument":{"name":"q","value":"a"},"context":{"arguments":{"x":"1"}}}})");
    ASSERT_TRUE(document.HasMember("result")) << to_json(document);
    const auto& values = document["result"]["completion"]["values"];
    ASSERT_EQ(values.Size(), 2u);
    EXPECT_STREQ(values[0].GetString(), "alpha");
    EXPECT_NE(backend_.last_completion_context.find("\"x\":\"1\""), std::string::npos);
}

TEST_F(UtilitiesTest, CompletionRefusesMalformedParamsWithInvalidParams) {
    initialize();
    for (const char* params :
         {R"({})", R"({"ref":"p","argument":{"name":"q","value":""}})",
          R"({"ref":{"name":"p"},"argument":{"name":"q","value":""}})",
          R"({"ref":{"type":"ref/prompt","name":"p"}})",
          R"({"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"q"}})",
          R"({"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":7,"value":""}})",
          R"({"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"q","value":5}})",
          R"({"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"q","value":""},"context":[1]})",
          R"({"ref":{"type":"ref/prompt","name":"nope"},"argument":{"name":"q","value":""}})"}) {
        EXPECT_EQ(error_code(std::string(R"({"jsonrpc":"2.0","id":2,"method":"completion/complete","params":)") +
                             params + "}"),
                  rpc_error::invalid_params)
            << params;
    }
}

TEST_F(UtilitiesTest, CompletionNeedsASessionLikeEveryOtherMethod) {
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"q","value":"a"}}})"),
              rpc_error::invalid_request);
}

TEST_F(UtilitiesTest, SubscribeAndUnsubscribeAreRecordedForTheSession) {
    initialize();
    const std::string session = context_.caller.session_id;
    auto document = answer(R"({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"mem://a"}})");
    ASSERT_TRUE(document.HasMember("result")) << to_json(document);
    EXPECT_EQ(backend_.subscriptions[session], std::vector<std::string>{"mem://a"});
    document = answer(R"({"jsonrpc":"2.0","id":2,"method":"resources/unsubscribe","params":{"uri":"mem://a"}})");
    ASSERT_TRUE(document.HasMember("result")) << to_json(document);
    EXPECT_TRUE(backend_.subscriptions[session].empty());
}

TEST_F(UtilitiesTest, SubscribeRefusesMissingUrisForeignUrisAndEndedSessions) {
    initialize();
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{}})"),
              rpc_error::invalid_params);
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":42}})"),
              rpc_error::invalid_params);
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"file:///etc/passwd"}})"),
              rpc_error::invalid_params);
    backend_.sessions.clear();
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"mem://a"}})"),
              rpc_error::invalid_request);
}

TEST_F(UtilitiesTest, IconsReachOnly20251125Clients) {
    backend_.tools_json =
        R"([{"name":"echo","title":"Echo","description":"Echoes","inputSchema":{"type":"object"},)"
        R"("icons":[{"src":"data:image/svg+xml;base64,PHN2Zy8+","mimeType":"image/svg+xml"}]}])";
    initialize("2025-11-25");
    auto document = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
    EXPECT_TRUE(document["result"]["tools"][0].HasMember("icons"));
    context_ = DispatchContext{};
    initialize("2025-06-18");
    document = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
    EXPECT_FALSE(document["result"]["tools"][0].HasMember("icons"));
    EXPECT_TRUE(document["result"]["tools"][0].HasMember("title"));
}

}  // namespace
}  // namespace mcp::bridge
