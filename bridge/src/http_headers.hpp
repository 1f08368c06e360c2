#pragma once

// Reading request headers the same way in every route: values as strings, names and media
// types compared without regard to case.
#include <string>
#include <string_view>

#include "http_types.hpp"

namespace mcp::bridge {

// The header's value, or "" when the request has none.
std::string header_value(const Request& request, std::string_view name);

std::string lowercase(std::string_view text);

// The Content-Type, lower-cased ("" when absent), for prefix checks such as
// starts_with(content_type(request), "application/json").
std::string content_type(const Request& request);

bool starts_with(std::string_view text, std::string_view prefix);

}  // namespace mcp::bridge
