#pragma once

#include <string_view>

namespace mcp::bridge {

// The OpenAPI 3.1 description of /api, served at /api/openapi.json.
std::string_view openapi_document();

}  // namespace mcp::bridge
