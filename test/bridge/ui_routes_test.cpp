#include <gtest/gtest.h>

#include <regex>

#include "pg_pool.hpp"
#include "ui_routes.hpp"
#include "ui_session.hpp"

namespace mcp::bridge {
namespace {

// The dashboard's routes without a database: everything that must hold before one is asked.
struct UiRoutesTest : ::testing::Test {
    PgPool pool{""};
    UiDeps deps{pool};
    Router router;
    UiRoutesTest() { add_ui_routes(router, deps); }

    Response get(const std::string& target,
                 std::initializer_list<std::pair<std::string, std::string>> headers = {}) {
        Request request{http::verb::get, target, 11};
        request.set(http::field::host, "127.0.0.1:8080");
        for (const auto& [name, value] : headers) request.insert(name, value);
        return router.route(request);
    }

    Response post(const std::string& target, const std::string& body,
                  std::initializer_list<std::pair<std::string, std::string>> headers = {}) {
        Request request{http::verb::post, target, 11};
        request.set(http::field::host, "127.0.0.1:8080");
        request.set(http::field::content_type, "application/x-www-form-urlencoded");
        for (const auto& [name, value] : headers) request.insert(name, value);
        request.body() = body;
        return router.route(request);
    }
};

void expect_security_headers(const Response& response) {
    const std::string csp(response["Content-Security-Policy"]);
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe"), std::string::npos);
    EXPECT_EQ(response["X-Frame-Options"], "DENY");
    EXPECT_EQ(response["Referrer-Policy"], "same-origin");
}

TEST_F(UiRoutesTest, PagesSendStrangersToSignInAndBack) {
    const Response response = get("/ui/datasets?status=approved");
    EXPECT_EQ(response.result(), http::status::see_other);
    EXPECT_EQ(response[http::field::location],
              "/ui/sign-in?next=%2Fui%2Fdatasets%3Fstatus%3Dapproved");
    expect_security_headers(response);
    EXPECT_EQ(get("/ui")[http::field::location], "/ui/datasets");
}

TEST_F(UiRoutesTest, HtmxFragmentsOfStrangersRedirectTheWholePage) {
    const Response response = get("/ui/datasets/1/progress", {{"HX-Request", "true"}});
    EXPECT_EQ(response.result(), http::status::unauthorized);
    EXPECT_EQ(response["HX-Redirect"], "/ui/sign-in");
}

TEST_F(UiRoutesTest, SignInPageCarriesADoubleSubmitToken) {
    const Response response = get("/ui/sign-in?next=%2Fui%2Flogs");
    ASSERT_EQ(response.result(), http::status::ok);
    EXPECT_EQ(response[http::field::content_type], "text/html; charset=utf-8");
    expect_security_headers(response);
    const std::string cookie(response[http::field::set_cookie]);
    std::smatch match;
    ASSERT_TRUE(std::regex_search(cookie, match,
                                  std::regex("^mcp_ui_login=([0-9a-f]{64}); Path=/ui/sign-in;")));
    EXPECT_NE(cookie.find("HttpOnly; SameSite=Strict"), std::string::npos);
    EXPECT_NE(response.body().find("name=\"login_token\" value=\"" + match[1].str() + "\""),
              std::string::npos);
    EXPECT_NE(response.body().find("name=\"next\" value=\"/ui/logs\""), std::string::npos);
    EXPECT_NE(response.body().find("<label for=\"api_key\">"), std::string::npos);
    EXPECT_FALSE(std::regex_search(response.body(), std::regex("<script(?![^>]*\\bsrc=)[^>]*>")));
}

TEST_F(UiRoutesTest, SignInNeverRedirectsToAnotherSite) {
    for (const char* next : {"https%3A%2F%2Fevil.example%2F", "%2F%2Fevil.example",
                             "%2Fui%2F..%5C..%5Cx", "%2Fapi%2Fdatasets", "%2Fui%2Fsign-in"}) {
        const Response response = get(std::string("/ui/sign-in?next=") + next);
        EXPECT_NE(response.body().find("name=\"next\" value=\"/ui/datasets\""), std::string::npos)
            << next;
    }
}

TEST_F(UiRoutesTest, SignInWithoutTheFormsTokenIsRefused) {
    const std::string token = random_token();
    Response response = post("/ui/sign-in", "api_key=mcp_x&login_token=" + token);
    EXPECT_EQ(response.result(), http::status::forbidden) << "no cookie";
    response = post("/ui/sign-in", "api_key=mcp_x&login_token=" + token,
                    {{"Cookie", "mcp_ui_login=" + random_token()}});
    EXPECT_EQ(response.result(), http::status::forbidden) << "a different cookie";
    response = post("/ui/sign-in", "api_key=mcp_x&login_token=" + token,
                    {{"Cookie", "mcp_ui_login=" + token}, {"Origin", "http://evil.example"}});
    EXPECT_EQ(response.result(), http::status::forbidden) << "another site";
    EXPECT_EQ(response.body().find("mcp_x"), std::string::npos) << "the key is not echoed";
    response = post("/ui/sign-in", "api_key=mcp_x&login_token=" + token,
                    {{"Cookie", "mcp_ui_login=" + token}});
    EXPECT_EQ(response.result(), http::status::service_unavailable)
        << "the token passes; the database is absent";
}

TEST_F(UiRoutesTest, ActionsOfStrangersChangeNothing) {
    const Response response = post("/ui/datasets/1/approve", "csrf_token=x");
    EXPECT_EQ(response.result(), http::status::see_other);
    EXPECT_EQ(response[http::field::location], "/ui/sign-in");
}

TEST_F(UiRoutesTest, StaticFilesComeFromTheBinary) {
    Response response = get("/ui/static/app.css");
    EXPECT_EQ(response.result(), http::status::ok);
    EXPECT_EQ(response[http::field::content_type], "text/css; charset=utf-8");
    EXPECT_FALSE(response[http::field::etag].empty());
    response = get("/ui/static/app.js");
    EXPECT_EQ(response[http::field::content_type], "text/javascript; charset=utf-8");
    EXPECT_EQ(get("/ui/static/nothing.js").result(), http::status::not_found);
    EXPECT_EQ(get("/ui/static/../templates/layout.mustache").result(), http::status::not_found);
}

TEST_F(UiRoutesTest, UnknownPagesAreHtml404s) {
    const Response response = get("/ui/nothing/here");
    EXPECT_EQ(response.result(), http::status::not_found);
    EXPECT_EQ(response[http::field::content_type], "text/html; charset=utf-8");
    expect_security_headers(response);
}

TEST_F(UiRoutesTest, ASessionCookieWithoutADatabaseIsAnHonest503) {
    const Response response = get("/ui/datasets", {{"Cookie", "mcp_ui_session=" + random_token()}});
    EXPECT_EQ(response.result(), http::status::service_unavailable);
    EXPECT_NE(response.body().find("not reachable"), std::string::npos);
}

}  // namespace
}  // namespace mcp::bridge
