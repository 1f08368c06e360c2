#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kainjow/mustache.hpp>
#include <rapidjson/document.h>

namespace mcp::bridge {

// What a template is rendered with. Values are plain text: the template engine escapes every
// one of them, so view-building code never writes HTML.
using View = kainjow::mustache::data;

View view_list();

// Text, or false when it is empty: a template section over it then renders nothing.
View text_or_false(const std::string& text);

// A JSON document as a view: objects and arrays as they are, strings as text, numbers in
// their JSON spelling, true as true; false, null and "" as false, so that a section over a
// missing value renders nothing and a variable prints nothing.
View json_view(const rapidjson::Value& value);

// A JSON value as a table cell shows it: strings as they are, other scalars in their JSON
// spelling, objects and arrays as compact JSON; nullopt for null.
std::optional<std::string> json_cell(const rapidjson::Value& value);

// A member of an object, or a null value when there is none (or `object` is no object).
const rapidjson::Value& member(const rapidjson::Value& object, const char* name);

// A member as text ("" when absent or null), as a number (fallback when absent or not one),
// as a boolean (false unless true).
std::string text_member(const rapidjson::Value& object, const char* name);
double number_member(const rapidjson::Value& object, const char* name, double fallback = 0);
bool bool_member(const rapidjson::Value& object, const char* name);
// A member that is an array of strings.
std::vector<std::string> strings_member(const rapidjson::Value& object, const char* name);

// "2026-11-25T14:04:52.73+00:00" → "2026-11-25 14:04:52 UTC" (other offsets kept as they are).
std::string format_timestamp(std::string_view iso);
// 1234567 → "1,234,567".
std::string format_count(long long value);
// A number with at most `decimals` decimals, trailing zeros dropped.
std::string format_decimal(double value, int decimals);

// Newline-separated lines, trimmed, empty ones dropped (the list fields of the metadata form).
std::vector<std::string> split_lines(std::string_view text);
std::string join_lines(const std::vector<std::string>& lines);

// The difference between two texts, word by word, for the metadata review.
struct DiffPart {
    enum class Kind { same, removed, added };
    Kind kind;
    std::string text;
};
std::vector<DiffPart> word_diff(std::string_view before, std::string_view after);

// A list of {text, same, removed, added} for a template.
View diff_view(const std::vector<DiffPart>& parts);

// The display name of a dataset status ("metadata_pending" → "metadata pending").
std::string status_label(std::string_view status);

}  // namespace mcp::bridge
