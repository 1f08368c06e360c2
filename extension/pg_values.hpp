// Conversions between SQL values and C++ values, each going through pg_call because
// detoasting and palloc may ereport.
#pragma once

#include "pg_guard.hpp"

#include <string>
#include <vector>

namespace mcp::ext {

std::string text_argument(FunctionCallInfo fcinfo, int index);
std::vector<unsigned char> bytea_argument(FunctionCallInfo fcinfo, int index);
bool argument_is_null(FunctionCallInfo fcinfo, int index);

Datum text_datum(const std::string& value);
Datum bytea_datum(const std::vector<unsigned char>& value);
Datum jsonb_datum(const std::string& json_text);

// Whether the role that called us (seen through SECURITY DEFINER) is a superuser.
bool caller_is_superuser();

}  // namespace mcp::ext
