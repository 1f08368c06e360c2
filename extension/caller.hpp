// Who is calling: the API key the bridge named on its connection (setting mcp.caller).
#pragma once

#include <optional>

namespace mcp::ext::caller {

// The key id in mcp.caller when it is one ('^[0-9]{1,9}$', not 0), else nothing.
std::optional<int> connection_key_id();

}  // namespace mcp::ext::caller
