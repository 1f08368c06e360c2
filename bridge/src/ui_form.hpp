#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http_types.hpp"

namespace mcp::bridge {

// The fields of an HTML form (application/x-www-form-urlencoded body) or of a query string,
// in order, repeated names kept: the mapping editor sends one "from" and one "to" per row.
class FormData {
  public:
    // nullopt when an escape is broken or the form has more fields than any page sends.
    static std::optional<FormData> parse(std::string_view encoded);
    static std::optional<FormData> from_target(std::string_view target);
    // The body of a POST; nullopt when it is not a URL-encoded form (or is malformed).
    static std::optional<FormData> from_body(const Request& request);

    // The first value of a field, or nullopt.
    std::optional<std::string> find(std::string_view name) const;
    // The first value, or `fallback`.
    std::string get(std::string_view name, std::string fallback = {}) const;
    std::vector<std::string> all(std::string_view name) const;
    const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

    static constexpr std::size_t max_fields = 2000;

  private:
    std::vector<std::pair<std::string, std::string>> fields_;
};

// Percent-encodes a query string value (RFC 3986 unreserved characters stay as they are).
std::string url_encode(std::string_view text);

}  // namespace mcp::bridge
