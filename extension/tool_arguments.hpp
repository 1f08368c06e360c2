// A tool call's arguments against the tool's input schema (mcp._argument_problem).
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
}

#include <optional>
#include <string>

namespace mcp::ext::tool_arguments {

// The first way `value` breaks the JSON Schema `schema`, as a sentence for the model that
// names the place by `path` ("arguments.max_rows must be ..."), or nullopt.
std::optional<std::string> first_problem(Jsonb* schema, Jsonb* value, const std::string& path);

}  // namespace mcp::ext::tool_arguments
