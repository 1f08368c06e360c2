#include <gtest/gtest.h>

#include "auth.hpp"
#include "auth_throttle.hpp"
#include "proxy_trust.hpp"
#include "pg_pool.hpp"
#include "test_support.hpp"

namespace mcp::bridge {
namespace {

using namespace std::chrono_literals;
using test::missing_database_message;
using test::test_database_url;

Request with_header(std::string_view name, std::string value) {
    Request request{http::verb::post, "/mcp", 11};
    request.set(name, value);
    return request;
}

TEST(Auth, TheCredentialIsABearerTokenOrAnXApiKey) {
    EXPECT_EQ(Authenticator::credential(with_header("Authorization", "Bearer mcp_abc")), "mcp_abc");
    EXPECT_EQ(Authenticator::credential(with_header("Authorization", "bearer   mcp_abc ")), "mcp_abc");
    EXPECT_EQ(Authenticator::credential(with_header("X-API-Key", "mcp_xyz")), "mcp_xyz");
    EXPECT_EQ(Authenticator::credential(with_header("Authorization", "Basic dXNlcjpwdw==")), "")
        << "a non-bearer scheme is a wrong credential, not a missing one";
    EXPECT_FALSE(Authenticator::credential(Request{http::verb::get, "/mcp", 11}));
}

TEST(Auth, FailuresAre401WithAPlainBearerChallenge) {
    const Response missing = auth_failure_response({AuthStatus::missing, {}}, true);
    EXPECT_EQ(missing.result(), http::status::unauthorized);
    EXPECT_EQ(missing[http::field::www_authenticate], "Bearer realm=\"mcp-analytics\"");
    EXPECT_NE(missing.body().find("\"jsonrpc\":\"2.0\""), std::string::npos);
    const Response invalid = auth_failure_response({AuthStatus::invalid, {}}, false);
    EXPECT_NE(std::string(invalid[http::field::www_authenticate]).find("invalid_token"), std::string::npos);
    EXPECT_EQ(std::string(invalid[http::field::www_authenticate]).find("resource_metadata"), std::string::npos)
        << "static keys: no OAuth discovery";
    EXPECT_EQ(auth_failure_response({AuthStatus::unavailable, {}}, false).result(),
              http::status::service_unavailable);
}

TEST(Auth, WithOAuthFailuresPointAtTheResourceMetadata) {
    const std::string metadata = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
    const Response missing = auth_failure_response({AuthStatus::missing, {}}, true, metadata);
    EXPECT_EQ(missing.result(), http::status::unauthorized);
    EXPECT_EQ(missing[http::field::www_authenticate],
              "Bearer resource_metadata=\"" + metadata + "\", scope=\"datasets:read datasets:query\"");
    const Response invalid = auth_failure_response({AuthStatus::invalid, {}}, false, metadata);
    EXPECT_EQ(invalid[http::field::www_authenticate],
              "Bearer error=\"invalid_token\", resource_metadata=\"" + metadata + "\"");
    EXPECT_EQ(auth_failure_response({AuthStatus::unavailable, {}}, false, metadata).result(),
              http::status::service_unavailable);
}

TEST(Auth, AThrottledClientGets429WithRetryAfter) {
    const Response refused = auth_failure_response({AuthStatus::throttled, {}, 42}, true);
    EXPECT_EQ(refused.result(), http::status::too_many_requests);
    EXPECT_EQ(refused[http::field::retry_after], "42");
    EXPECT_NE(refused.body().find("retry in 42 s"), std::string::npos) << refused.body();
    EXPECT_NE(refused.body().find("\"jsonrpc\":\"2.0\""), std::string::npos);
}

TEST(AuthThrottle, RefusesAnAddressAfterItsFailuresForTheRestOfTheWindow) {
    AuthThrottle throttle(3, std::chrono::seconds(60));
    const auto start = AuthThrottle::Clock::now();
    EXPECT_FALSE(throttle.record_failure("10.0.0.1", start));
    EXPECT_FALSE(throttle.record_failure("10.0.0.1", start + 1s));
    EXPECT_EQ(throttle.refused_for("10.0.0.1", start + 2s), 0) << "two failures: still allowed";
    EXPECT_TRUE(throttle.record_failure("10.0.0.1", start + 2s)) << "the third one starts the refusal";
    EXPECT_EQ(throttle.refused_for("10.0.0.1", start + 10s), 51);
    EXPECT_EQ(throttle.refused_for("10.0.0.2", start + 10s), 0) << "other addresses are not affected";
    EXPECT_EQ(throttle.refused_for("10.0.0.1", start + 61s), 0) << "the window has passed";
    EXPECT_FALSE(throttle.record_failure("10.0.0.1", start + 62s)) << "counting starts afresh";
}

TEST(AuthThrottle, MemoryStaysBoundedUnderAFloodOfAddresses) {
    AuthThrottle throttle(2, std::chrono::seconds(60), 100);
    const auto now = AuthThrottle::Clock::now();
    for (int i = 0; i < 1000; ++i) throttle.record_failure("10.1." + std::to_string(i), now);
    throttle.record_failure("10.9.9.9", now);
    throttle.record_failure("10.9.9.9", now);
    EXPECT_GT(throttle.refused_for("10.9.9.9", now), 0) << "the newest address is still counted";
}

TEST(Auth, Sha256IsTheStandardOne) {
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Auth, KeysAreCheckedInTheDatabaseAndRememberedBriefly) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    const std::string name = "gtest-auth-" + std::to_string(::getpid());
    const std::string secret = test::query_value(*url, "SELECT mcp.create_api_key('" + name + "', 'reader')");
    PgPool pool(*url, PgPoolOptions{1});
    Authenticator auth(pool, 60s);
    AuthResult result = auth.check_secret(secret);
    ASSERT_EQ(result.status, AuthStatus::ok);
    EXPECT_EQ(result.identity.name, name);
    EXPECT_EQ(result.identity.role, "reader");
    EXPECT_GT(result.identity.api_key_id, 0);
    EXPECT_EQ(auth.check_secret(secret + "x").status, AuthStatus::invalid);
    EXPECT_EQ(auth.check_secret("").status, AuthStatus::invalid);

    test::query_value(*url, "SELECT mcp.revoke_api_key('" + name + "')");
    EXPECT_EQ(auth.check_secret(secret).status, AuthStatus::ok) << "cached until told otherwise";
    auth.forget_all();  // what a NOTIFY about the key does
    EXPECT_EQ(auth.check_secret(secret).status, AuthStatus::invalid);
}

TEST(Auth, RepeatedFailuresFromOneAddressAreThrottledButKnownKeysStillWork) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    const std::string name = "gtest-throttle-" + std::to_string(::getpid());
    const std::string secret = test::query_value(*url, "SELECT mcp.create_api_key('" + name + "', 'reader')");
    PgPool pool(*url, PgPoolOptions{1});
    Authenticator auth(pool, 0s);  // nothing stays cached: the known key is asked about each time
    auto from = [](const std::string& address, const std::string& key) {
        Request request = with_header("Authorization", "Bearer " + key);
        request.set(client_address_header, address);
        return request;
    };
    ASSERT_EQ(auth.authenticate(from("192.0.2.1", secret)).status, AuthStatus::ok);  // now known
    for (int i = 0; i < 20; ++i) EXPECT_EQ(auth.authenticate(from("192.0.2.1", "mcp_wrong")).status, AuthStatus::invalid);
    const AuthResult refused = auth.authenticate(from("192.0.2.1", "mcp_wrong"));
    EXPECT_EQ(refused.status, AuthStatus::throttled);
    EXPECT_GT(refused.retry_after_s, 0);
    EXPECT_EQ(auth.authenticate(from("192.0.2.1", secret)).status, AuthStatus::ok) << "a verified key is not locked out";
    EXPECT_EQ(auth.authenticate(from("192.0.2.2", "mcp_wrong")).status, AuthStatus::invalid) << "another address";
    test::query_value(*url, "SELECT mcp.revoke_api_key('" + name + "')");
    EXPECT_EQ(auth.authenticate(from("192.0.2.1", secret)).status, AuthStatus::invalid) << "revoked: asked, refused";
    EXPECT_EQ(auth.authenticate(from("192.0.2.1", secret)).status, AuthStatus::throttled)
        << "and no longer let through the throttle";
}

TEST(Auth, AnUnreachableDatabaseIsUnavailableNotInvalid) {
    PgPoolOptions options;
    options.connect_timeout = 500ms;
    PgPool pool("host=127.0.0.1 port=" + std::to_string(test::closed_port()) + " dbname=x user=x", options);
    Authenticator auth(pool, 1s);
    EXPECT_EQ(auth.check_secret("mcp_anything").status, AuthStatus::unavailable);
}

}  // namespace
}  // namespace mcp::bridge
