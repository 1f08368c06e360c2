// Whether a tool can run: its handler and the functions it requires exist (mcp._tool_available).
#pragma once

#include <string>
#include <vector>

namespace mcp::ext::tool_available {

// handler(jsonb, jsonb) and each required signature resolve (through the search_path in force).
bool available(const std::string& handler, const std::vector<std::string>& requires_list);

}  // namespace mcp::ext::tool_available
