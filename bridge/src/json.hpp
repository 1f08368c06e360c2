#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace mcp::bridge {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Compact serialization, as JSON-RPC over SSE and stdio needs (one message, one line).
std::string to_json(const rapidjson::Value& value);

// Deeper JSON is refused: nobody's tool arguments nest this far, and recursion over it
// (serializing, copying) must stay bounded.
constexpr std::size_t max_json_depth = 64;

// Parses text that must be JSON (from the database or a client); nullopt when it is not
// valid UTF-8 JSON or nests deeper than max_json_depth. With max_top_level_items, a
// top-level array longer than that stops the parse too (and sets *too_many), before the
// rest of it is built.
std::optional<rapidjson::Document> parse_json(std::string_view text,
                                              std::size_t max_top_level_items = 0,
                                              bool* too_many = nullptr);

// Copies `text` as a JSON string value, with the document's allocator.
rapidjson::Value json_string(std::string_view text, rapidjson::Document::AllocatorType& allocator);

// At most max_bytes of UTF-8 text, cut at a character boundary: a prefix of valid UTF-8 that
// ends inside a character would make the JSON (or the database text) it goes into invalid.
std::string utf8_prefix(std::string_view text, std::size_t max_bytes);

// A member of type string, or the fallback.
std::string string_member(const rapidjson::Value& object, const char* name,
                          std::string fallback = {});

void write_string(JsonWriter& writer, std::string_view text);
void write_key_string(JsonWriter& writer, const char* key, std::string_view text);
// Writes already-serialized JSON as a value without parsing it again.
void write_raw(JsonWriter& writer, std::string_view json);

}  // namespace mcp::bridge
