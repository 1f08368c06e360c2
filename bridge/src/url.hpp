#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mcp::bridge {

// Decodes %XX escapes (and '+' as a space, as forms send it); nullopt for a broken escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = true);

// The query string of a request target as name → value (the last value of a repeated name).
// nullopt when an escape is broken.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view target);

}  // namespace mcp::bridge
