// Reading jsonb values in place, as the SQL operators do (->, ->>, ::text), through pg_call.
// The values are palloc'd in the current memory context: no destructors involved.
#pragma once

#include "pg_guard.hpp"

extern "C" {
#include "utils/jsonb.h"
}

#include <optional>
#include <string>

namespace mcp::ext::jsonb {

// text::jsonb, with PostgreSQL's own error for text that is not JSON.
Jsonb* from_text(const std::string& json_text);

// value::text
std::string text_of(Jsonb* value);

// object -> 'key': nullptr where SQL gives NULL (no such key, or not an object).
Jsonb* member(Jsonb* object, const std::string& key);

// object ->> 'key': a JSON null as nullopt, a string unquoted, anything else as its JSON text.
std::optional<std::string> text_member(Jsonb* object, const std::string& key);

}  // namespace mcp::ext::jsonb
