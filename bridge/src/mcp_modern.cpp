#include "mcp_modern.hpp"

#include <algorithm>
#include <array>

#include "json.hpp"

namespace mcp::bridge {

namespace {

constexpr std::array<std::string_view, 8> log_levels = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};

bool all_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c == '0'; });
}

std::optional<std::string> base64_decode(std::string_view text) {
    auto value_of = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    while (!text.empty() && text.back() == '=') {
        text.remove_suffix(1);
    }
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (const char c : text) {
        const int v = value_of(c);
        if (v < 0) {
            return std::nullopt;
        }
        buffer = (buffer << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
        }
    }
    return out;
}

}  // namespace

bool is_modern_protocol_version(std::string_view version) {
    return std::find(modern_protocol_versions.begin(), modern_protocol_versions.end(), version) !=
           modern_protocol_versions.end();
}

std::string supported_versions_json() {
    std::string out = "[";
    for (const auto version : modern_protocol_versions) {
        out += (out.size() > 1 ? ",\"" : "\"") + std::string(version) + "\"";
    }
    for (const auto version : supported_protocol_versions) {
        out += ",\"" + std::string(version) + "\"";
    }
    return out + "]";
}

bool is_valid_traceparent(std::string_view value) {
    if (value.size() != 55 || value[2] != '-' || value[35] != '-' || value[52] != '-') {
        return false;
    }
    const auto version = value.substr(0, 2);
    const auto trace_id = value.substr(3, 32);
    const auto parent_id = value.substr(36, 16);
    const auto flags = value.substr(53, 2);
    return all_hex(version) && version != "ff" && all_hex(trace_id) && !all_zero(trace_id) &&
           all_hex(parent_id) && !all_zero(parent_id) && all_hex(flags);
}

RequestMeta read_request_meta(const RpcMessage& message) {
    RequestMeta meta;
    if (!message.params.IsObject()) {
        return meta;
    }
    const auto found = message.params.FindMember("_meta");
    if (found == message.params.MemberEnd() || !found->value.IsObject()) {
        return meta;
    }
    const rapidjson::Value& m = found->value;
    if (const auto v = m.FindMember(meta_key::protocol_version); v != m.MemberEnd()) {
        meta.modern = true;
        if (v->value.IsString()) {
            meta.protocol_version.assign(v->value.GetString(), v->value.GetStringLength());
        } else {
            meta.problem = std::string(meta_key::protocol_version) + " must be a string";
        }
    }
    if (const auto v = m.FindMember(meta_key::client_info); v != m.MemberEnd()) {
        if (v->value.IsObject()) {
            meta.client_name = utf8_prefix(string_member(v->value, "name"), 200);
            meta.client_version = utf8_prefix(string_member(v->value, "version"), 100);
        } else {
            meta.problem = std::string(meta_key::client_info) + " must be an object";
        }
    }
    if (const auto v = m.FindMember(meta_key::client_capabilities); v != m.MemberEnd()) {
        if (v->value.IsObject()) {
            meta.client_capabilities_json = to_json(v->value);
        } else {
            meta.problem = std::string(meta_key::client_capabilities) + " must be an object";
        }
    }
    if (const auto v = m.FindMember(meta_key::log_level); v != m.MemberEnd()) {
        const std::string_view level =
            v->value.IsString() ? std::string_view(v->value.GetString(), v->value.GetStringLength())
                                : std::string_view();
        if (std::find(log_levels.begin(), log_levels.end(), level) == log_levels.end()) {
            meta.problem = std::string(meta_key::log_level) +
                           " must be one of debug, info, notice, warning, error, critical, "
                           "alert, emergency";
        } else {
            meta.log_level = std::string(level);
        }
    }
    // A malformed traceparent is ignored, as W3C Trace Context asks: the request still runs.
    if (const auto v = m.FindMember(meta_key::traceparent);
        v != m.MemberEnd() && v->value.IsString() &&
        is_valid_traceparent(std::string_view(v->value.GetString(), v->value.GetStringLength()))) {
        meta.traceparent.assign(v->value.GetString(), v->value.GetStringLength());
    }
    return meta;
}

std::optional<std::string> decode_mcp_header_value(std::string_view value) {
    constexpr std::string_view prefix = "=?base64?";
    constexpr std::string_view suffix = "?=";
    if (value.size() >= prefix.size() + suffix.size() && value.substr(0, prefix.size()) == prefix &&
        value.substr(value.size() - suffix.size()) == suffix) {
        return base64_decode(value.substr(prefix.size(), value.size() - prefix.size() - suffix.size()));
    }
    for (const char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (!(u == '\t' || (u >= 0x20 && u <= 0x7E))) {
            return std::nullopt;
        }
    }
    return std::string(value);
}

const char* mcp_name_field(std::string_view method) {
    if (method == "tools/call" || method == "prompts/get") {
        return "name";
    }
    if (method == "resources/read") {
        return "uri";
    }
    return nullptr;
}

std::string add_result_members(std::string_view result_json, std::string_view members) {
    std::size_t open = 0;
    while (open < result_json.size() && result_json[open] != '{') {
        ++open;
    }
    if (open == result_json.size()) {
        return std::string(result_json);  // not an object: left alone
    }
    std::size_t next = open + 1;
    while (next < result_json.size() &&
           (result_json[next] == ' ' || result_json[next] == '\n' || result_json[next] == '\t' ||
            result_json[next] == '\r')) {
        ++next;
    }
    const bool empty = next < result_json.size() && result_json[next] == '}';
    std::string out;
    out.reserve(result_json.size() + members.size() + 2);
    out.append(result_json.substr(0, open + 1));
    out.append(members);
    if (!empty) {
        out.push_back(',');
    }
    out.append(result_json.substr(open + 1));
    return out;
}

}  // namespace mcp::bridge
