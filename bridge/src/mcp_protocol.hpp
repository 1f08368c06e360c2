#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

namespace mcp::bridge {

// JSON-RPC 2.0 error codes used by MCP (../shared/reference/mcp.md §5).
namespace rpc_error {
constexpr int parse_error = -32700;
constexpr int invalid_request = -32600;
constexpr int method_not_found = -32601;
constexpr int invalid_params = -32602;
constexpr int internal_error = -32603;
constexpr int resource_not_found = -32002;
// Transport-level answers, by the SDKs' convention.
constexpr int bad_request = -32000;
constexpr int session_not_found = -32001;
// 2026-07-28 (the range -32020…-32099 is the specification's).
constexpr int header_mismatch = -32020;
constexpr int missing_client_capability = -32021;
constexpr int unsupported_protocol_version = -32022;
}  // namespace rpc_error

// Newest first; initialize echoes the client's version when it is one of these.
constexpr std::array<std::string_view, 4> supported_protocol_versions = {
    "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
constexpr std::string_view latest_protocol_version = supported_protocol_versions[0];
// What a request without MCP-Protocol-Version and without a session is taken to speak.
constexpr std::string_view fallback_protocol_version = "2025-03-26";

bool is_supported_protocol_version(std::string_view version);
// The client's version when supported, else our latest (the client then decides).
std::string negotiate_protocol_version(std::string_view requested);
// Features by revision: structured tool output and titles came with 2025-06-18, tool
// annotations with 2025-03-26, and batches went away with 2025-06-18.
bool supports_structured_output(std::string_view version);
bool supports_tool_annotations(std::string_view version);
bool supports_batches(std::string_view version);
// Icons on tools, resources and prompts came with 2025-11-25.
bool supports_icons(std::string_view version);
// Experimental tasks (params.task on tools/call) came with 2025-11-25.
bool supports_experimental_tasks(std::string_view version);

enum class MessageKind { request, notification, response, invalid };

// One JSON-RPC message, validated. Owns a copy of the id, so it outlives the parsed body.
struct RpcMessage {
    MessageKind kind = MessageKind::invalid;
    rapidjson::Document id;   // string or integer; null when absent or unusable
    std::string method;
    rapidjson::Document params;  // object, or null when absent
    // Why the message is invalid, for the -32600 / -32602 answer.
    int error_code = 0;
    std::string error_message;
};

RpcMessage classify_message(const rapidjson::Value& value);

// A batch (protocol versions before 2025-06-18) holds at most this many messages.
constexpr std::size_t max_batch_messages = 100;

struct ParsedBody {
    bool parse_error = false;
    bool batch = false;
    std::vector<RpcMessage> messages;  // one, unless batch
};

ParsedBody parse_body(std::string_view text);

// Serialized JSON-RPC messages, compact, one line each.
std::string rpc_result(const rapidjson::Value& id, std::string_view result_json);
std::string rpc_error_message(const rapidjson::Value& id, int code, std::string_view message,
                              std::string_view data_json = {});
std::string rpc_notification(std::string_view method, std::string_view params_json = {});

}  // namespace mcp::bridge
