#include "json.hpp"

#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <utility>
#include <vector>

namespace mcp::bridge {

std::string to_json(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

namespace {

// Forwards SAX events to the document being built and stops the parse as soon as the nesting
// passes max_json_depth, so a hostile body never gets built (100k nested arrays would cost
// megabytes of values first and be refused only afterwards).
class DepthLimitedBuilder {
public:
    DepthLimitedBuilder(rapidjson::Document& document, std::size_t max_top_level_items)
        : document_(document), max_top_level_items_(max_top_level_items) {}

    bool Null() { return item() && document_.Null(); }
    bool Bool(bool b) { return item() && document_.Bool(b); }
    bool Int(int i) { return item() && document_.Int(i); }
    bool Uint(unsigned u) { return item() && document_.Uint(u); }
    bool Int64(int64_t i) { return item() && document_.Int64(i); }
    bool Uint64(uint64_t u) { return item() && document_.Uint64(u); }
    bool Double(double d) { return item() && document_.Double(d); }
    bool RawNumber(const char* text, rapidjson::SizeType length, bool copy) {
        return item() && document_.RawNumber(text, length, copy);
    }
    bool String(const char* text, rapidjson::SizeType length, bool copy) {
        return item() && valid_text(text, length) && document_.String(text, length, copy);
    }
    bool Key(const char* text, rapidjson::SizeType length, bool copy) {
        return valid_text(text, length) && document_.Key(text, length, copy);
    }
    bool StartObject() { return item() && enter(false) && document_.StartObject(); }
    bool EndObject(rapidjson::SizeType members) { --depth_; return document_.EndObject(members); }
    bool StartArray() { return item() && enter(true) && document_.StartArray(); }
    bool EndArray(rapidjson::SizeType elements) { --depth_; return document_.EndArray(elements); }

    bool too_many() const { return too_many_; }

private:
    // The input bytes are checked as UTF-8 by the parser, but a \u escape of a lone surrogate
    // (\udc00 with no high half before it) decodes to bytes that are not UTF-8 (0xED 0xA0-0xBF
    // ...), and would come back out of every answer that echoes the text.
    static bool valid_text(const char* text, rapidjson::SizeType length) {
        for (rapidjson::SizeType i = 0; i + 1 < length; ++i) {
            if (static_cast<unsigned char>(text[i]) == 0xED &&
                static_cast<unsigned char>(text[i + 1]) >= 0xA0) {
                return false;
            }
        }
        return true;
    }

    bool enter(bool array) {
        if (depth_ == 0) top_is_array_ = array;
        return ++depth_ <= max_json_depth;
    }
    // Counts the elements of a top-level array.
    bool item() {
        if (depth_ != 1 || !top_is_array_ || max_top_level_items_ == 0) return true;
        too_many_ = ++top_level_items_ > max_top_level_items_;
        return !too_many_;
    }

    rapidjson::Document& document_;
    const std::size_t max_top_level_items_;
    std::size_t depth_ = 0;
    std::size_t top_level_items_ = 0;
    bool top_is_array_ = false;
    bool too_many_ = false;
};

}  // namespace

std::optional<rapidjson::Document> parse_json(std::string_view text, std::size_t max_top_level_items,
                                              bool* too_many) {
    rapidjson::Document document;
    // The iterative parser keeps a hostile body from exhausting the stack; the depth limit
    // does the same for everything that walks the result recursively afterwards.
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
    bool parsed = false;
    auto build = [&](rapidjson::Document& target) {
        DepthLimitedBuilder builder(target, max_top_level_items);
        rapidjson::MemoryStream bytes(text.data(), text.size());
        rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes);
        rapidjson::Reader reader;
        parsed = !reader.Parse<flags>(stream, builder).IsError();
        if (too_many != nullptr) *too_many = builder.too_many();
        return parsed;
    };
    document.Populate(build);
    if (!parsed) {
        return std::nullopt;
    }
    return document;
}

rapidjson::Value json_string(std::string_view text, rapidjson::Document::AllocatorType& allocator) {
    rapidjson::Value value;
    value.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), allocator);
    return value;
}

std::string utf8_prefix(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return std::string(text);
    std::size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return std::string(text.substr(0, end));
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
