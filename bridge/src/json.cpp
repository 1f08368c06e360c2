#include "json.hpp"

#include <utility>
#include <vector>

namespace mcp::bridge {

std::string to_json(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

bool nesting_exceeds(const rapidjson::Value& root, std::size_t max_depth) {
    // Iterative on purpose: this is what protects the recursive code (serialization, copies)
    // from deeply nested input.
    std::vector<std::pair<const rapidjson::Value*, std::size_t>> pending{{&root, 1}};
    while (!pending.empty()) {
        const auto [value, depth] = pending.back();
        pending.pop_back();
        if (depth > max_depth) {
            return true;
        }
        if (value->IsObject()) {
            for (const auto& member : value->GetObject()) {
                pending.emplace_back(&member.value, depth + 1);
            }
        } else if (value->IsArray()) {
            for (const auto& item : value->GetArray()) {
                pending.emplace_back(&item, depth + 1);
            }
        }
    }
    return false;
}

std::optional<rapidjson::Document> parse_json(std::string_view text) {
    rapidjson::Document document;
    // The iterative parser keeps a hostile body from exhausting the stack; the depth check
    // does the same for everything that walks the result recursively afterwards.
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
    document.Parse<flags>(text.data(), text.size());
    if (document.HasParseError() || nesting_exceeds(document, max_json_depth)) {
        return std::nullopt;
    }
    return document;
}

rapidjson::Value json_string(std::string_view text, rapidjson::Document::AllocatorType& allocator) {
    rapidjson::Value value;
    value.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), allocator);
    return value;
}

std::string string_member(const rapidjson::Value& object, const char* name, std::string fallback) {
    if (!object.IsObject()) {
        return fallback;
    }
    const auto found = object.FindMember(name);
    if (found == object.MemberEnd() || !found->value.IsString()) {
        return fallback;
    }
    return std::string(found->value.GetString(), found->value.GetStringLength());
}

void write_string(JsonWriter& writer, std::string_view text) {
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void write_key_string(JsonWriter& writer, const char* key, std::string_view text) {
    writer.Key(key);
    write_string(writer, text);
}

void write_raw(JsonWriter& writer, std::string_view json) {
    writer.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

}  // namespace mcp::bridge
