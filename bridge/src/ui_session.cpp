#include "ui_session.hpp"

#include "http_headers.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "pg_pool.hpp"

namespace mcp::bridge {

namespace {

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// "scheme://host[:port]" → "host[:port]", lowercased; empty when it is not such an origin.
std::string origin_authority(std::string_view origin) {
    const auto scheme_end = origin.find("://");
    if (scheme_end == std::string_view::npos) {
        return {};
    }
    const std::string_view rest = origin.substr(scheme_end + 3);
    if (rest.empty() || rest.find_first_of("/?#@") != std::string_view::npos) {
        return {};
    }
    return lowercase(rest);
}

}  // namespace

std::optional<std::string> request_cookie(const Request& request, std::string_view name) {
    const auto range = request.equal_range(http::field::cookie);
    for (auto field = range.first; field != range.second; ++field) {
        std::string_view rest = field->value();
        while (!rest.empty()) {
            const auto semicolon = rest.find(';');
            const std::string_view pair = trim(rest.substr(0, semicolon));
            rest = semicolon == std::string_view::npos ? std::string_view()
                                                       : rest.substr(semicolon + 1);
            const auto equals = pair.find('=');
            if (equals != std::string_view::npos && trim(pair.substr(0, equals)) == name) {
                return std::string(trim(pair.substr(equals + 1)));
            }
        }
    }
    return std::nullopt;
}

bool request_is_https(const Request& request) {
    if (lowercase(trim(header_value(request, "X-Forwarded-Proto"))) == "https") {
        return true;
    }
    return lowercase(header_value(request, "Origin")).rfind("https://", 0) == 0;
}

std::string ui_cookie(std::string_view name, std::string_view value, std::string_view path,
                      std::chrono::seconds max_age, bool secure) {
    std::string cookie =
        std::string(name) + '=' + std::string(value) + "; Path=" + std::string(path) +
        "; Max-Age=" + std::to_string(max_age.count()) + "; HttpOnly; SameSite=Strict";
    if (secure) {
        cookie += "; Secure";
    }
    return cookie;
}

std::string ui_cookie_clear(std::string_view name, std::string_view path, bool secure) {
    return ui_cookie(name, "", path, std::chrono::seconds(0), secure);
}

bool same_origin_request(const Request& request) {
    const std::string fetch_site = lowercase(trim(header_value(request, "Sec-Fetch-Site")));
    if (!fetch_site.empty() && fetch_site != "same-origin" && fetch_site != "none") {
        return false;
    }
    const auto origin = request.find(http::field::origin);
    if (origin == request.end()) {
        return true;  // older browsers and non-browser clients; the CSRF token still applies
    }
    const std::string authority = origin_authority(trim(origin->value()));
    if (authority.empty()) {
        return false;  // "null" (sandboxed frames, some redirects) or garbage
    }
    const std::string host = lowercase(trim(header_value(request, "Host")));
    const std::string forwarded = lowercase(trim(header_value(request, "X-Forwarded-Host")));
    return authority == host || (!forwarded.empty() && authority == forwarded);
}

bool tokens_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_token() {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
        throw std::runtime_error("no random bytes");
    }
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(64);
    for (const unsigned char byte : bytes) {
        out += hex[byte >> 4];
        out += hex[byte & 0xf];
    }
    return out;
}

bool well_formed_token(std::string_view token) {
    return token.size() == 64 &&
           token.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

UiLookup lookup_ui_session(PgPool& pool, const Request& request, UiSession& session) {
    const auto token = request_cookie(request, ui_session_cookie);
    if (!token || !well_formed_token(*token)) {
        return UiLookup::none;
    }
    PgQuery query;
    query.sql = "SELECT api_key_id, key_name, role, csrf_token FROM mcp.ui_session($1)";
    query.params = {*token};
    query.role = DbRole::reader;
    PgRows rows;
    PgError error;
    if (!pool.run(query, rows, error)) {
        return UiLookup::unavailable;
    }
    if (rows.rows.empty() || !rows.rows[0][0] || !rows.rows[0][2] || !rows.rows[0][3]) {
        return UiLookup::none;
    }
    const auto& row = rows.rows[0];
    session.identity.api_key_id = std::stoi(*row[0]);
    session.identity.name = row[1].value_or("");
    session.identity.role = *row[2];
    session.csrf_token = *row[3];
    session.token = *token;
    return UiLookup::found;
}

namespace {

// The user agent is only for the record: printable ASCII, bounded, so that no byte of it can
// make the statement fail.
std::string printable_agent(std::string_view user_agent) {
    std::string agent;
    for (const char c : user_agent.substr(0, 500)) {
        if (c >= 0x20 && c < 0x7f) agent += c;
    }
    return agent;
}

// Reads the row of mcp.ui_sign_in / ui_sign_in_password (session_token, csrf_token,
// api_key_id, key_name, role, seconds left).
UiSignIn read_sign_in(const PgRows& rows, UiSession& session, std::chrono::seconds& lifetime) {
    if (rows.rows.empty() || !rows.rows[0][0] || !rows.rows[0][1] || !rows.rows[0][2] ||
        !rows.rows[0][4] || !rows.rows[0][5]) {
        return UiSignIn::rejected;
    }
    const auto& row = rows.rows[0];
    session.token = *row[0];
    session.csrf_token = *row[1];
    session.identity.api_key_id = std::stoi(*row[2]);
    session.identity.name = row[3].value_or("");
    session.identity.role = *row[4];
    lifetime = std::chrono::seconds(std::stoll(*row[5]));
    return UiSignIn::ok;
}

}  // namespace

UiSignIn ui_sign_in(PgPool& pool, std::string_view api_key, std::string_view user_agent,
                    UiSession& session, std::chrono::seconds& lifetime) {
    const std::string_view key = trim(api_key);
    if (key.empty() || key.size() > 200) {
        return UiSignIn::rejected;
    }
    PgQuery query;
    query.sql =
        "SELECT session_token, csrf_token, api_key_id, key_name, role,"
        " greatest(1, extract(epoch FROM expires_at - now()))::bigint"
        " FROM mcp.ui_sign_in($1, nullif($2, ''))";
    query.params = {std::string(key), printable_agent(user_agent)};
    query.role = DbRole::reader;
    query.retry_on_broken_connection = false;
    PgRows rows;
    PgError error;
    if (!pool.run(query, rows, error)) {
        return error.kind == PgError::Kind::server ? UiSignIn::rejected : UiSignIn::unavailable;
    }
    return read_sign_in(rows, session, lifetime);
}

UiSignIn ui_sign_in_password(PgPool& pool, std::string_view login, std::string_view password,
                             std::string_view user_agent, UiSession& session,
                             std::chrono::seconds& lifetime, std::string& refusal) {
    refusal = "The login or password is wrong.";
    if (trim(login).empty() || login.size() > 200 || password.empty() || password.size() > 1024) {
        return UiSignIn::rejected;
    }
    PgQuery query;
    query.sql =
        "SELECT session_token, csrf_token, api_key_id, key_name, role,"
        " greatest(1, extract(epoch FROM expires_at - now()))::bigint, error"
        " FROM mcp.ui_sign_in_password($1, $2, nullif($3, ''))";
    query.params = {std::string(login), std::string(password), printable_agent(user_agent)};
    query.role = DbRole::reader;
    query.retry_on_broken_connection = false;
    PgRows rows;
    PgError error;
    if (!pool.run(query, rows, error)) {
        return error.kind == PgError::Kind::server ? UiSignIn::rejected : UiSignIn::unavailable;
    }
    if (!rows.rows.empty() && rows.rows[0].size() > 6 && rows.rows[0][6]) {
        // The database's sentence, capitalized as the page shows it.
        refusal = *rows.rows[0][6];
        if (!refusal.empty() && refusal[0] >= 'a' && refusal[0] <= 'z') refusal[0] = static_cast<char>(refusal[0] - 32);
        refusal += '.';
        return UiSignIn::rejected;
    }
    return read_sign_in(rows, session, lifetime);
}

void ui_sign_out(PgPool& pool, std::string_view token) {
    if (!well_formed_token(token)) {
        return;
    }
    PgQuery query;
    query.sql = "SELECT mcp.ui_sign_out($1)";
    query.params = {std::string(token)};
    query.role = DbRole::reader;
    PgRows rows;
    PgError error;
    pool.run(query, rows, error);  // a session left behind expires by itself
}

}  // namespace mcp::bridge
