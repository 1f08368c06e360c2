#include <gtest/gtest.h>

#include <map>

#include "config.hpp"

namespace mcp::bridge {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup lookup(Env env) {
    return [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
        const auto found = env.find(name);
        if (found == env.end()) {
            return std::nullopt;
        }
        return found->second;
    };
}

ParseResult parse(std::vector<std::string> args, Env env = {}) {
    return parse_config(args, lookup(std::move(env)));
}

TEST(Config, DefaultsApplyWithoutFlagsOrEnvironment) {
    const ParseResult result = parse({});
    ASSERT_EQ(result.outcome, ParseOutcome::run);
    const Config& config = result.config;
    EXPECT_EQ(config.listen.host, "127.0.0.1");
    EXPECT_EQ(config.listen.port, 8080);
    EXPECT_EQ(config.database_url, "");
    EXPECT_EQ(config.threads, 2u);
    EXPECT_EQ(config.limits.max_header_bytes, 8u * 1024);
    EXPECT_EQ(config.limits.max_body_bytes, 1024u * 1024);
    EXPECT_EQ(config.limits.read_timeout, std::chrono::seconds(30));
    EXPECT_EQ(config.limits.idle_timeout, std::chrono::seconds(60));
    EXPECT_EQ(config.shutdown_timeout, std::chrono::seconds(10));
}

TEST(Config, EnvironmentSetsEveryValue) {
    const ParseResult result = parse({}, {{"MCP_BRIDGE_LISTEN", "0.0.0.0:9000"},
                                          {"MCP_BRIDGE_DATABASE_URL", "host=db dbname=meta"},
                                          {"MCP_BRIDGE_THREADS", "4"},
                                          {"MCP_BRIDGE_MAX_HEADER_BYTES", "16384"},
                                          {"MCP_BRIDGE_MAX_BODY_BYTES", "2048"},
                                          {"MCP_BRIDGE_READ_TIMEOUT", "5"},
                                          {"MCP_BRIDGE_IDLE_TIMEOUT", "7s"},
                                          {"MCP_BRIDGE_SHUTDOWN_TIMEOUT", "250ms"}});
    ASSERT_EQ(result.outcome, ParseOutcome::run) << result.error;
    const Config& config = result.config;
    EXPECT_EQ(config.listen.host, "0.0.0.0");
    EXPECT_EQ(config.listen.port, 9000);
    EXPECT_EQ(config.database_url, "host=db dbname=meta");
    EXPECT_EQ(config.threads, 4u);
    EXPECT_EQ(config.limits.max_header_bytes, 16384u);
    EXPECT_EQ(config.limits.max_body_bytes, 2048u);
    EXPECT_EQ(config.limits.read_timeout, std::chrono::seconds(5));
    EXPECT_EQ(config.limits.idle_timeout, std::chrono::seconds(7));
    EXPECT_EQ(config.shutdown_timeout, std::chrono::milliseconds(250));
}

TEST(Config, FlagsWinOverEnvironment) {
    const ParseResult result =
        parse({"--listen", "127.0.0.1:0", "--threads=8", "--database-url", "postgresql://a@b/c"},
              {{"MCP_BRIDGE_LISTEN", "0.0.0.0:9000"},
               {"MCP_BRIDGE_THREADS", "3"},
               {"MCP_BRIDGE_DATABASE_URL", "host=env"}});
    ASSERT_EQ(result.outcome, ParseOutcome::run) << result.error;
    EXPECT_EQ(result.config.listen.host, "127.0.0.1");
    EXPECT_EQ(result.config.listen.port, 0);
    EXPECT_EQ(result.config.threads, 8u);
    EXPECT_EQ(result.config.database_url, "postgresql://a@b/c");
}

TEST(Config, BadEnvironmentValueOverriddenByAFlagIsNotAnError) {
    const ParseResult result = parse({"--threads", "2"}, {{"MCP_BRIDGE_THREADS", "lots"}});
    EXPECT_EQ(result.outcome, ParseOutcome::run) << result.error;
}

TEST(Config, BadEnvironmentValueIsRejectedNamingTheVariable) {
    const ParseResult result = parse({}, {{"MCP_BRIDGE_THREADS", "lots"}});
    ASSERT_EQ(result.outcome, ParseOutcome::error);
    EXPECT_NE(result.error.find("MCP_BRIDGE_THREADS"), std::string::npos) << result.error;
}

TEST(Config, EmptyEnvironmentVariableCountsAsUnset) {
    const ParseResult result = parse({}, {{"MCP_BRIDGE_THREADS", ""}, {"MCP_BRIDGE_LISTEN", ""}});
    ASSERT_EQ(result.outcome, ParseOutcome::run) << result.error;
    EXPECT_EQ(result.config.threads, 2u);
    EXPECT_EQ(result.config.listen.port, 8080);
}

TEST(Config, PortZeroAndBracketedIpv6AreAccepted) {
    const ParseResult result = parse({"--listen", "[::1]:0"});
    ASSERT_EQ(result.outcome, ParseOutcome::run) << result.error;
    EXPECT_EQ(result.config.listen.host, "::1");
    EXPECT_EQ(result.config.listen.port, 0);
}

TEST(Config, BadListenValuesAreRejected) {
    for (const char* bad : {"127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1", ":8080",
                            "127.0.0.1:-1", "[::1]8080", "127.0.0.1:"}) {
        const ParseResult result = parse({"--listen", bad});
        EXPECT_EQ(result.outcome, ParseOutcome::error) << bad;
        EXPECT_NE(result.error.find("--listen"), std::string::npos) << result.error;
    }
}

TEST(Config, ThreadsOutsideOneToSixtyFourAreRejected) {
    for (const char* bad : {"0", "65", "-1", "two", "1.5"}) {
        EXPECT_EQ(parse({"--threads", bad}).outcome, ParseOutcome::error) << bad;
    }
    EXPECT_EQ(parse({"--threads", "1"}).outcome, ParseOutcome::run);
    EXPECT_EQ(parse({"--threads", "64"}).outcome, ParseOutcome::run);
}

TEST(Config, DurationsAcceptSecondsAndMillisecondsButNotZero) {
    EXPECT_EQ(parse({"--read-timeout", "500ms"}).config.limits.read_timeout,
              std::chrono::milliseconds(500));
    EXPECT_EQ(parse({"--read-timeout", "12s"}).config.limits.read_timeout,
              std::chrono::seconds(12));
    for (const char* bad : {"0", "0ms", "soon", "5m", "-3s", ""}) {
        EXPECT_EQ(parse({"--idle-timeout", bad}).outcome, ParseOutcome::error) << bad;
    }
}

TEST(Config, SizeLimitsOutsideTheirRangesAreRejected) {
    EXPECT_EQ(parse({"--max-header-bytes", "100"}).outcome, ParseOutcome::error);
    EXPECT_EQ(parse({"--max-body-bytes", "2000000000"}).outcome, ParseOutcome::error);
    EXPECT_EQ(parse({"--max-body-bytes", "0"}).config.limits.max_body_bytes, 0u);
}

TEST(Config, UnknownFlagIsRejectedOnOneLine) {
    const ParseResult result = parse({"--port", "80"});
    ASSERT_EQ(result.outcome, ParseOutcome::error);
    EXPECT_NE(result.error.find("--port"), std::string::npos);
    EXPECT_EQ(result.error.find('\n'), std::string::npos);
}

TEST(Config, PositionalArgumentIsRejected) {
    EXPECT_EQ(parse({"serve"}).outcome, ParseOutcome::error);
}

TEST(Config, FlagWithoutValueIsRejected) {
    const ParseResult result = parse({"--threads"});
    ASSERT_EQ(result.outcome, ParseOutcome::error);
    EXPECT_NE(result.error.find("missing value"), std::string::npos) << result.error;
}

TEST(Config, InvalidDatabaseUrlIsRejectedWithoutEchoingIt) {
    const std::string url = "host=db password=sekrit123 bogus";
    const ParseResult result = parse({"--database-url", url});
    ASSERT_EQ(result.outcome, ParseOutcome::error);
    EXPECT_EQ(result.error.find("sekrit123"), std::string::npos) << result.error;
    EXPECT_NE(result.error.find("--database-url"), std::string::npos) << result.error;
}

TEST(Config, BridgeSettingsHaveSafeDefaults) {
    const Config config = parse({}).config;
    EXPECT_EQ(config.workers, 16u);
    EXPECT_EQ(config.db_pool_size, 8u);
    EXPECT_EQ(config.query_timeout, std::chrono::seconds(60));
    EXPECT_EQ(config.auth_cache_ttl, std::chrono::seconds(10));
    EXPECT_EQ(config.session_idle_timeout, std::chrono::hours(24));
    EXPECT_EQ(config.limits.sse_heartbeat, std::chrono::seconds(15));
    EXPECT_TRUE(config.allowed_origins.empty());
    EXPECT_FALSE(config.stdio);
    EXPECT_EQ(config.api_key, "");
}

TEST(Config, BridgeSettingsComeFromFlagsAndEnvironment) {
    const ParseResult result =
        parse({"--stdio", "--db-pool-size", "3", "--allowed-origins", "https://a.example, https://b.example",
               "--query-timeout=5s", "--session-idle-timeout", "1h"},
              {{"MCP_BRIDGE_WORKERS", "4"}, {"MCP_API_KEY", "mcp_secret"},
               {"MCP_BRIDGE_SSE_HEARTBEAT", "500ms"}, {"MCP_BRIDGE_AUTH_CACHE_TTL", "2s"}});
    ASSERT_EQ(result.outcome, ParseOutcome::run) << result.error;
    const Config& config = result.config;
    EXPECT_TRUE(config.stdio);
    EXPECT_EQ(config.db_pool_size, 3u);
    EXPECT_EQ(config.workers, 4u);
    EXPECT_EQ(config.allowed_origins, (std::vector<std::string>{"https://a.example", "https://b.example"}));
    EXPECT_EQ(config.query_timeout, std::chrono::seconds(5));
    EXPECT_EQ(config.session_idle_timeout, std::chrono::hours(1));
    EXPECT_EQ(config.limits.sse_heartbeat, std::chrono::milliseconds(500));
    EXPECT_EQ(config.auth_cache_ttl, std::chrono::seconds(2));
    EXPECT_EQ(config.api_key, "mcp_secret");
}

TEST(Config, SwitchesTakeNoValueButTheirVariablesTakeBooleans) {
    EXPECT_TRUE(parse({"--stdio"}).config.stdio);
    EXPECT_TRUE(parse({}, {{"MCP_BRIDGE_STDIO", "true"}}).config.stdio);
    EXPECT_FALSE(parse({}, {{"MCP_BRIDGE_STDIO", "0"}}).config.stdio);
    EXPECT_EQ(parse({}, {{"MCP_BRIDGE_STDIO", "maybe"}}).outcome, ParseOutcome::error);
}

TEST(Config, OriginsMustBeOriginsOrAStar) {
    EXPECT_EQ(parse({"--allowed-origins", "evil.example"}).outcome, ParseOutcome::error);
    EXPECT_EQ(parse({"--allowed-origins", "*"}).config.allowed_origins, std::vector<std::string>{"*"});
}

TEST(Config, PublicUrlTurnsOnOAuthAndLosesItsTrailingSlash) {
    EXPECT_EQ(parse({}).config.proxy_trust.public_url, "");
    EXPECT_EQ(parse({"--public-url", "https://mcp.example.com/"}).config.proxy_trust.public_url,
              "https://mcp.example.com");
    EXPECT_EQ(parse({}, {{"MCP_BRIDGE_PUBLIC_URL", "http://127.0.0.1:8080"}}).config.proxy_trust.public_url,
              "http://127.0.0.1:8080");
}

TEST(Config, PublicUrlMustBeAPlainHttpUrl) {
    for (const char* bad : {"mcp.example.com", "ftp://x", "https://", "https://a.example?x=1",
                            "https://a.example#f", "https://user@a.example", "https://a b",
                            "https://example.com/analytics"}) {
        const ParseResult result = parse({"--public-url", bad});
        EXPECT_EQ(result.outcome, ParseOutcome::error) << bad;
        EXPECT_NE(result.error.find("--public-url"), std::string::npos) << result.error;
    }
}

TEST(Config, TheStdioKeyIsNeverAFlag) {
    EXPECT_EQ(parse({"--api-key", "x"}).outcome, ParseOutcome::error);
    EXPECT_NE(usage_text().find("MCP_API_KEY"), std::string::npos);
}

TEST(Config, HelpWinsOverEverythingElse) {
    EXPECT_EQ(parse({"--threads", "0", "--help"}).outcome, ParseOutcome::help);
    EXPECT_EQ(parse({"-h"}).outcome, ParseOutcome::help);
}

TEST(Config, UsageListsEveryFlagAndVariable) {
    const std::string usage = usage_text();
    for (const char* word :
         {"--listen", "MCP_BRIDGE_LISTEN", "--database-url", "MCP_BRIDGE_DATABASE_URL", "--threads",
          "MCP_BRIDGE_THREADS", "--max-header-bytes", "MCP_BRIDGE_MAX_HEADER_BYTES",
          "--max-body-bytes", "MCP_BRIDGE_MAX_BODY_BYTES", "--read-timeout",
          "MCP_BRIDGE_READ_TIMEOUT", "--idle-timeout", "MCP_BRIDGE_IDLE_TIMEOUT",
          "--shutdown-timeout", "MCP_BRIDGE_SHUTDOWN_TIMEOUT", "--help"}) {
        EXPECT_NE(usage.find(word), std::string::npos) << word;
    }
}

}  // namespace
}  // namespace mcp::bridge

namespace mcp::bridge {
namespace {

TEST(Config, TrustedProxiesAndPublicUrlFromEnvironmentAndFlags) {
    const ParseResult result = parse({"--public-url", "https://analytics.example.com/"},
                                     {{"MCP_BRIDGE_TRUSTED_PROXIES", "10.0.0.0/8,fd00::/8"}});
    ASSERT_EQ(result.outcome, ParseOutcome::run) << result.error;
    EXPECT_EQ(result.config.proxy_trust.networks.size(), 2u);
    EXPECT_FALSE(result.config.proxy_trust.any);
    EXPECT_EQ(result.config.proxy_trust.public_url, "https://analytics.example.com");
    const ParseResult none = parse({});
    EXPECT_TRUE(none.config.proxy_trust.networks.empty() && !none.config.proxy_trust.any)
        << "no proxy is trusted unless configured";
    EXPECT_EQ(none.config.proxy_trust.public_url, "");
}

TEST(Config, BadTrustedProxiesOrPublicUrlAreRejectedNamingTheSetting) {
    const ParseResult proxies = parse({"--trusted-proxies", "10.0.0.0/40"});
    ASSERT_EQ(proxies.outcome, ParseOutcome::error);
    EXPECT_NE(proxies.error.find("--trusted-proxies"), std::string::npos) << proxies.error;
    const ParseResult url = parse({}, {{"MCP_BRIDGE_PUBLIC_URL", "analytics.example.com/mcp"}});
    ASSERT_EQ(url.outcome, ParseOutcome::error);
    EXPECT_NE(url.error.find("MCP_BRIDGE_PUBLIC_URL"), std::string::npos) << url.error;
}

}  // namespace
}  // namespace mcp::bridge
