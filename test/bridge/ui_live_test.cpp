#include <gtest/gtest.h>

#include <regex>

#include "pg_pool.hpp"
#include "test_support.hpp"
#include "ui_form.hpp"
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

TEST_F(UiLiveTest, AnAdminManagesPeopleWithoutAPasswordEverComingBack) {
    const std::string cookie = sign_in(new_key("ui live people", "admin"));
    const Response people = send(http::verb::get, "/ui/people", cookie);
    ASSERT_EQ(people.result(), http::status::ok);
    const std::string csrf = csrf_of(people);
    const std::string login = "live." + suffix + "@example.com";
    const std::string password = "live password " + suffix;
    const std::string form = "csrf_token=" + csrf + "&login=" + url_encode(login) +
                             "&display_name=" + url_encode("<img src=x onerror=alert(1)>") +
                             "&role=reader&password=" + url_encode(password);
    const Response created = send(http::verb::post, "/ui/people", cookie, form);
    ASSERT_EQ(created.result(), http::status::see_other) << created.body();
    const std::string location(created[http::field::location]);
    ASSERT_TRUE(std::regex_match(location, std::regex("/ui/people/[0-9]+\\?notice=person_created")))
        << location;
    EXPECT_EQ(location.find(password), std::string::npos);
    const Response person = send(http::verb::get, location, cookie);
    ASSERT_EQ(person.result(), http::status::ok);
    EXPECT_NE(person.body().find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
    EXPECT_EQ(person.body().find("<img src=x"), std::string::npos) << "a hostile name is escaped";
    EXPECT_EQ(person.body().find(password), std::string::npos);

    // Refused forms: a clear message, the typed values back, never the password.
    const Response again = send(http::verb::post, "/ui/people", cookie, form);
    EXPECT_EQ(again.result(), http::status::conflict);
    EXPECT_NE(again.body().find("already exists"), std::string::npos);
    EXPECT_NE(again.body().find("value=\"" + login + "\""), std::string::npos);
    EXPECT_EQ(again.body().find(password), std::string::npos);
    const Response bad_role = send(http::verb::post, "/ui/people", cookie,
                                   "csrf_token=" + csrf + "&login=x" + suffix +
                                       "&display_name=X&role=owner");
    EXPECT_EQ(bad_role.result(), http::status::bad_request);
    EXPECT_NE(bad_role.body().find("role must be reader or admin"), std::string::npos);
    const Response long_name = send(http::verb::post, "/ui/people", cookie,
                                    "csrf_token=" + csrf + "&login=y" + suffix +
                                        "&display_name=" + std::string(300, 'n'));
    EXPECT_EQ(long_name.result(), http::status::bad_request);
    EXPECT_NE(long_name.body().find("1 to 200 printable characters"), std::string::npos);
    const Response short_password = send(http::verb::post, location.substr(0, location.find('?')) +
                                             "/password", cookie,
                                         "csrf_token=" + csrf + "&password=short");
    EXPECT_EQ(short_password.result(), http::status::bad_request);
    EXPECT_NE(short_password.body().find("10 to 1024 characters"), std::string::npos);
    EXPECT_EQ(query_value(url, "SELECT count(*) FROM mcp.users WHERE login IN ('x" + suffix +
                                   "', 'y" + suffix + "')"),
              "0");

    const std::string base = location.substr(0, location.find('?'));
    EXPECT_EQ(send(http::verb::post, base + "/disable", cookie, "csrf_token=" + csrf).result(),
              http::status::see_other);
    EXPECT_EQ(query_value(url, "SELECT disabled FROM mcp.users WHERE login = '" + login + "'"), "t");
    EXPECT_EQ(send(http::verb::get, "/ui/people/999999999", cookie).result(),
              http::status::not_found);
    EXPECT_EQ(send(http::verb::get, "/ui/people/99999999999999", cookie).result(),
              http::status::not_found);
    EXPECT_EQ(send(http::verb::post, "/ui/people/999999999/disable", cookie, "csrf_token=" + csrf)
                  .result(),
              http::status::not_found);
}

TEST_F(UiLiveTest, AnOAuthClientSecretIsShownOnce) {
    const std::string cookie = sign_in(new_key("ui live oauth", "admin"));
    const Response page = send(http::verb::get, "/ui/oauth-clients", cookie);
    ASSERT_EQ(page.result(), http::status::ok);
    const std::string csrf = csrf_of(page);
    const std::string name = "live client " + suffix;
    const Response created =
        send(http::verb::post, "/ui/oauth-clients", cookie,
             "csrf_token=" + csrf + "&name=" + url_encode(name) +
                 "&redirect_uris=https%3A%2F%2Fclient.example%2Fcb%0D%0A&confidential=1");
    ASSERT_EQ(created.result(), http::status::created) << created.body();
    std::smatch match;
    const std::string body = created.body();
    ASSERT_TRUE(std::regex_search(body, match, std::regex("value=\"(mcpcs_[0-9a-f]{64})\"")));
    const std::string secret = match[1];
    const Response later = send(http::verb::get, "/ui/oauth-clients", cookie);
    EXPECT_NE(later.body().find(name), std::string::npos);
    EXPECT_EQ(later.body().find(secret), std::string::npos) << "the secret is shown only once";
    const Response bad_uri = send(http::verb::post, "/ui/oauth-clients", cookie,
                                  "csrf_token=" + csrf + "&name=x&redirect_uris=javascript%3Aalert(1)");
    EXPECT_EQ(bad_uri.result(), http::status::bad_request);
    EXPECT_NE(bad_uri.body().find("is not allowed"), std::string::npos);
    EXPECT_EQ(send(http::verb::post, "/ui/oauth-clients/disable", cookie,
                   "csrf_token=" + csrf + "&client_id=mcpc_nope")
                  .result(),
              http::status::not_found);
}

TEST_F(UiLiveTest, AReaderGetsNoAdminPage) {
    const std::string cookie = sign_in(new_key("ui live reader pages", "reader"));
    const Response settings = send(http::verb::get, "/ui/settings", cookie);
    EXPECT_EQ(settings.body().find("href=\"/ui/people\""), std::string::npos) << "no nav link";
    EXPECT_EQ(settings.body().find("href=\"/ui/oauth-clients\""), std::string::npos);
    const std::string csrf = csrf_of(settings);
    for (const char* page : {"/ui/people", "/ui/people/1", "/ui/oauth-clients"}) {
        EXPECT_EQ(send(http::verb::get, page, cookie).result(), http::status::forbidden) << page;
    }
    for (const char* action : {"/ui/people", "/ui/people/1/role", "/ui/oauth-clients",
                               "/ui/datasets/1/grants", "/ui/oauth-clients/disable"}) {
        EXPECT_EQ(send(http::verb::post, action, cookie,
                       "csrf_token=" + csrf + "&login=z&display_name=z&role=admin")
                      .result(),
                  http::status::forbidden)
            << action;
    }
}

}  // namespace
}  // namespace mcp::bridge
