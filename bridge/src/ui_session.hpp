#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "http_types.hpp"
#include "mcp_backend.hpp"

namespace mcp::bridge {

class PgPool;

// A signed-in dashboard browser. Sessions are rows of mcp.ui_sessions (any bridge serves any
// browser); the cookie holds a random token whose hash only the database keeps. Every form
// carries the session's CSRF token, which a forged cross-site form cannot know.
struct UiSession {
    Identity identity;
    std::string token;  // the cookie's value
    std::string csrf_token;
    bool admin() const { return identity.role == "admin"; }
};

inline constexpr std::string_view ui_session_cookie = "mcp_ui_session";
// Before there is a session, the sign-in form is protected by a double-submit token: the same
// random value in an HttpOnly cookie and in the form (login CSRF).
inline constexpr std::string_view ui_login_cookie = "mcp_ui_login";

// The value of one cookie of the request; nullopt when absent.
std::optional<std::string> request_cookie(const Request& request, std::string_view name);

// Set-Cookie values: HttpOnly, SameSite=Strict, under /ui; Secure when the browser reached
// us over https (directly or through a proxy that says so).
std::string ui_cookie(std::string_view name, std::string_view value, std::string_view path,
                      std::chrono::seconds max_age, bool secure);
std::string ui_cookie_clear(std::string_view name, std::string_view path, bool secure);
bool request_is_https(const Request& request);

// A state-changing request must come from our own pages: an Origin header, when the browser
// sends one, must name this very host, and Sec-Fetch-Site must not say cross-site.
bool same_origin_request(const Request& request);

// Compares secrets in time independent of where they differ.
bool tokens_equal(std::string_view a, std::string_view b);

// 64 hex digits from OpenSSL's CSPRNG.
std::string random_token();

// A token as the cookie must hold it: 64 lowercase hex digits.
bool well_formed_token(std::string_view token);

enum class UiLookup { found, none, unavailable };

// The session of the request's cookie, checked in the database (expired, idle or revoked-key
// sessions are gone).
UiLookup lookup_ui_session(PgPool& pool, const Request& request, UiSession& session);

enum class UiSignIn { ok, rejected, unavailable };

UiSignIn ui_sign_in(PgPool& pool, std::string_view api_key, std::string_view user_agent,
                    UiSession& session, std::chrono::seconds& lifetime);
// A person's login and password (mcp.ui_sign_in_password): `refusal` is the database's
// reason when rejected (wrong login or password, locked after failures, disabled).
UiSignIn ui_sign_in_password(PgPool& pool, std::string_view login, std::string_view password,
                             std::string_view user_agent, UiSession& session,
                             std::chrono::seconds& lifetime, std::string& refusal);
void ui_sign_out(PgPool& pool, std::string_view token);

}  // namespace mcp::bridge
