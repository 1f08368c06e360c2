#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "mcp_protocol.hpp"

namespace mcp::bridge {

// MCP 2026-07-28, the stateless revision: no initialize and no session; every request
// carries its protocol version, client identity and capabilities in params._meta, and the
// transport mirrors the method and name into headers. Served beside the initialize-based
// revisions on the same endpoint; a request's own _meta selects the era.
constexpr std::array<std::string_view, 1> modern_protocol_versions = {"2026-07-28"};

namespace meta_key {
constexpr const char* protocol_version = "io.modelcontextprotocol/protocolVersion";
constexpr const char* client_info = "io.modelcontextprotocol/clientInfo";
constexpr const char* client_capabilities = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* log_level = "io.modelcontextprotocol/logLevel";
constexpr const char* server_info = "io.modelcontextprotocol/serverInfo";
constexpr const char* subscription_id = "io.modelcontextprotocol/subscriptionId";
constexpr const char* traceparent = "traceparent";
}  // namespace meta_key

bool is_modern_protocol_version(std::string_view version);
// Every version this server speaks, newest first (for server/discover and the -32022 data).
std::string supported_versions_json();

// What params._meta of one request says.
struct RequestMeta {
    bool modern = false;  // it names a protocol version: a 2026-07-28-style request
    std::string protocol_version;
    std::string client_name;
    std::string client_version;
    std::string client_capabilities_json = "{}";
    std::string log_level;    // empty when the request sets none
    std::string traceparent;  // a valid W3C traceparent, else empty
    // Set when the metadata is malformed (wrong types, unknown log level): -32602.
    std::string problem;
};

RequestMeta read_request_meta(const RpcMessage& message);

// W3C Trace Context: 00-<32 hex, not all zero>-<16 hex, not all zero>-<2 hex>, lowercase.
bool is_valid_traceparent(std::string_view value);

// An Mcp-Name (or Mcp-Param-*) header value as the body would hold it: plain, or the
// "=?base64?…?=" form decoded. nullopt when malformed.
std::optional<std::string> decode_mcp_header_value(std::string_view value);

// The body field that Mcp-Name must mirror for `method` (name or uri); nullptr when the
// method has no Mcp-Name.
const char* mcp_name_field(std::string_view method);

// A result object with members added in front: `members` is JSON object members without
// braces, e.g. "\"resultType\":\"complete\"". The result itself is not parsed again.
std::string add_result_members(std::string_view result_json, std::string_view members);

}  // namespace mcp::bridge
