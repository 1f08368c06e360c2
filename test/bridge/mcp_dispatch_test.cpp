#include <gtest/gtest.h>

#include <future>
#include <string>

#include "fake_backend.hpp"
#include "json.hpp"
#include "mcp_dispatch.hpp"
#include "metrics.hpp"

namespace mcp::bridge {
namespace {

using test::FakeBackend;

class DispatchTest : public ::testing::Test {
protected:
    DispatchResult send(const std::string& text) {
        auto body = parse_body(text);
        EXPECT_FALSE(body.parse_error) << text;
        return dispatcher_.handle(body.messages.at(0), context_);
    }

    // The parsed response; fails the test when there is none.
    rapidjson::Document answer(const std::string& text) {
        const DispatchResult result = send(text);
        EXPECT_TRUE(result.response) << text;
        auto document = parse_json(result.response.value_or("{}"));
        EXPECT_TRUE(document);
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
        const auto result = answer(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")" +
                                   version + R"(","capabilities":{},"clientInfo":{"name":"gtest","version":"9"}}})");
        ASSERT_TRUE(result.HasMember("result")) << to_json(result);
    }

    FakeBackend backend_;
    InFlightRequests in_flight_;
    Metrics metrics_;
    McpDispatcher dispatcher_{backend_, in_flight_, McpDispatcher::Options{1, ServerInfo{}}, &metrics_};
    DispatchContext context_;
};

TEST_F(DispatchTest, InitializeNegotiatesOpensASessionAndDeclaresWhatIsImplemented) {
    const DispatchResult result = send(
        R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
        R"("capabilities":{"roots":{}},"clientInfo":{"name":"Claude","version":"1.0"}}})");
    ASSERT_TRUE(result.response);
    ASSERT_TRUE(result.new_session_id);
    EXPECT_EQ(result.negotiated_version, "2025-06-18");
    const auto document = parse_json(*result.response);
    const auto& r = (*document)["result"];
    EXPECT_STREQ(r["protocolVersion"].GetString(), "2025-06-18");
    EXPECT_TRUE(r["capabilities"]["tools"]["listChanged"].GetBool());
    EXPECT_TRUE(r["capabilities"]["resources"]["listChanged"].GetBool());
    EXPECT_TRUE(r["capabilities"].HasMember("logging"));
    EXPECT_TRUE(r["capabilities"].HasMember("completions"));
    EXPECT_TRUE(r["capabilities"]["resources"]["subscribe"].GetBool());
    EXPECT_STREQ(r["serverInfo"]["name"].GetString(), "mcp-analytics");
    EXPECT_TRUE(context_.has_session);
    EXPECT_EQ(context_.caller.client_name, "Claude");
    EXPECT_EQ(context_.caller.client_version, "1.0");
    EXPECT_NE(backend_.last_new_session.client_info_json.find("Claude"), std::string::npos);
    EXPECT_NE(backend_.last_new_session.capabilities_json.find("roots"), std::string::npos);
}

TEST_F(DispatchTest, AnUnknownVersionGetsTheLatestAndOldOnesGetNoTitle) {
    auto document = answer(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2099-01-01"}})");
    EXPECT_STREQ(document["result"]["protocolVersion"].GetString(), "2025-11-25");
    EXPECT_TRUE(document["result"]["serverInfo"].HasMember("title"));
    context_ = {};
    document = answer(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05"}})");
    EXPECT_STREQ(document["result"]["protocolVersion"].GetString(), "2024-11-05");
    EXPECT_FALSE(document["result"]["serverInfo"].HasMember("title"));
}

TEST_F(DispatchTest, InitializeNeedsAVersionAndHappensOnce) {
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})"), -32602);
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"initialize"})"), -32602);
    initialize();
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})"),
              -32600);
}

TEST_F(DispatchTest, PingWorksBeforeInitializeAndNothingElseDoes) {
    const auto pong = answer(R"({"jsonrpc":"2.0","id":"p","method":"ping"})");
    EXPECT_EQ(to_json(pong), R"({"jsonrpc":"2.0","id":"p","result":{}})");
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})"), -32600);
}

TEST_F(DispatchTest, UnknownMethodsAreMethodNotFound) {
    initialize();
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"tools/delete"})"), -32601);
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{}})"), -32601);
}

TEST_F(DispatchTest, NotificationsAndResponsesGetNoAnswer) {
    initialize();
    EXPECT_FALSE(send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").response);
    EXPECT_TRUE(backend_.sessions.begin()->second.initialized);
    EXPECT_FALSE(send(R"({"jsonrpc":"2.0","method":"notifications/whatever"})").response);
    EXPECT_FALSE(send(R"({"jsonrpc":"2.0","id":5,"result":{}})").response);
}

TEST_F(DispatchTest, ListsArePagedWithOpaqueCursors) {
    initialize();
    auto page = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
    ASSERT_EQ(page["result"]["tools"].Size(), 1u);
    EXPECT_STREQ(page["result"]["tools"][0]["name"].GetString(), "echo");
    ASSERT_TRUE(page["result"].HasMember("nextCursor"));
    const std::string cursor = page["result"]["nextCursor"].GetString();
    page = answer(R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":")" + cursor + R"("}})");
    EXPECT_STREQ(page["result"]["tools"][0]["name"].GetString(), "slow");
    EXPECT_FALSE(page["result"].HasMember("nextCursor")) << "the last page has none";
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"zz"}})"), -32602);
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"99"}})"), -32602);
}

TEST_F(DispatchTest, ToolDefinitionsAreShapedForTheNegotiatedVersion) {
    initialize("2025-11-25");
    auto page = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
    EXPECT_TRUE(page["result"]["tools"][0].HasMember("outputSchema"));
    EXPECT_TRUE(page["result"]["tools"][0].HasMember("title"));
    EXPECT_TRUE(page["result"]["tools"][0].HasMember("annotations"));
    context_ = {};
    initialize("2025-03-26");
    page = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
    EXPECT_FALSE(page["result"]["tools"][0].HasMember("outputSchema"));
    EXPECT_FALSE(page["result"]["tools"][0].HasMember("title"));
    EXPECT_TRUE(page["result"]["tools"][0].HasMember("annotations"));
    context_ = {};
    initialize("2024-11-05");
    page = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
    EXPECT_FALSE(page["result"]["tools"][0].HasMember("annotations"));
}

TEST_F(DispatchTest, ToolCallsPassArgumentsAndCallerAndKeepStructuredOutputForNewClients) {
    initialize("2025-06-18");
    auto result = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":[1,2]}}})");
    EXPECT_TRUE(result["result"].HasMember("structuredContent"));
    EXPECT_EQ(backend_.last_arguments, R"({"a":[1,2]})");
    EXPECT_EQ(backend_.last_context_client, "gtest");
    context_ = {};
    initialize("2025-03-26");
    result = answer(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}})");
    EXPECT_FALSE(result["result"].HasMember("structuredContent")) << "2025-03-26 has no structured output";
    EXPECT_EQ(backend_.last_arguments, "{}");
}

TEST_F(DispatchTest, ToolCallParamsAreValidatedAndUnknownToolsAreInvalidParams) {
    initialize();
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}})"), -32602);
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}})"), -32602);
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":[]}})"), -32602);
    const auto unknown = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}})");
    EXPECT_EQ(unknown["error"]["code"].GetInt(), -32602);
    EXPECT_STREQ(unknown["error"]["message"].GetString(), "Unknown tool: nope");
}

TEST_F(DispatchTest, AnUnreachableDatabaseIsAToolErrorTheModelCanReadNotAProtocolError) {
    initialize();
    backend_.database_up = false;
    const auto result = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}})");
    ASSERT_TRUE(result.HasMember("result"));
    EXPECT_TRUE(result["result"]["isError"].GetBool());
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})"), -32603);
}

TEST_F(DispatchTest, CancelledRequestsGetNoResponse) {
    initialize();
    auto running = std::async(std::launch::async, [this] {
        DispatchContext copy = context_;
        auto body = parse_body(R"({"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"slow"}})");
        return dispatcher_.handle(body.messages[0], copy);
    });
    while (backend_.tool_calls.load() == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto started = std::chrono::steady_clock::now();
    EXPECT_FALSE(send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"call-1","reason":"user"}})").response);
    const DispatchResult result = running.get();
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
    EXPECT_TRUE(result.cancelled);
    EXPECT_FALSE(result.response);
    // Unknown ids are ignored.
    EXPECT_FALSE(send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99}})").response);
}

TEST_F(DispatchTest, ResourcesAndPromptsMapTheirErrors) {
    initialize();
    auto read = answer(R"({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"mem://a"}})");
    EXPECT_STREQ(read["result"]["contents"][0]["text"].GetString(), "A");
    read = answer(R"({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"mem://zz"}})");
    EXPECT_EQ(read["error"]["code"].GetInt(), -32002);
    EXPECT_STREQ(read["error"]["data"]["uri"].GetString(), "mem://zz");
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":3,"method":"resources/read","params":{}})"), -32602);
    const auto templates = answer(R"({"jsonrpc":"2.0","id":4,"method":"resources/templates/list"})");
    EXPECT_TRUE(templates["result"]["resourceTemplates"].IsArray());

    const auto prompt = answer(R"({"jsonrpc":"2.0","id":5,"method":"prompts/get","params":{"name":"p","arguments":{"q":"x"}}})");
    EXPECT_TRUE(prompt["result"]["messages"].IsArray());
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"zz"}})"), -32602);
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":7,"method":"prompts/get","params":{"name":"p"}})"), -32602);
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":8,"method":"prompts/get","params":{"name":"p","arguments":{"q":1}}})"), -32602);
}

TEST_F(DispatchTest, SetLevelAcceptsTheEightLevelsOnly) {
    initialize();
    EXPECT_EQ(to_json(answer(R"({"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"warning"}})")),
              R"({"jsonrpc":"2.0","id":1,"result":{}})");
    EXPECT_EQ(backend_.sessions.begin()->second.log_level, "warning");
    EXPECT_EQ(error_code(R"({"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"loud"}})"), -32602);
}

TEST_F(DispatchTest, ToolCallsAreCountedByToolAndOutcome) {
    initialize();
    send(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}})");
    send(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"nope"}})");
    const auto failed = answer(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"fails"}})");
    EXPECT_TRUE(failed["result"]["isError"].GetBool()) << "a failed tool is a result, not an error";
    const std::string text = metrics_.render();
    EXPECT_NE(text.find(R"(mcp_bridge_tool_calls_total{tool="fails",outcome="error"} 1)"), std::string::npos) << text;
    EXPECT_NE(text.find(R"(mcp_bridge_tool_calls_total{tool="echo",outcome="ok"} 1)"), std::string::npos) << text;
    EXPECT_NE(text.find(R"(mcp_bridge_tool_calls_total{tool="unknown",outcome="rejected"} 1)"), std::string::npos) << text;
}

}  // namespace
}  // namespace mcp::bridge
