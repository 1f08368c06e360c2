#include <gtest/gtest.h>

#include "cors.hpp"

namespace mcp::bridge {
namespace {

Request with_origin(std::string origin, std::string host = "127.0.0.1:8080") {
    Request request{http::verb::post, "/mcp", 11};
    request.set(http::field::host, host);
    if (!origin.empty()) {
        request.set(http::field::origin, origin);
    }
    return request;
}

TEST(OriginPolicy, RequestsWithoutOriginComeFromNonBrowserClientsAndPass) {
    EXPECT_TRUE(OriginPolicy().allows(with_origin("")));
}

TEST(OriginPolicy, LoopbackOriginsOnAnyPortPass) {
    const OriginPolicy policy;
    for (const char* origin : {"http://localhost", "http://localhost:6274", "https://127.0.0.1:3000",
                               "http://[::1]:8080"}) {
        EXPECT_TRUE(policy.allows(with_origin(origin))) << origin;
    }
}

TEST(OriginPolicy, LookalikesAndForeignOriginsAreRefused) {
    const OriginPolicy policy;
    for (const char* origin : {"https://evil.example", "http://localhost.evil.example",
                               "http://127.0.0.1.nip.io", "http://localhost:80x", "null",
                               "file://", "http://127.0.0.2"}) {
        EXPECT_FALSE(policy.allows(with_origin(origin))) << origin;
    }
}

TEST(OriginPolicy, TheBridgesOwnOriginAndListedOnesPass) {
    EXPECT_TRUE(OriginPolicy().allows(with_origin("https://mcp.example.com", "mcp.example.com")));
    const OriginPolicy listed({"https://app.example.com"});
    EXPECT_TRUE(listed.allows(with_origin("https://app.example.com")));
    EXPECT_FALSE(listed.allows(with_origin("https://other.example.com")));
    EXPECT_TRUE(OriginPolicy({"*"}).allows(with_origin("https://anything.example")));
}

TEST(OriginPolicy, EveryResponseExposesTheSessionHeaderAndAllowedOriginsAreEchoed) {
    const OriginPolicy policy;
    Response response{http::status::method_not_allowed, 11};
    policy.decorate(with_origin("http://localhost:6274"), response);
    EXPECT_EQ(response[http::field::access_control_expose_headers],
              "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate");
    EXPECT_EQ(response[http::field::access_control_allow_origin], "http://localhost:6274");
    Response refused{http::status::forbidden, 11};
    policy.decorate(with_origin("https://evil.example"), refused);
    EXPECT_EQ(refused[http::field::access_control_allow_origin], "");
}

TEST(OriginPolicy, PreflightsNameMethodsAndHeaders) {
    const OriginPolicy policy;
    const Response ok = policy.preflight(with_origin("http://localhost:6274"));
    EXPECT_EQ(ok.result(), http::status::no_content);
    EXPECT_NE(std::string(ok[http::field::access_control_allow_headers]).find("Mcp-Session-Id"), std::string::npos);
    EXPECT_NE(std::string(ok[http::field::access_control_allow_methods]).find("DELETE"), std::string::npos);
    EXPECT_EQ(policy.preflight(with_origin("https://evil.example")).result(), http::status::forbidden);
}

}  // namespace
}  // namespace mcp::bridge
