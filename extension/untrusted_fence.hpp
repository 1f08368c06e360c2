// Text that comes from a dataset (cell values, sample rows, column comments, descriptions an
// LLM wrote about it) reaches a model only inside a fence: a one-line notice, an opening
// marker and a closing marker that carry a boundary drawn at random for each response and
// absent from the fenced text, so no value can close the fence early or forge its end.
#pragma once

#include <string>

namespace mcp::ext::fence {

// 32 hex characters from a strong random source that do not occur in `content`.
std::string new_boundary(const std::string& content);

// notice + "\n<untrusted-data id=\"B\">\n" + content + "\n</untrusted-data id=\"B\">".
std::string wrap(const std::string& content);

}  // namespace mcp::ext::fence
