#include <gtest/gtest.h>

#include <regex>

#include "pg_pool.hpp"
#include "test_support.hpp"
#include "ui_routes.hpp"
#include "ui_session.hpp"

namespace mcp::bridge {
namespace {

using test::missing_database_message;
using test::query_value;
using test::test_database_url;

// The dashboard against the metadata database: sign-in, a session's pages, CSRF and roles,
// sign-out. (The browser test in test/ui/ covers the same flows through Chromium.)
struct UiLiveTest : ::testing::Test {
    std::string url;
    std::unique_ptr<PgPool> pool;
    std::unique_ptr<UiDeps> deps;
    Router router;
    std::string suffix = random_token().substr(0, 10);

    void SetUp() override {
        const auto found = test_database_url();
        ASSERT_TRUE(found) << missing_database_message;
        url = *found;
        pool = std::make_unique<PgPool>(url);
        deps = std::make_unique<UiDeps>(UiDeps{*pool});
        add_ui_routes(router, *deps);
    }

    std::string new_key(const std::string& name, const std::string& role) {
        return query_value(
            url, "SELECT mcp.create_api_key('" + name + " " + suffix + "', '" + role + "')");
    }

    Response send(http::verb method, const std::string& target, const std::string& cookie,
                  const std::string& body = {},
                  const std::string& origin = "http://127.0.0.1:8080") {
        Request request{method, target, 11};
        request.set(http::field::host, "127.0.0.1:8080");
        if (!origin.empty()) request.set(http::field::origin, origin);
        if (!cookie.empty()) request.set(http::field::cookie, cookie);
        if (method == http::verb::post) {
            request.set(http::field::content_type, "application/x-www-form-urlencoded");
            request.body() = body;
        }
        return router.route(request);
    }

    // Signs in through the form; returns the session cookie ("name=value").
    std::string sign_in(const std::string& key) {
        const Response page = send(http::verb::get, "/ui/sign-in", "");
        std::smatch match;
        const std::string cookie(page[http::field::set_cookie]);
        EXPECT_TRUE(std::regex_search(cookie, match, std::regex("mcp_ui_login=([0-9a-f]{64})")));
        const std::string token = match[1];
        const Response signed_in =
            send(http::verb::post, "/ui/sign-in", "mcp_ui_login=" + token,
                 "login_token=" + token + "&api_key=" + key + "&next=%2Fui%2Fsettings");
        EXPECT_EQ(signed_in.result(), http::status::see_other);
        EXPECT_EQ(signed_in[http::field::location], "/ui/settings");
        for (const auto& field : signed_in) {
            const std::string value(field.value());
            if (field.name() == http::field::set_cookie && value.rfind("mcp_ui_session=", 0) == 0) {
                EXPECT_NE(value.find("HttpOnly; SameSite=Strict"), std::string::npos);
                return value.substr(0, value.find(';'));
            }
        }
        ADD_FAILURE() << "no session cookie";
        return {};
    }

    static std::string csrf_of(const Response& page) {
        std::smatch match;
        const std::string body = page.body();
        EXPECT_TRUE(std::regex_search(body, match,
                                      std::regex("name=\"csrf_token\" value=\"([0-9a-f]{64})\"")));
        return match[1];
    }
};

TEST_F(UiLiveTest, AnAdminSignsInSeesPagesAndChangesASetting) {
    const std::string cookie = sign_in(new_key("ui live admin", "admin"));
    const Response settings = send(http::verb::get, "/ui/settings", cookie);
    ASSERT_EQ(settings.result(), http::status::ok);
    EXPECT_NE(settings.body().find("ui live admin " + suffix), std::string::npos);
    EXPECT_NE(settings.body().find("rules.low_base"), std::string::npos);
    // The retention, as mcp.log_retention_status() reports it.
    EXPECT_NE(settings.body().find("Query logs are kept</dt><dd>90 days"), std::string::npos)
        << settings.body();
    EXPECT_NE(settings.body().find("mcp_analytics.log_archive_dir</code> is not set"), std::string::npos);
    const std::string csrf = csrf_of(settings);
    EXPECT_EQ(send(http::verb::get, "/ui/datasets", cookie).result(), http::status::ok);
    EXPECT_EQ(send(http::verb::get, "/ui/logs?range=1h", cookie).result(), http::status::ok);
    const Response keys = send(http::verb::get, "/ui/keys", cookie);
    EXPECT_EQ(keys.result(), http::status::ok);
    EXPECT_NE(keys.body().find("/mcp</code>"), std::string::npos) << "the MCP endpoint to connect to";
    EXPECT_EQ(send(http::verb::get, "/ui/datasets/999999999", cookie).result(),
              http::status::not_found);

    const Response saved = send(http::verb::post, "/ui/settings/rules.output", cookie,
                                "csrf_token=" + csrf + "&value=Tables%2C+please.");
    EXPECT_EQ(saved.result(), http::status::see_other);
    EXPECT_EQ(query_value(url, "SELECT mcp.get_setting('rules.output') #>> '{}'"),
              "Tables, please.");
    EXPECT_EQ(
        send(http::verb::post, "/ui/settings/rules.output/reset", cookie, "csrf_token=" + csrf)
            .result(),
        http::status::see_other);
    EXPECT_EQ(
        query_value(
            url, "SELECT count(*) FROM mcp.settings() WHERE key = 'rules.output' AND is_default"),
        "1");
}

TEST_F(UiLiveTest, FormsWithoutTheCsrfTokenOrFromElsewhereAreRefused) {
    const std::string cookie = sign_in(new_key("ui live csrf", "admin"));
    const std::string csrf = csrf_of(send(http::verb::get, "/ui/settings", cookie));
    const std::string body = "value=changed&csrf_token=";
    EXPECT_EQ(send(http::verb::post, "/ui/settings/rules.output", cookie, body).result(),
              http::status::forbidden);
    EXPECT_EQ(
        send(http::verb::post, "/ui/settings/rules.output", cookie, body + random_token()).result(),
        http::status::forbidden);
    EXPECT_EQ(send(http::verb::post, "/ui/settings/rules.output", cookie, body + csrf,
                   "http://evil.example")
                  .result(),
              http::status::forbidden);
    EXPECT_EQ(
        query_value(
            url, "SELECT count(*) FROM mcp.settings() WHERE key = 'rules.output' AND is_default"),
        "1");
}

TEST_F(UiLiveTest, AReaderSeesButCannotChange) {
    const std::string cookie = sign_in(new_key("ui live reader", "reader"));
    const Response settings = send(http::verb::get, "/ui/settings", cookie);
    ASSERT_EQ(settings.result(), http::status::ok);
    EXPECT_EQ(settings.body().find(">Save<"), std::string::npos) << "no save buttons";
    EXPECT_NE(settings.body().find("readonly"), std::string::npos);
    const Response changed = send(http::verb::post, "/ui/settings/rules.output", cookie,
                                  "value=x&csrf_token=" + csrf_of(settings));
    EXPECT_EQ(changed.result(), http::status::forbidden);
    EXPECT_EQ(send(http::verb::get, "/ui/keys", cookie).result(), http::status::forbidden);
    EXPECT_EQ(send(http::verb::get, "/ui/datasets/new", cookie).result(), http::status::forbidden);
}

TEST_F(UiLiveTest, SignOutAndRevocationEndTheSession) {
    const std::string key = new_key("ui live out", "admin");
    std::string cookie = sign_in(key);
    const std::string csrf = csrf_of(send(http::verb::get, "/ui/settings", cookie));
    const Response out = send(http::verb::post, "/ui/sign-out", cookie, "csrf_token=" + csrf);
    EXPECT_EQ(out.result(), http::status::see_other);
    EXPECT_NE(
        std::string(out[http::field::set_cookie]).find("mcp_ui_session=; Path=/ui; Max-Age=0"),
        std::string::npos);
    EXPECT_EQ(send(http::verb::get, "/ui/settings", cookie).result(), http::status::see_other)
        << "the old cookie is dead";

    cookie = sign_in(key);
    EXPECT_EQ(send(http::verb::get, "/ui/settings", cookie).result(), http::status::ok);
    query_value(url, "SELECT mcp.revoke_api_key('ui live out " + suffix + "')");
    EXPECT_EQ(send(http::verb::get, "/ui/settings", cookie).result(), http::status::see_other)
        << "revoking the key ends its browser sessions";
}

TEST_F(UiLiveTest, AWrongKeyIsRefusedWithoutEchoingIt) {
    const Response page = send(http::verb::get, "/ui/sign-in", "");
    std::smatch match;
    const std::string cookie(page[http::field::set_cookie]);
    ASSERT_TRUE(std::regex_search(cookie, match, std::regex("mcp_ui_login=([0-9a-f]{64})")));
    const std::string wrong = "mcp_" + random_token();
    const Response refused = send(http::verb::post, "/ui/sign-in", "mcp_ui_login=" + match[1].str(),
                                  "login_token=" + match[1].str() + "&api_key=" + wrong);
    EXPECT_EQ(refused.result(), http::status::unauthorized);
    EXPECT_NE(refused.body().find("unknown, revoked or expired"), std::string::npos);
    EXPECT_EQ(refused.body().find(wrong), std::string::npos);
}

}  // namespace
}  // namespace mcp::bridge
