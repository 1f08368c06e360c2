#include <gtest/gtest.h>

#include <set>

#include "ui_session.hpp"

namespace mcp::bridge {
namespace {

Request with_headers(std::initializer_list<std::pair<std::string, std::string>> headers) {
    Request request{http::verb::post, "/ui/datasets", 11};
    for (const auto& [name, value] : headers) request.insert(name, value);
    return request;
}

TEST(UiSession, FindsACookieAmongOthersAndAcrossCookieHeaders) {
    const Request request = with_headers(
        {{"Cookie", "theme=dark; mcp_ui_session=abc ; other=1"}, {"Cookie", "mcp_ui_login=xyz"}});
    EXPECT_EQ(request_cookie(request, ui_session_cookie), std::optional<std::string>("abc"));
    EXPECT_EQ(request_cookie(request, ui_login_cookie), std::optional<std::string>("xyz"));
    EXPECT_EQ(request_cookie(request, "missing"), std::nullopt);
    EXPECT_EQ(request_cookie(with_headers({{"Cookie", "xmcp_ui_session=1"}}), ui_session_cookie),
              std::nullopt)
        << "names match exactly";
}

TEST(UiSession, CookiesAreHttpOnlyStrictAndScopedToTheDashboard) {
    const std::string cookie =
        ui_cookie("mcp_ui_session", "t0k", "/ui", std::chrono::seconds(60), false);
    EXPECT_EQ(cookie, "mcp_ui_session=t0k; Path=/ui; Max-Age=60; HttpOnly; SameSite=Strict");
    EXPECT_NE(ui_cookie("a", "b", "/ui", std::chrono::seconds(1), true).find("; Secure"),
              std::string::npos);
    EXPECT_NE(ui_cookie_clear("a", "/ui", false).find("Max-Age=0"), std::string::npos);
    EXPECT_TRUE(request_is_https(with_headers({{"X-Forwarded-Proto", "https"}})));
    EXPECT_TRUE(request_is_https(with_headers({{"Origin", "https://dash.example"}})));
    EXPECT_FALSE(request_is_https(with_headers({{"Origin", "http://127.0.0.1:8080"}})));
}

TEST(UiSession, OnlySameOriginRequestsMayChangeThings) {
    EXPECT_TRUE(same_origin_request(with_headers({{"Host", "127.0.0.1:8080"}})))
        << "no Origin: a non-browser client, left to the CSRF token";
    EXPECT_TRUE(same_origin_request(
        with_headers({{"Host", "127.0.0.1:8080"}, {"Origin", "http://127.0.0.1:8080"}})));
    EXPECT_TRUE(same_origin_request(
        with_headers({{"Host", "Dash.Example"}, {"Origin", "https://dash.example"}})));
    EXPECT_TRUE(same_origin_request(with_headers({{"Host", "10.0.0.5:8080"},
                                                  {"X-Forwarded-Host", "dash.example"},
                                                  {"Origin", "https://dash.example"}})))
        << "behind a proxy that names the public host";
    EXPECT_FALSE(same_origin_request(
        with_headers({{"Host", "127.0.0.1:8080"}, {"Origin", "http://127.0.0.1:9999"}})));
    EXPECT_FALSE(same_origin_request(
        with_headers({{"Host", "127.0.0.1:8080"}, {"Origin", "http://evil.example"}})));
    EXPECT_FALSE(
        same_origin_request(with_headers({{"Host", "127.0.0.1:8080"}, {"Origin", "null"}})));
    EXPECT_FALSE(same_origin_request(with_headers({{"Host", "a"}, {"Origin", "http://a/path"}})));
    EXPECT_FALSE(same_origin_request(
        with_headers({{"Host", "127.0.0.1:8080"}, {"Sec-Fetch-Site", "cross-site"}})));
    EXPECT_FALSE(same_origin_request(
        with_headers({{"Host", "127.0.0.1:8080"}, {"Sec-Fetch-Site", "same-site"}})));
    EXPECT_TRUE(same_origin_request(
        with_headers({{"Host", "127.0.0.1:8080"}, {"Sec-Fetch-Site", "same-origin"}})));
}

TEST(UiSession, TokensAreRandomHexAndComparedWhole) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const std::string token = random_token();
        EXPECT_TRUE(well_formed_token(token)) << token;
        seen.insert(token);
    }
    EXPECT_EQ(seen.size(), 100u);
    EXPECT_FALSE(well_formed_token(std::string(63, 'a')));
    EXPECT_FALSE(well_formed_token(std::string(64, 'A')));
    EXPECT_FALSE(well_formed_token(std::string(63, 'a') + ";"));
    const std::string token = random_token();
    EXPECT_TRUE(tokens_equal(token, token));
    EXPECT_FALSE(tokens_equal(token, token.substr(0, 63)));
    EXPECT_FALSE(tokens_equal(token, std::string(64, '0')));
    EXPECT_FALSE(tokens_equal("", "")) << "an empty token never matches";
}

}  // namespace
}  // namespace mcp::bridge
