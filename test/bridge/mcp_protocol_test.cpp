#include <gtest/gtest.h>

#include <string>

#include "json.hpp"
#include "mcp_protocol.hpp"

namespace mcp::bridge {
namespace {

TEST(McpProtocol, EchoesASupportedVersionAndOffersTheLatestOtherwise) {
    for (const char* version : {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}) {
        EXPECT_EQ(negotiate_protocol_version(version), version);
    }
    EXPECT_EQ(negotiate_protocol_version("2026-07-28"), "2025-11-25");
    EXPECT_EQ(negotiate_protocol_version("1999-01-01"), "2025-11-25");
    EXPECT_EQ(negotiate_protocol_version(""), "2025-11-25");
}

TEST(McpProtocol, FeaturesFollowTheRevision) {
    EXPECT_TRUE(supports_batches("2024-11-05"));
    EXPECT_TRUE(supports_batches("2025-03-26"));
    EXPECT_FALSE(supports_batches("2025-06-18"));
    EXPECT_FALSE(supports_structured_output("2025-03-26"));
    EXPECT_TRUE(supports_structured_output("2025-06-18"));
    EXPECT_FALSE(supports_tool_annotations("2024-11-05"));
    EXPECT_TRUE(supports_tool_annotations("2025-03-26"));
}

TEST(McpProtocol, ClassifiesRequestsNotificationsAndResponses) {
    auto body = parse_body(R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":"1"}})");
    ASSERT_FALSE(body.parse_error);
    ASSERT_EQ(body.messages.size(), 1u);
    EXPECT_EQ(body.messages[0].kind, MessageKind::request);
    EXPECT_EQ(body.messages[0].method, "tools/list");
    EXPECT_TRUE(body.messages[0].id.IsInt());
    EXPECT_TRUE(body.messages[0].params.IsObject());

    body = parse_body(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    EXPECT_EQ(body.messages[0].kind, MessageKind::notification);

    body = parse_body(R"({"jsonrpc":"2.0","id":"a","result":{}})");
    EXPECT_EQ(body.messages[0].kind, MessageKind::response);
}

TEST(McpProtocol, RejectsWhatIsNotJsonRpc) {
    EXPECT_TRUE(parse_body("{").parse_error);
    EXPECT_TRUE(parse_body("").parse_error);
    EXPECT_TRUE(parse_body("\xff\xfe").parse_error) << "invalid UTF-8 is a parse error";

    const char* invalid[] = {
        R"("just a string")",
        R"({"id":1,"method":"ping"})",                          // no jsonrpc
        R"({"jsonrpc":"1.0","id":1,"method":"ping"})",          // wrong version
        R"({"jsonrpc":"2.0","id":null,"method":"ping"})",       // null id
        R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})",        // fractional id
        R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})",    // object id
        R"({"jsonrpc":"2.0","id":1,"method":""})",              // empty method
        R"({"jsonrpc":"2.0","id":1,"method":42})",              // method not a string
        R"({"jsonrpc":"2.0","id":1})",                          // neither request nor response
    };
    for (const char* text : invalid) {
        const auto body = parse_body(text);
        ASSERT_FALSE(body.parse_error) << text;
        EXPECT_EQ(body.messages[0].kind, MessageKind::invalid) << text;
        EXPECT_EQ(body.messages[0].error_code, rpc_error::invalid_request) << text;
    }
}

TEST(McpProtocol, NonObjectParamsAreInvalidParams) {
    const auto body = parse_body(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]})");
    EXPECT_EQ(body.messages[0].kind, MessageKind::invalid);
    EXPECT_EQ(body.messages[0].error_code, rpc_error::invalid_params);
}

TEST(McpProtocol, DeepNestingIsRefusedBeforeAnythingRecursesOverIt) {
    const std::string deep = std::string(10000, '[') + std::string(10000, ']');
    EXPECT_TRUE(parse_body(deep).parse_error);
    const std::string shallow = std::string(10, '[') + std::string(10, ']');
    EXPECT_FALSE(parse_body(shallow).parse_error);
}

TEST(McpProtocol, TheParseStopsAtTheDepthLimitInsteadOfBuildingTheRest) {
    const std::string at_limit = std::string(max_json_depth, '[') + std::string(max_json_depth, ']');
    EXPECT_TRUE(parse_json(at_limit).has_value());
    const std::string past = std::string(max_json_depth + 1, '[') + std::string(max_json_depth + 1, ']');
    EXPECT_FALSE(parse_json(past).has_value());
    // Unbalanced past the limit: refused at the limit, never read to the end.
    EXPECT_FALSE(parse_json(std::string(200000, '[')).has_value());
}

TEST(McpProtocol, AnOversizedBatchIsRefusedWithoutBuildingIt) {
    std::string batch = "[";
    for (std::size_t i = 0; i <= max_batch_messages; ++i) {
        batch += (i ? "," : "") + std::string(R"({"jsonrpc":"2.0","id":)") + std::to_string(i) +
                 R"(,"method":"tools/list"})";
    }
    batch += "]";
    const auto body = parse_body(batch);
    EXPECT_TRUE(body.batch);
    EXPECT_FALSE(body.parse_error) << "an invalid request, not a parse error";
    EXPECT_TRUE(body.messages.empty()) << "nothing of it is kept";

    bool too_many = false;
    EXPECT_FALSE(parse_json(batch, max_batch_messages, &too_many).has_value());
    EXPECT_TRUE(too_many);
    EXPECT_TRUE(parse_json(batch).has_value()) << "no limit: the same array parses";
    EXPECT_TRUE(parse_json(R"({"a":[1,2,3,4,5]})", 2).has_value()) << "only a top-level array is counted";
}

TEST(McpProtocol, ALoneSurrogateEscapeIsNotJson) {
    // What the fuzzer found: a lone low surrogate decoded into bytes that are not UTF-8.
    EXPECT_FALSE(parse_json(R"({"a":"x\udeea"})").has_value());
    EXPECT_FALSE(parse_json(R"({"x\udc00":1})").has_value()) << "in a key too";
    EXPECT_FALSE(parse_json(R"(["\ud800"])").has_value()) << "a high half alone";
    EXPECT_TRUE(parse_json(R"({"a":"\ud83d\ude00 \u00e9 \uccc0"})").has_value()) << "a pair and other escapes";
}

TEST(McpProtocol, TruncatedTextEndsOnACharacterBoundary) {
    EXPECT_EQ(utf8_prefix("abc", 10), "abc");
    EXPECT_EQ(utf8_prefix("abcdef", 3), "abc");
    const std::string text = "ab\xEC\xB3\x80z";  // "ab", U+CCC0 (three bytes), "z"
    EXPECT_EQ(utf8_prefix(text, 3), "ab") << "never half a character";
    EXPECT_EQ(utf8_prefix(text, 4), "ab");
    EXPECT_EQ(utf8_prefix(text, 5), "ab\xEC\xB3\x80");
    // What the fuzzer found: a long method name cut inside a character made an invalid answer.
    const std::string method = std::string(98, 'A') + "\xEC\xB3\x80";
    EXPECT_TRUE(parse_json("{\"m\":\"" + utf8_prefix(method, 100) + "\"}").has_value());
}

TEST(McpProtocol, BatchesKeepEveryMessage) {
    const auto body = parse_body(R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"x"},3])");
    ASSERT_TRUE(body.batch);
    ASSERT_EQ(body.messages.size(), 3u);
    EXPECT_EQ(body.messages[0].kind, MessageKind::request);
    EXPECT_EQ(body.messages[1].kind, MessageKind::notification);
    EXPECT_EQ(body.messages[2].kind, MessageKind::invalid);
}

TEST(McpProtocol, ResponsesEchoTheIdWithItsType) {
    rapidjson::Document string_id;
    string_id.SetString("abc");
    EXPECT_EQ(rpc_result(string_id, "{}"), R"({"jsonrpc":"2.0","id":"abc","result":{}})");
    rapidjson::Document number_id;
    number_id.SetInt64(42);
    EXPECT_EQ(rpc_result(number_id, R"({"a":1})"), R"({"jsonrpc":"2.0","id":42,"result":{"a":1}})");
    rapidjson::Document none;
    EXPECT_EQ(rpc_error_message(none, -32700, "Parse error"),
              R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})");
    EXPECT_EQ(rpc_error_message(number_id, -32002, "Resource not found", R"({"uri":"x"})"),
              R"({"jsonrpc":"2.0","id":42,"error":{"code":-32002,"message":"Resource not found","data":{"uri":"x"}}})");
    EXPECT_EQ(rpc_notification("notifications/tools/list_changed"),
              R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})");
}

TEST(McpProtocol, SerializedMessagesFitOnOneLine) {
    rapidjson::Document id;
    id.SetString("line\nbreak");
    const std::string message = rpc_error_message(id, -1, "two\nlines");
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

}  // namespace
}  // namespace mcp::bridge
