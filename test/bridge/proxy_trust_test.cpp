#include <gtest/gtest.h>

#include "proxy_trust.hpp"
#include "ui_session.hpp"

namespace mcp::bridge {
namespace {

namespace ip = boost::asio::ip;

ProxyTrust trust_of(const std::string& list, const std::string& public_url = "") {
    ProxyTrust trust;
    EXPECT_FALSE(parse_trusted_proxies(list, trust)) << list;
    EXPECT_FALSE(parse_public_url(public_url, trust.public_url)) << public_url;
    return trust;
}

Request forwarded_request() {
    Request request{http::verb::get, "/ui/sign-in", 11};
    request.set(http::field::host, "10.0.0.5:8080");
    request.set("X-Forwarded-Proto", "https");
    request.set("X-Forwarded-Host", "analytics.example.com");
    request.set("X-Forwarded-For", "203.0.113.9");
    return request;
}

TEST(ProxyTrust, ParsesAddressesNetworksAndStar) {
    const ProxyTrust trust = trust_of("10.0.0.0/8, 192.168.1.7 ,fd00::/8");
    EXPECT_TRUE(trust.trusts(ip::make_address("10.200.3.4")));
    EXPECT_TRUE(trust.trusts(ip::make_address("192.168.1.7")));
    EXPECT_FALSE(trust.trusts(ip::make_address("192.168.1.8")));
    EXPECT_TRUE(trust.trusts(ip::make_address("fd12::1")));
    EXPECT_FALSE(trust.trusts(ip::make_address("fe80::1")));
    EXPECT_FALSE(trust.trusts(ip::make_address("11.0.0.1")));
    // A dual-stack listener sees IPv4 peers as IPv4-mapped IPv6 addresses.
    EXPECT_TRUE(trust.trusts(ip::make_address("::ffff:10.1.2.3")));
    EXPECT_TRUE(trust_of("*").trusts(ip::make_address("198.51.100.1")));
    EXPECT_FALSE(trust_of("").trusts(ip::make_address("127.0.0.1"))) << "nobody by default";
}

TEST(ProxyTrust, PrefixBoundariesAreExact) {
    const ProxyTrust trust = trust_of("172.16.0.0/12, 10.1.2.128/25");
    EXPECT_TRUE(trust.trusts(ip::make_address("172.31.255.255")));
    EXPECT_FALSE(trust.trusts(ip::make_address("172.32.0.0")));
    EXPECT_TRUE(trust.trusts(ip::make_address("10.1.2.200")));
    EXPECT_FALSE(trust.trusts(ip::make_address("10.1.2.127")));
    EXPECT_TRUE(trust_of("0.0.0.0/0").trusts(ip::make_address("8.8.8.8")));
}

TEST(ProxyTrust, RefusesMalformedLists) {
    for (const char* bad : {"10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0/8", "proxy.internal",
                            "10.0.0.0/8x", "10.0.0.0/-1", "1.2.3.4/0008", std::string(5000, '1').c_str()}) {
        ProxyTrust trust;
        const auto error = parse_trusted_proxies(bad, trust);
        ASSERT_TRUE(error) << bad;
        EXPECT_NE(error->find("10.0.0.0/8"), std::string::npos) << "shows an example";
    }
}

TEST(ProxyTrust, PublicUrlIsSchemeAndHostOnly) {
    std::string url;
    EXPECT_FALSE(parse_public_url("HTTPS://Analytics.example.com/", url));
    EXPECT_EQ(url, "https://Analytics.example.com");
    EXPECT_FALSE(parse_public_url("http://10.0.0.5:8080", url));
    EXPECT_EQ(url, "http://10.0.0.5:8080");
    for (const char* bad : {"analytics.example.com", "ftp://x", "https://", "https://a.example/path",
                            "https://user@a.example", "https://a.example?x=1", "https://a b"}) {
        EXPECT_TRUE(parse_public_url(bad, url)) << bad;
    }
}

TEST(ProxyTrust, HeadersFromAnUntrustedPeerAreRemoved) {
    Request request = forwarded_request();
    request.set("Forwarded", "proto=https;host=evil.example");
    apply_proxy_trust(request, ip::make_address("203.0.113.50"), trust_of("10.0.0.0/8"));
    EXPECT_EQ(request.count("X-Forwarded-Proto"), 0u);
    EXPECT_EQ(request.count("X-Forwarded-Host"), 0u);
    EXPECT_EQ(request.count("X-Forwarded-For"), 0u);
    EXPECT_EQ(request.count("Forwarded"), 0u);
    EXPECT_FALSE(request_is_https(request)) << "a client cannot claim https to get a cookie marked for it";
}

TEST(ProxyTrust, HeadersFromATrustedProxyCount) {
    Request request = forwarded_request();
    apply_proxy_trust(request, ip::make_address("10.0.0.2"), trust_of("10.0.0.0/8"));
    EXPECT_TRUE(request_is_https(request));
    EXPECT_EQ(request["X-Forwarded-Host"], "analytics.example.com");
}

TEST(ProxyTrust, TheClientAddressIsThePeerOrWhatATrustedProxyForwardedFor) {
    Request direct = forwarded_request();
    direct.set(client_address_header, "198.51.100.1");  // a client's own claim is replaced
    apply_proxy_trust(direct, ip::make_address("203.0.113.50"), trust_of("10.0.0.0/8"));
    EXPECT_EQ(direct[client_address_header], "203.0.113.50");

    Request proxied = forwarded_request();
    proxied.set("X-Forwarded-For", "198.51.100.1, 203.0.113.9");
    apply_proxy_trust(proxied, ip::make_address("10.0.0.2"), trust_of("10.0.0.0/8"));
    EXPECT_EQ(proxied[client_address_header], "203.0.113.9") << "the hop the proxy itself saw";
}

TEST(ProxyTrust, ForwardedHeaderFillsInFromATrustedProxy) {
    Request request{http::verb::post, "/ui/sign-in", 11};
    request.set(http::field::host, "bridge:8080");
    request.set("Forwarded", R"(for=203.0.113.9;Proto=HTTPS;host="analytics.example.com", for=10.0.0.3;proto=http)");
    request.set(http::field::origin, "https://analytics.example.com");
    apply_proxy_trust(request, ip::make_address("10.0.0.3"), trust_of("10.0.0.0/8"));
    EXPECT_EQ(request["X-Forwarded-Proto"], "https") << "the first element: the proxy nearest the client";
    EXPECT_EQ(request["X-Forwarded-Host"], "analytics.example.com");
    EXPECT_TRUE(same_origin_request(request)) << "the browser's Origin matches the forwarded host";
}

TEST(ProxyTrust, PublicUrlWinsOverHeaders) {
    Request request = forwarded_request();
    request.set("X-Forwarded-Proto", "http");
    request.set("X-Forwarded-Host", "other.example");
    apply_proxy_trust(request, ip::make_address("10.0.0.2"), trust_of("10.0.0.0/8", "https://analytics.example.com"));
    EXPECT_TRUE(request_is_https(request));
    EXPECT_EQ(request["X-Forwarded-Host"], "analytics.example.com");
    // Even from an untrusted peer (a health probe inside the network): the public URL is config.
    Request direct{http::verb::get, "/ui", 11};
    direct.set(http::field::host, "10.0.0.5:8080");
    apply_proxy_trust(direct, ip::make_address("10.9.9.9"), trust_of("", "https://analytics.example.com"));
    EXPECT_TRUE(request_is_https(direct));
}

TEST(ProxyTrust, SecureCookieFollowsTheTrustedScheme) {
    Request request = forwarded_request();
    apply_proxy_trust(request, ip::make_address("10.0.0.2"), trust_of("10.0.0.0/8"));
    const std::string cookie = ui_cookie(ui_session_cookie, "abc", "/ui", std::chrono::seconds(60),
                                         request_is_https(request));
    EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
}

TEST(ProxyTrust, LinksUseThePublicUrlThenTrustedHeadersThenHost) {
    Request request = forwarded_request();
    apply_proxy_trust(request, ip::make_address("10.0.0.2"), trust_of("10.0.0.0/8", "https://mcp.example.org:8443"));
    EXPECT_EQ(public_base_url(request), "https://mcp.example.org:8443");
    Request proxied = forwarded_request();
    apply_proxy_trust(proxied, ip::make_address("10.0.0.2"), trust_of("10.0.0.0/8"));
    EXPECT_EQ(public_base_url(proxied), "https://analytics.example.com");
    Request direct = forwarded_request();
    apply_proxy_trust(direct, ip::make_address("203.0.113.50"), trust_of("10.0.0.0/8"));
    EXPECT_EQ(public_base_url(direct), "http://10.0.0.5:8080") << "an untrusted peer's headers are ignored";
}

}  // namespace
}  // namespace mcp::bridge
