// Numbers written for people (and LLMs) to read.
#pragma once

#include <string>

namespace mcp::ext {

// 1234567 → "1,234,567".
std::string with_commas(long long value);

}  // namespace mcp::ext
