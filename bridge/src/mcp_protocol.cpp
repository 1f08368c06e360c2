#include "mcp_protocol.hpp"

#include <algorithm>
#include <cmath>

#include "json.hpp"

namespace mcp::bridge {

bool is_supported_protocol_version(std::string_view version) {
    return std::find(supported_protocol_versions.begin(), supported_protocol_versions.end(),
                     version) != supported_protocol_versions.end();
}

std::string negotiate_protocol_version(std::string_view requested) {
    return std::string(is_supported_protocol_version(requested) ? requested
                                                                : latest_protocol_version);
}

// Versions are dates, so they compare as strings.
bool supports_structured_output(std::string_view version) { return version >= "2025-06-18"; }
bool supports_tool_annotations(std::string_view version) { return version >= "2025-03-26"; }
bool supports_batches(std::string_view version) { return version < "2025-06-18"; }
bool supports_icons(std::string_view version) { return version >= "2025-11-25"; }
bool supports_experimental_tasks(std::string_view version) { return version == "2025-11-25"; }

namespace {

bool usable_id(const rapidjson::Value& id) {
    // Integers only among numbers: a fractional id cannot be echoed "with the same type"
    // by every client.
    return id.IsString() || id.IsInt64() || id.IsUint64();
}

RpcMessage invalid(int code, std::string message) {
    RpcMessage result;
    result.kind = MessageKind::invalid;
    result.error_code = code;
    result.error_message = std::move(message);
    return result;
}

}  // namespace

RpcMessage classify_message(const rapidjson::Value& value) {
    if (!value.IsObject()) {
        return invalid(rpc_error::invalid_request, "Invalid Request: a message must be a JSON object");
    }
    RpcMessage message;
    const auto id = value.FindMember("id");
    const bool has_id = id != value.MemberEnd();
    if (has_id && usable_id(id->value)) {
        message.id.CopyFrom(id->value, message.id.GetAllocator());
    }
    const auto version = value.FindMember("jsonrpc");
    if (version == value.MemberEnd() || !version->value.IsString() ||
        std::string_view(version->value.GetString()) != "2.0") {
        message.kind = MessageKind::invalid;
        message.error_code = rpc_error::invalid_request;
        message.error_message = "Invalid Request: jsonrpc must be \"2.0\"";
        return message;
    }
    if (has_id && !usable_id(id->value)) {
        message.kind = MessageKind::invalid;
        message.error_code = rpc_error::invalid_request;
        message.error_message = "Invalid Request: id must be a string or an integer";
        return message;
    }
    const auto method = value.FindMember("method");
    if (method == value.MemberEnd()) {
        // A response to a request of ours. We send none, but accepting them is harmless.
        if (has_id && (value.HasMember("result") || value.HasMember("error"))) {
            message.kind = MessageKind::response;
            return message;
        }
        message.kind = MessageKind::invalid;
        message.error_code = rpc_error::invalid_request;
        message.error_message = "Invalid Request: method is missing";
        return message;
    }
    if (!method->value.IsString() || method->value.GetStringLength() == 0) {
        message.kind = MessageKind::invalid;
        message.error_code = rpc_error::invalid_request;
        message.error_message = "Invalid Request: method must be a non-empty string";
        return message;
    }
    message.method.assign(method->value.GetString(), method->value.GetStringLength());
    message.kind = has_id ? MessageKind::request : MessageKind::notification;
    const auto params = value.FindMember("params");
    if (params != value.MemberEnd() && !params->value.IsNull()) {
        if (!params->value.IsObject()) {
            message.kind = has_id ? MessageKind::invalid : MessageKind::notification;
            message.error_code = rpc_error::invalid_params;
            message.error_message = "Invalid params: params must be an object";
            return message;
        }
        message.params.CopyFrom(params->value, message.params.GetAllocator());
    }
    return message;
}

ParsedBody parse_body(std::string_view text) {
    ParsedBody body;
    bool too_many = false;
    auto document = parse_json(text, max_batch_messages, &too_many);
    if (too_many) {
        body.batch = true;  // an oversized batch, refused as such without building it
        return body;
    }
    if (!document) {
        body.parse_error = true;
        return body;
    }
    if (document->IsArray()) {
        body.batch = true;
        for (const auto& item : document->GetArray()) {
            body.messages.push_back(classify_message(item));
        }
        return body;
    }
    body.messages.push_back(classify_message(*document));
    return body;
}

namespace {

void write_id(JsonWriter& writer, const rapidjson::Value& id) {
    writer.Key("id");
    if (id.IsString() || id.IsInt64() || id.IsUint64()) {
        id.Accept(writer);
    } else {
        writer.Null();
    }
}

}  // namespace

std::string rpc_result(const rapidjson::Value& id, std::string_view result_json) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "jsonrpc", "2.0");
    write_id(writer, id);
    writer.Key("result");
    write_raw(writer, result_json);
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string rpc_error_message(const rapidjson::Value& id, int code, std::string_view message,
                              std::string_view data_json) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "jsonrpc", "2.0");
    write_id(writer, id);
    writer.Key("error");
    writer.StartObject();
    writer.Key("code");
    writer.Int(code);
    write_key_string(writer, "message", message);
    if (!data_json.empty()) {
        writer.Key("data");
        write_raw(writer, data_json);
    }
    writer.EndObject();
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string rpc_notification(std::string_view method, std::string_view params_json) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "jsonrpc", "2.0");
    write_key_string(writer, "method", method);
    if (!params_json.empty()) {
        writer.Key("params");
        write_raw(writer, params_json);
    }
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace mcp::bridge
