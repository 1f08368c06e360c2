// UTF-8 text cut to a byte budget without splitting a character, so that what is stored or
// logged stays valid UTF-8.
#pragma once

#include <cstddef>

namespace mcp::ext {

// The largest length <= limit (and <= length) that ends on a character boundary of text.
inline size_t utf8_cut(const char* text, size_t length, size_t limit) {
    if (length <= limit) return length;
    while (limit > 0 && (static_cast<unsigned char>(text[limit]) & 0xC0) == 0x80) --limit;
    return limit;
}

}  // namespace mcp::ext
