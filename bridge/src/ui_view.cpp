#include "ui_view.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "json.hpp"

namespace mcp::bridge {

View view_list() { return View(View::type::list); }

View text_or_false(const std::string& text) { return text.empty() ? View(false) : View(text); }

View json_view(const rapidjson::Value& value) {
    if (value.IsObject()) {
        View object;
        for (const auto& member : value.GetObject()) {
            // Names starting with tpl_ are partials (templates); a value there would be
            // parsed as a template, so data (column names, dictionary keys) never goes there.
            if (std::string_view(member.name.GetString(), member.name.GetStringLength())
                    .substr(0, 4) == "tpl_") {
                continue;
            }
            object.set(std::string(member.name.GetString(), member.name.GetStringLength()),
                       json_view(member.value));
        }
        return object;
    }
    if (value.IsArray()) {
        View list = view_list();
        for (const auto& item : value.GetArray()) {
            list.push_back(json_view(item));
        }
        return list;
    }
    if (value.IsString()) {
        if (value.GetStringLength() == 0) {
            return View(false);
        }
        return View(std::string(value.GetString(), value.GetStringLength()));
    }
    if (value.IsTrue()) {
        return View(true);
    }
    if (value.IsNumber()) {
        return View(to_json(value));
    }
    return View(false);
}

std::optional<std::string> json_cell(const rapidjson::Value& value) {
    if (value.IsNull()) {
        return std::nullopt;
    }
    if (value.IsString()) {
        return std::string(value.GetString(), value.GetStringLength());
    }
    return to_json(value);
}

const rapidjson::Value& member(const rapidjson::Value& object, const char* name) {
    static const rapidjson::Value null_value;
    if (!object.IsObject()) {
        return null_value;
    }
    const auto found = object.FindMember(name);
    return found == object.MemberEnd() ? null_value : found->value;
}

std::string text_member(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject()) {
        return {};
    }
    const auto found = object.FindMember(name);
    if (found == object.MemberEnd() || found->value.IsNull()) {
        return {};
    }
    return json_cell(found->value).value_or("");
}

double number_member(const rapidjson::Value& object, const char* name, double fallback) {
    if (!object.IsObject()) {
        return fallback;
    }
    const auto found = object.FindMember(name);
    return found != object.MemberEnd() && found->value.IsNumber() ? found->value.GetDouble()
                                                                  : fallback;
}

bool bool_member(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject()) {
        return false;
    }
    const auto found = object.FindMember(name);
    return found != object.MemberEnd() && found->value.IsTrue();
}

std::vector<std::string> strings_member(const rapidjson::Value& object, const char* name) {
    std::vector<std::string> out;
    if (!object.IsObject()) {
        return out;
    }
    const auto found = object.FindMember(name);
    if (found == object.MemberEnd() || !found->value.IsArray()) {
        return out;
    }
    for (const auto& item : found->value.GetArray()) {
        if (item.IsString()) {
            out.emplace_back(item.GetString(), item.GetStringLength());
        }
    }
    return out;
}

std::string format_timestamp(std::string_view iso) {
    // Dates alone ("2026-07-01") and anything unexpected are shown as they are.
    if (iso.size() < 19 || iso[10] != 'T') {
        return std::string(iso);
    }
    std::string out(iso.substr(0, 10));
    out += ' ';
    out += iso.substr(11, 8);
    std::string_view rest = iso.substr(19);
    if (!rest.empty() && rest[0] == '.') {
        const auto end = rest.find_first_not_of("0123456789", 1);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    if (rest == "+00:00" || rest == "Z" || rest == "+00") {
        out += " UTC";
    } else if (!rest.empty()) {
        out += ' ';
        out += rest;
    }
    return out;
}

std::string format_count(long long value) {
    const bool negative = value < 0;
    std::string digits = std::to_string(negative ? -value : value);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return negative ? "-" + out : out;
}

std::string format_decimal(double value, int decimals) {
    if (!std::isfinite(value)) {
        return "";
    }
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    std::string out(buffer);
    if (out.find('.') != std::string::npos) {
        out.erase(out.find_last_not_of('0') + 1);
        if (out.back() == '.') {
            out.pop_back();
        }
    }
    return out == "-0" ? "0" : out;
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        const auto newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos) {
            continue;
        }
        line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
        lines.emplace_back(line);
    }
    return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        if (!out.empty()) {
            out += '\n';
        }
        out += line;
    }
    return out;
}

namespace {

// Words with the white space that follows each, so that joining them gives the text back.
std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t end = text.find_first_of(" \t\r\n", i);
        end = end == std::string_view::npos ? text.size() : text.find_first_not_of(" \t\r\n", end);
        end = end == std::string_view::npos ? text.size() : end;
        words.emplace_back(text.substr(i, end - i));
        i = end;
    }
    return words;
}

std::string trimmed(const std::string& word) {
    const auto last = word.find_last_not_of(" \t\r\n");
    return last == std::string::npos ? std::string() : word.substr(0, last + 1);
}

void append(std::vector<DiffPart>& parts, DiffPart::Kind kind, const std::string& text) {
    if (!parts.empty() && parts.back().kind == kind) {
        parts.back().text += text;
    } else {
        parts.push_back({kind, text});
    }
}

}  // namespace

std::vector<DiffPart> word_diff(std::string_view before, std::string_view after) {
    const auto a = words_of(before);
    const auto b = words_of(after);
    std::vector<DiffPart> parts;
    // The longest common subsequence table grows as n·m: past that size, whole texts differ.
    constexpr std::size_t max_cells = 4'000'000;
    if (a.size() * b.size() > max_cells) {
        if (!before.empty()) parts.push_back({DiffPart::Kind::removed, std::string(before)});
        if (!after.empty()) parts.push_back({DiffPart::Kind::added, std::string(after)});
        return parts;
    }
    const std::size_t n = a.size();
    const std::size_t m = b.size();
    std::vector<std::uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [m](std::size_t i, std::size_t j) { return i * (m + 1) + j; };
    for (std::size_t i = n; i-- > 0;) {
        for (std::size_t j = m; j-- > 0;) {
            lcs[at(i, j)] = trimmed(a[i]) == trimmed(b[j])
                                ? lcs[at(i + 1, j + 1)] + 1
                                : std::max(lcs[at(i + 1, j)], lcs[at(i, j + 1)]);
        }
    }
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < n && j < m) {
        if (trimmed(a[i]) == trimmed(b[j])) {
            append(parts, DiffPart::Kind::same, b[j]);
            ++i;
            ++j;
        } else if (lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            append(parts, DiffPart::Kind::removed, a[i++]);
        } else {
            append(parts, DiffPart::Kind::added, b[j++]);
        }
    }
    for (; i < n; ++i) append(parts, DiffPart::Kind::removed, a[i]);
    for (; j < m; ++j) append(parts, DiffPart::Kind::added, b[j]);
    return parts;
}

View diff_view(const std::vector<DiffPart>& parts) {
    View list = view_list();
    for (const auto& part : parts) {
        View item;
        item.set("text", part.text);
        item.set("same", part.kind == DiffPart::Kind::same);
        item.set("removed", part.kind == DiffPart::Kind::removed);
        item.set("added", part.kind == DiffPart::Kind::added);
        list.push_back(item);
    }
    return list;
}

std::string status_label(std::string_view status) {
    std::string label(status);
    std::replace(label.begin(), label.end(), '_', ' ');
    return label;
}

}  // namespace mcp::bridge
