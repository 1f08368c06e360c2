#include "http_headers.hpp"

#include <algorithm>
#include <cctype>

namespace mcp::bridge {

std::string header_value(const Request& request, std::string_view name) {
    const auto found = request.find(name);
    return found == request.end() ? std::string() : std::string(found->value());
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string content_type(const Request& request) {
    const auto found = request.find(http::field::content_type);
    return found == request.end() ? std::string() : lowercase(found->value());
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

}  // namespace mcp::bridge
