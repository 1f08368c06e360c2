// Who is calling: the API key the bridge named on its connection (setting mcp.caller).
#pragma once

#include <optional>

namespace mcp::ext::caller {

// The key id in mcp.caller when it is one ('^[0-9]{1,9}$', not 0), else nothing.
std::optional<int> connection_key_id();

// mcp._caller_api_key(): connection_key_id(), else mcp.request_context's api_key_id (set by
// mcp.call_tool), else nothing (a direct SQL call).
std::optional<int> api_key_id();

}  // namespace mcp::ext::caller
