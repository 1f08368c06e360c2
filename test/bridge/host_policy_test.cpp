#include <gtest/gtest.h>

#include "config.hpp"
#include "host_policy.hpp"

namespace mcp::bridge {
namespace {

Request with_host(std::string host) {
    Request request{http::verb::post, "/mcp", 11};
    if (!host.empty()) {
        request.set(http::field::host, host);
    }
    return request;
}

TEST(HostPolicy, ALoopbackListenerAnswersLoopbackNamesOnAnyPort) {
    const HostPolicy policy("127.0.0.1");
    for (const char* host : {"127.0.0.1", "127.0.0.1:8080", "localhost", "LOCALHOST:3000",
                             "[::1]", "[::1]:8080"}) {
        EXPECT_TRUE(policy.allows(with_host(host))) << host;
    }
}

TEST(HostPolicy, ALoopbackListenerRefusesRebindingNamesAndLookalikes) {
    const HostPolicy policy("127.0.0.1");
    for (const char* host : {"evil.example", "evil.example:8080", "localhost.evil.example",
                             "127.0.0.1.nip.io", "127.0.0.2", "localhost:80x", "localhost:",
                             "[::1", "local host", "localhost:1234567", ""}) {
        EXPECT_FALSE(policy.allows_host(host)) << host;
    }
    EXPECT_FALSE(policy.allows(with_host(std::string(300, 'a'))));
}

TEST(HostPolicy, ConfiguredNamesAreAddedCaseInsensitivelyWithoutTheirPort) {
    const HostPolicy policy("127.0.0.1", {"mcp.example.com:443", "Box.Lan"});
    EXPECT_TRUE(policy.allows_host("mcp.example.com"));
    EXPECT_TRUE(policy.allows_host("MCP.example.com:8080"));
    EXPECT_TRUE(policy.allows_host("box.lan:8080"));
    EXPECT_TRUE(policy.allows_host("localhost:8080"));
    EXPECT_FALSE(policy.allows_host("example.com"));
}

TEST(HostPolicy, AStarTurnsTheCheckOff) {
    EXPECT_TRUE(HostPolicy("127.0.0.1", {"*"}).allows_host("anything.example"));
}

TEST(HostPolicy, AnOpenListenerChecksOnlyWhenNamesAreConfigured) {
    EXPECT_TRUE(HostPolicy("0.0.0.0").allows_host("mcp.example.com"));
    const HostPolicy listed("0.0.0.0", {"mcp.example.com"});
    EXPECT_TRUE(listed.allows_host("mcp.example.com:8080"));
    EXPECT_FALSE(listed.allows_host("evil.example"));
}

TEST(HostPolicy, LoopbackListenAddresses) {
    for (const char* address : {"127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"}) {
        EXPECT_TRUE(HostPolicy::is_loopback_address(address)) << address;
    }
    for (const char* address : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1"}) {
        EXPECT_FALSE(HostPolicy::is_loopback_address(address)) << address;
    }
}

TEST(HostPolicy, ARequestWithoutHostIsNotARebindingPage) {
    EXPECT_TRUE(HostPolicy("127.0.0.1").allows(with_host("")));
}

TEST(HostPolicy, TheSettingParsesListsAndRefusesUrls) {
    const auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    auto parsed = parse_config({"--allowed-hosts", " mcp.example.com , box.lan:8080,"}, no_env);
    ASSERT_EQ(parsed.outcome, ParseOutcome::run) << parsed.error;
    EXPECT_EQ(parsed.config.allowed_hosts,
              (std::vector<std::string>{"mcp.example.com", "box.lan:8080"}));
    parsed = parse_config({"--allowed-hosts", "https://mcp.example.com"}, no_env);
    EXPECT_EQ(parsed.outcome, ParseOutcome::error);
    const auto from_env = [](const std::string& name) -> std::optional<std::string> {
        if (name == "MCP_BRIDGE_ALLOWED_HOSTS") return std::string("*");
        return std::nullopt;
    };
    parsed = parse_config({}, from_env);
    ASSERT_EQ(parsed.outcome, ParseOutcome::run);
    EXPECT_EQ(parsed.config.allowed_hosts, std::vector<std::string>{"*"});
}

}  // namespace
}  // namespace mcp::bridge
