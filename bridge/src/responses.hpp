#pragma once

#include <string>
#include <string_view>

#include "http_types.hpp"

namespace mcp::bridge {

Response json_response(http::status status, std::string body);

// {"error": message}; the message is ours, never a client's or a library's text.
Response json_error(http::status status, std::string_view message);

// Headers every response carries, whoever built it.
void apply_common_headers(Response& response);

}  // namespace mcp::bridge
