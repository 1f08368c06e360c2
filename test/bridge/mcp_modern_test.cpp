// MCP 2026-07-28 in the bridge: per-request metadata, header values, result fields, the
// stateless dispatch, and subscriptions/listen streams.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "event_streams.hpp"
#include "fake_backend.hpp"
#include "json.hpp"
#include "mcp_dispatch.hpp"
#include "mcp_listen.hpp"
#include "mcp_modern.hpp"
#include "mcp_tasks.hpp"
#include "metrics.hpp"

namespace mcp::bridge {
namespace {

using test::FakeBackend;

RpcMessage message_of(const std::string& text) {
    auto body = parse_body(text);
    EXPECT_FALSE(body.parse_error) << text;
    return std::move(body.messages.at(0));
}

const std::string modern_meta =
    R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
    R"("io.modelcontextprotocol/clientInfo":{"name":"raw","version":"2"},)"
    R"("io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}})";

TEST(RequestMeta, ReadsVersionClientCapabilitiesLevelAndTrace) {
    const auto meta = read_request_meta(message_of(
        R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{)"
        R"("io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
        R"("io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},)"
        R"("io.modelcontextprotocol/clientCapabilities":{"elicitation":{}},)"
        R"("io.modelcontextprotocol/logLevel":"debug",)"
        R"("traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}})"));
    EXPECT_TRUE(meta.modern);
    EXPECT_EQ(meta.protocol_version, "2026-07-28");
    EXPECT_EQ(meta.client_name, "c");
    EXPECT_EQ(meta.client_version, "1");
    EXPECT_EQ(meta.client_capabilities_json, R"({"elicitation":{}})");
    EXPECT_EQ(meta.log_level, "debug");
    EXPECT_EQ(meta.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    EXPECT_TRUE(meta.problem.empty());
}

TEST(RequestMeta, LegacyRequestsAndMalformedMetadata) {
    EXPECT_FALSE(read_request_meta(message_of(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})")).modern);
    EXPECT_FALSE(read_request_meta(message_of(R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":[]}})")).modern);
    for (const char* bad : {R"("io.modelcontextprotocol/protocolVersion":7)",
                            R"("io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":"me")",
                            R"("io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/logLevel":"loud")",
                            R"("io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":1)"}) {
        const auto meta = read_request_meta(message_of(
            std::string(R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{)") + bad + "}}}"));
        EXPECT_TRUE(meta.modern) << bad;
        EXPECT_FALSE(meta.problem.empty()) << bad;
    }
}

TEST(Traceparent, OnlyWellFormedW3cValuesAreKept) {
    EXPECT_TRUE(is_valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'; DROP"}) {
        EXPECT_FALSE(is_valid_traceparent(bad)) << bad;
    }
    const auto meta = read_request_meta(message_of(
        R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"traceparent":"nonsense"}}})"));
    EXPECT_TRUE(meta.traceparent.empty());
    EXPECT_TRUE(meta.problem.empty()) << "a bad traceparent is ignored, not refused";
}

TEST(McpHeaderValue, PlainAndBase64SentinelForms) {
    EXPECT_EQ(decode_mcp_header_value("execute_query"), "execute_query");
    EXPECT_EQ(decode_mcp_header_value("=?base64?SGVsbG8sIOS4lueVjA==?="), "Hello, \xe4\xb8\x96\xe7\x95\x8c");
    EXPECT_EQ(decode_mcp_header_value("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="), "=?base64?literal?=");
    EXPECT_FALSE(decode_mcp_header_value("=?base64?not base64!?="));
    EXPECT_FALSE(decode_mcp_header_value("line\nbreak"));
    EXPECT_EQ(mcp_name_field("tools/call"), std::string("name"));
    EXPECT_EQ(mcp_name_field("resources/read"), std::string("uri"));
    EXPECT_EQ(mcp_name_field("tools/list"), nullptr);
}

TEST(ResultMembers, AreAddedInFrontWithoutReparsing) {
    EXPECT_EQ(add_result_members("{}", R"("resultType":"complete")"), R"({"resultType":"complete"})");
    EXPECT_EQ(add_result_members(R"({"a":1})", R"("resultType":"complete")"),
              R"({"resultType":"complete","a":1})");
    EXPECT_EQ(add_result_members("[1]", R"("x":1)"), "[1]");
}

class StatelessTest : public ::testing::Test {
protected:
    rapidjson::Document answer(const std::string& text, DispatchResult* out = nullptr) {
        DispatchContext context;
        context.stateless = true;
        context.protocol_version = "2026-07-28";
        DispatchResult result = dispatcher_.handle(message_of(text), context);
        EXPECT_TRUE(result.response) << text;
        auto document = parse_json(result.response.value_or("{}"));
        if (out != nullptr) {
            *out = result;
        }
        return std::move(*document);
    }
    std::string request(const std::string& method, const std::string& params = "") {
        return R"({"jsonrpc":"2.0","id":1,"method":")" + method + R"(","params":{)" + params +
               (params.empty() ? "" : ",") + modern_meta + "}}";
    }

    FakeBackend backend_;
    InFlightRequests in_flight_;
    Metrics metrics_;
    McpDispatcher::Options options_ = [] {
        McpDispatcher::Options o;
        o.confirm_queries_over = 2;
        return o;
    }();
    McpDispatcher dispatcher_{backend_, in_flight_, options_, &metrics_};
};

TEST_F(StatelessTest, ServerDiscoverNamesEveryVersionAndTheCapabilities) {
    const auto document = answer(request("server/discover"));
    const auto& r = document["result"];
    EXPECT_STREQ(r["resultType"].GetString(), "complete");
    ASSERT_TRUE(r["supportedVersions"].IsArray());
    EXPECT_STREQ(r["supportedVersions"][0].GetString(), "2026-07-28");
    EXPECT_EQ(r["supportedVersions"].Size(), 5u);
    EXPECT_TRUE(r["capabilities"]["resources"]["subscribe"].GetBool());
    EXPECT_TRUE(r["capabilities"].HasMember("completions"));
    EXPECT_FALSE(r["capabilities"].HasMember("logging"));
    EXPECT_STREQ(r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"].GetString(), "mcp-analytics");
    EXPECT_TRUE(r.HasMember("ttlMs"));
    EXPECT_TRUE(r.HasMember("cacheScope"));
}

TEST_F(StatelessTest, NoSessionIsNeededAndEveryResultSaysComplete) {
    auto document = answer(request("tools/list"));
    const auto& r = document["result"];
    EXPECT_STREQ(r["resultType"].GetString(), "complete");
    EXPECT_EQ(r["ttlMs"].GetInt(), 60000);
    EXPECT_STREQ(r["cacheScope"].GetString(), "private");
    EXPECT_STREQ(r["tools"][0]["inputSchema"]["$schema"].GetString(),
                 "https://json-schema.org/draft/2020-12/schema");
    EXPECT_STREQ(r["tools"][0]["outputSchema"]["$schema"].GetString(),
                 "https://json-schema.org/draft/2020-12/schema");
    EXPECT_STREQ(r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"].GetString(), "mcp-analytics");
    document = answer(request("tools/call", R"("name":"echo","arguments":{})"));
    EXPECT_STREQ(document["result"]["resultType"].GetString(), "complete");
    EXPECT_FALSE(document["result"].HasMember("ttlMs"));
    EXPECT_EQ(backend_.last_context_client, "raw") << "clientInfo comes from _meta";
    document = answer(request("resources/read", R"("uri":"mem://a")"));
    EXPECT_EQ(document["result"]["ttlMs"].GetInt(), 30000);
    EXPECT_TRUE(backend_.sessions.empty()) << "nothing was opened";
}

TEST_F(StatelessTest, RemovedMethodsAreMethodNotFoundAndErrorsAreRenumbered) {
    for (const char* method : {"initialize", "ping", "logging/setLevel", "resources/subscribe"}) {
        DispatchResult result;
        const auto document = answer(request(method), &result);
        EXPECT_EQ(document["error"]["code"].GetInt(), rpc_error::method_not_found) << method;
        EXPECT_EQ(result.error_code, rpc_error::method_not_found);
    }
    const auto missing = answer(request("resources/read", R"("uri":"mem://zzz")"));
    EXPECT_EQ(missing["error"]["code"].GetInt(), rpc_error::invalid_params) << "was -32002";
    const auto bad_level = answer(
        R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/logLevel":"shout"}}})");
    EXPECT_EQ(bad_level["error"]["code"].GetInt(), rpc_error::invalid_params);
}

TEST_F(StatelessTest, AnExpensiveMultiQueryAsksForConfirmationFirst) {
    const std::string queries =
        R"("arguments":{"queries":[{"dataset_id":1,"sql":"SELECT 1"},{"dataset_id":1,"sql":"SELECT 2"},{"dataset_id":1,"sql":"SELECT 3"}]})";
    const int calls_before = backend_.tool_calls;
    auto document = answer(request("tools/call", R"("name":"execute_multi_query",)" + queries));
    const auto& asked = document["result"];
    ASSERT_STREQ(asked["resultType"].GetString(), "input_required") << to_json(document);
    EXPECT_STREQ(asked["inputRequests"]["confirm"]["method"].GetString(), "elicitation/create");
    const std::string state = asked["requestState"].GetString();
    EXPECT_EQ(backend_.tool_calls, calls_before) << "nothing ran";

    document = answer(request("tools/call", R"("name":"execute_multi_query",)" + queries +
                                                R"(,"requestState":")" + state +
                                                R"(","inputResponses":{"confirm":{"action":"decline"}})"));
    EXPECT_TRUE(document["result"]["isError"].GetBool());
    EXPECT_EQ(backend_.tool_calls, calls_before);

    // A state minted for other arguments does not confirm these.
    document = answer(request("tools/call", R"("name":"execute_multi_query",)" + queries +
                                                R"(,"requestState":"0000000000000000","inputResponses":{"confirm":{"action":"accept","content":{"confirm":true}}})"));
    EXPECT_STREQ(document["result"]["resultType"].GetString(), "input_required");

    answer(request("tools/call", R"("name":"execute_multi_query",)" + queries + R"(,"requestState":")" +
                                     state + R"(","inputResponses":{"confirm":{"action":"accept","content":{"confirm":true}}})"));
    EXPECT_EQ(backend_.tool_calls, calls_before + 1) << "confirmed: it runs";
}

TEST_F(StatelessTest, ClientsThatCannotAnswerAreNotAsked) {
    const int calls_before = backend_.tool_calls;
    answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute_multi_query","arguments":{"queries":[1,2,3]},)"
           R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})");
    EXPECT_EQ(backend_.tool_calls, calls_before + 1);
}

TEST(ListenFilter, ParsesWhatTheClientOptsInto) {
    std::string problem;
    auto params = parse_json(R"({"notifications":{"toolsListChanged":true,"resourceSubscriptions":["mcp-analytics://datasets/3/overview"]}})");
    auto filter = ListenFilter::from_params(*params, problem);
    ASSERT_TRUE(filter) << problem;
    EXPECT_TRUE(filter->tools_list_changed);
    EXPECT_FALSE(filter->prompts_list_changed);
    EXPECT_EQ(filter->resource_uris.size(), 1u);
    for (const char* bad : {R"({})", R"({"notifications":true})", R"({"notifications":{"toolsListChanged":"yes"}})",
                            R"({"notifications":{"resourceSubscriptions":"x"}})",
                            R"({"notifications":{"resourceSubscriptions":[1]}})"}) {
        params = parse_json(bad);
        EXPECT_FALSE(ListenFilter::from_params(*params, problem)) << bad;
    }
}

TEST(ListenHub, AcknowledgesThenSendsOnlyWhatEachStreamAskedFor) {
    ListenHub hub;
    ListenFilter tools;
    tools.tools_list_changed = true;
    ListenFilter resources;
    resources.resource_uris = {"mcp-analytics://datasets/3/overview", "mcp-analytics://datasets/30/schema"};
    auto a = hub.open(tools, "\"listen-1\"");
    auto b = hub.open(resources, "7");
    std::string message;
    ASSERT_TRUE(a->pop(message));
    EXPECT_NE(message.find("notifications/subscriptions/acknowledged"), std::string::npos);
    EXPECT_NE(message.find(R"("io.modelcontextprotocol/subscriptionId":"listen-1")"), std::string::npos);
    ASSERT_TRUE(b->pop(message));

    EXPECT_EQ(hub.list_changed("notifications/tools/list_changed"), 1u);
    ASSERT_TRUE(a->pop(message));
    EXPECT_EQ(message, R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"listen-1"}}})");
    EXPECT_FALSE(b->pop(message));

    EXPECT_EQ(hub.resources_changed({3}), 1u);
    ASSERT_TRUE(b->pop(message));
    EXPECT_NE(message.find(R"("uri":"mcp-analytics://datasets/3/overview")"), std::string::npos);
    EXPECT_NE(message.find(R"("io.modelcontextprotocol/subscriptionId":7)"), std::string::npos);
    EXPECT_FALSE(a->pop(message));

    EXPECT_EQ(hub.open_streams(), 2u);
    b.reset();
    EXPECT_EQ(hub.open_streams(), 1u);
    hub.close_all();
    EXPECT_TRUE(a->closed());
}

TEST(ListenHub, UrisConcernTheirDatasetAndTheCatalogOnly) {
    EXPECT_TRUE(ListenHub::uri_concerns("mcp-analytics://datasets", {9}));
    EXPECT_TRUE(ListenHub::uri_concerns("mcp-analytics://datasets/9/tables/events", {9}));
    EXPECT_FALSE(ListenHub::uri_concerns("mcp-analytics://datasets/90/overview", {9}));
    EXPECT_FALSE(ListenHub::uri_concerns("mcp-analytics://datasets/x/overview", {9}));
    EXPECT_FALSE(ListenHub::uri_concerns("mcp-analytics://context/global", {9}));
    EXPECT_FALSE(ListenHub::uri_concerns("mcp-analytics://datasets/99999999999/overview", {9}));
}

}  // namespace
}  // namespace mcp::bridge

namespace mcp::bridge {
namespace {

class TaskDispatchTest : public ::testing::Test {
protected:
    rapidjson::Document answer(const std::string& method, const std::string& params,
                               const std::string& capabilities) {
        DispatchContext context;
        context.stateless = true;
        context.protocol_version = "2026-07-28";
        const std::string text =
            R"({"jsonrpc":"2.0","id":1,"method":")" + method + R"(","params":{)" + params +
            (params.empty() ? "" : ",") +
            R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":)" +
            capabilities + "}}}";
        DispatchResult result = dispatcher_.handle(message_of(text), context);
        EXPECT_TRUE(result.response) << text;
        return std::move(*parse_json(result.response.value_or("{}")));
    }
    static constexpr const char* with_tasks = R"({"extensions":{"io.modelcontextprotocol/tasks":{}}})";

    FakeBackend backend_;
    InFlightRequests in_flight_;
    McpDispatcher dispatcher_{backend_, in_flight_, McpDispatcher::Options{}};
    TaskRunner runner_{backend_, 2};
    void SetUp() override { dispatcher_.set_task_runner(&runner_); }
    void TearDown() override { runner_.stop(); }
};

TEST_F(TaskDispatchTest, DiscoverAdvertisesTheExtension) {
    const auto document = answer("server/discover", "", "{}");
    EXPECT_TRUE(document["result"]["capabilities"]["extensions"].HasMember("io.modelcontextprotocol/tasks"));
}

TEST_F(TaskDispatchTest, ALongToolBecomesATaskForClientsThatDeclareTasks) {
    auto document = answer("tools/call", R"("name":"weighted_query","arguments":{})", with_tasks);
    const auto& created = document["result"];
    ASSERT_STREQ(created["resultType"].GetString(), "task") << to_json(document);
    const std::string id = created["taskId"].GetString();
    EXPECT_STREQ(created["status"].GetString(), "working");
    for (int i = 0; i < 200 && backend_.tasks_run == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(backend_.tasks_run, 1) << "the runner ran it";
    document = answer("tasks/get", R"("taskId":")" + id + R"(")", with_tasks);
    EXPECT_STREQ(document["result"]["resultType"].GetString(), "complete");
    EXPECT_STREQ(document["result"]["status"].GetString(), "completed");
    document = answer("tasks/cancel", R"("taskId":")" + id + R"(")", with_tasks);
    EXPECT_TRUE(document.HasMember("result")) << "a finished task's cancel is acknowledged";
    document = answer("tasks/update", R"("taskId":")" + id + R"(","inputResponses":{})", with_tasks);
    EXPECT_TRUE(document.HasMember("result"));
}

TEST_F(TaskDispatchTest, OtherClientsAndOtherToolsGetTheResultDirectly) {
    const int before = backend_.tool_calls;
    auto document = answer("tools/call", R"("name":"weighted_query","arguments":{})", "{}");
    EXPECT_EQ(backend_.tool_calls, before + 1);
    document = answer("tools/call", R"("name":"echo","arguments":{})", with_tasks);
    EXPECT_STREQ(document["result"]["resultType"].GetString(), "complete");
    EXPECT_EQ(backend_.tasks_run, 0);
}

TEST_F(TaskDispatchTest, UnknownAndMalformedTaskIdsAreInvalidParams) {
    for (const char* params : {R"("taskId":"ffffffffffffffffffffffffffffffff")", R"("taskId":7)", "",
                               R"("taskId":"../../etc/passwd")"}) {
        for (const char* method : {"tasks/get", "tasks/cancel", "tasks/update"}) {
            const auto document = answer(method, params, with_tasks);
            ASSERT_TRUE(document.HasMember("error")) << method << params;
            EXPECT_EQ(document["error"]["code"].GetInt(), rpc_error::invalid_params);
        }
    }
}

}  // namespace
}  // namespace mcp::bridge

namespace mcp::bridge {
namespace {

class LegacyTaskTest : public ::testing::Test {
protected:
    rapidjson::Document answer(const std::string& text) {
        DispatchResult result = dispatcher_.handle(message_of(text), context_);
        EXPECT_TRUE(result.response) << text;
        return std::move(*parse_json(result.response.value_or("{}")));
    }
    rapidjson::Document initialize(const std::string& version) {
        context_ = DispatchContext{};
        return answer(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")" +
                      version + R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
    }

    FakeBackend backend_;
    InFlightRequests in_flight_;
    McpDispatcher dispatcher_{backend_, in_flight_, [] {
                                  McpDispatcher::Options o;
                                  o.task_result_poll = std::chrono::milliseconds(5);
                                  return o;
                              }()};
    TaskRunner runner_{backend_, 2};
    DispatchContext context_;
    void SetUp() override { dispatcher_.set_task_runner(&runner_); }
    void TearDown() override { runner_.stop(); }
};

TEST_F(LegacyTaskTest, A20251125SessionRunsLongToolsAsTasks) {
    backend_.tools_json = R"([{"name":"weighted_query","inputSchema":{"type":"object"}},{"name":"echo","inputSchema":{"type":"object"}}])";
    auto document = initialize("2025-11-25");
    EXPECT_TRUE(document["result"]["capabilities"]["tasks"]["requests"]["tools"].HasMember("call"));
    document = answer(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
    EXPECT_STREQ(document["result"]["tools"][0]["execution"]["taskSupport"].GetString(), "optional");
    EXPECT_FALSE(document["result"]["tools"][1].HasMember("execution"));

    document = answer(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"weighted_query","arguments":{},"task":{"ttl":1000}}})");
    ASSERT_TRUE(document["result"].HasMember("task")) << to_json(document);
    const std::string id = document["result"]["task"]["taskId"].GetString();
    EXPECT_FALSE(document["result"]["task"].HasMember("resultType"));
    document = answer(R"({"jsonrpc":"2.0","id":3,"method":"tasks/get","params":{"taskId":")" + id + R"("}})");
    EXPECT_TRUE(document["result"].HasMember("status"));
    // The fake's run_task completes without a stored result: tasks/result says so.
    document = answer(R"({"jsonrpc":"2.0","id":4,"method":"tasks/result","params":{"taskId":")" + id + R"("}})");
    EXPECT_TRUE(document.HasMember("error") || document.HasMember("result"));
    document = answer(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{},"task":{}}})");
    EXPECT_EQ(document["error"]["code"].GetInt(), rpc_error::method_not_found);
    document = answer(R"({"jsonrpc":"2.0","id":6,"method":"tasks/get","params":{"taskId":"zz"}})");
    EXPECT_EQ(document["error"]["code"].GetInt(), rpc_error::invalid_params);
}

TEST_F(LegacyTaskTest, ServerDiscoverWithoutModernMetaIsNotFoundSoClientsFallBack) {
    const auto document = answer(R"({"jsonrpc":"2.0","id":1,"method":"server/discover"})");
    EXPECT_EQ(document["error"]["code"].GetInt(), rpc_error::method_not_found);
}

TEST_F(LegacyTaskTest, OlderSessionsAreNotOfferedTasks) {
    auto document = initialize("2025-06-18");
    EXPECT_FALSE(document["result"]["capabilities"].HasMember("tasks"));
    document = answer(R"({"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"0123456789abcdef0123456789abcdef"}})");
    EXPECT_EQ(document["error"]["code"].GetInt(), rpc_error::method_not_found);
}

}  // namespace
}  // namespace mcp::bridge
