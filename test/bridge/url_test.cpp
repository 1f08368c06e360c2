#include <gtest/gtest.h>

#include "url.hpp"

namespace mcp::bridge {
namespace {

TEST(Url, PercentEscapesAndPlusesAreDecoded) {
    EXPECT_EQ(percent_decode("a%20b+c%2Bd"), "a b c+d");
    EXPECT_EQ(percent_decode("%e2%82%AC"), "\xe2\x82\xac");
    EXPECT_EQ(percent_decode("a+b", false), "a+b");
}

TEST(Url, BrokenEscapesAreRefused) {
    EXPECT_FALSE(percent_decode("%"));
    EXPECT_FALSE(percent_decode("%2"));
    EXPECT_FALSE(percent_decode("%zz"));
    EXPECT_FALSE(parse_query("/x?a=%G0"));
}

TEST(Url, QueryStringsBecomeAMap) {
    const auto query = parse_query("/api/logs?client=Claude%20Desktop&since=24h&&flag&since=7d#frag");
    ASSERT_TRUE(query);
    EXPECT_EQ(query->at("client"), "Claude Desktop");
    EXPECT_EQ(query->at("since"), "7d") << "the last value wins";
    EXPECT_EQ(query->at("flag"), "");
    EXPECT_EQ(query->count("frag"), 0u);
    EXPECT_TRUE(parse_query("/api/logs")->empty());
}

}  // namespace
}  // namespace mcp::bridge
