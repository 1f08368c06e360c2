#include "ui_form.hpp"

#include "http_headers.hpp"

#include <algorithm>
#include <cctype>

#include "url.hpp"

namespace mcp::bridge {

std::optional<FormData> FormData::parse(std::string_view encoded) {
    FormData form;
    while (!encoded.empty()) {
        const auto amp = encoded.find('&');
        const std::string_view pair = encoded.substr(0, amp);
        encoded = amp == std::string_view::npos ? std::string_view() : encoded.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        if (form.fields_.size() >= max_fields) {
            return std::nullopt;
        }
        const auto equals = pair.find('=');
        auto name = percent_decode(pair.substr(0, equals));
        auto value = percent_decode(equals == std::string_view::npos ? std::string_view()
                                                                     : pair.substr(equals + 1));
        if (!name || !value) {
            return std::nullopt;
        }
        form.fields_.emplace_back(std::move(*name), std::move(*value));
    }
    return form;
}

std::optional<FormData> FormData::from_target(std::string_view target) {
    const auto question = target.find('?');
    if (question == std::string_view::npos) {
        return FormData{};
    }
    std::string_view query = target.substr(question + 1);
    return parse(query.substr(0, query.find('#')));
}

std::optional<FormData> FormData::from_body(const Request& request) {
    if (!starts_with(content_type(request), "application/x-www-form-urlencoded")) {
        return std::nullopt;
    }
    return parse(request.body());
}

std::optional<std::string> FormData::find(std::string_view name) const {
    for (const auto& [key, value] : fields_) {
        if (key == name) {
            return value;
        }
    }
    return std::nullopt;
}

std::string FormData::get(std::string_view name, std::string fallback) const {
    auto found = find(name);
    return found ? std::move(*found) : std::move(fallback);
}

std::vector<std::string> FormData::all(std::string_view name) const {
    std::vector<std::string> values;
    for (const auto& [key, value] : fields_) {
        if (key == name) {
            values.push_back(value);
        }
    }
    return values;
}

std::string url_encode(std::string_view text) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    return out;
}

}  // namespace mcp::bridge
