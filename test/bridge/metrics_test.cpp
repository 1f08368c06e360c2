#include <gtest/gtest.h>

#include "metrics.hpp"

namespace mcp::bridge {
namespace {

TEST(Metrics, RendersCountersAndCumulativeHistogramsInPrometheusText) {
    Metrics metrics;
    metrics.http_request("/mcp", "POST", 200, 0.003);
    metrics.http_request("/mcp", "POST", 200, 0.2);
    metrics.tool_call("execute_query", "ok", 0.004);
    metrics.add_collector([](std::string& out) { out += "extra_gauge 7\n"; });
    const std::string text = metrics.render();
    EXPECT_NE(text.find("# TYPE mcp_bridge_http_requests_total counter"), std::string::npos);
    EXPECT_NE(text.find(R"(mcp_bridge_http_requests_total{route="/mcp",method="POST",status="200"} 2)"),
              std::string::npos) << text;
    EXPECT_NE(text.find(R"(mcp_bridge_http_request_duration_seconds_bucket{route="/mcp",le="0.005"} 1)"),
              std::string::npos) << text;
    EXPECT_NE(text.find(R"(mcp_bridge_http_request_duration_seconds_bucket{route="/mcp",le="0.25"} 2)"),
              std::string::npos) << text;
    EXPECT_NE(text.find(R"(mcp_bridge_http_request_duration_seconds_bucket{route="/mcp",le="+Inf"} 2)"),
              std::string::npos) << text;
    EXPECT_NE(text.find(R"(mcp_bridge_http_request_duration_seconds_count{route="/mcp"} 2)"), std::string::npos);
    EXPECT_NE(text.find(R"(mcp_bridge_tool_calls_total{tool="execute_query",outcome="ok"} 1)"), std::string::npos);
    EXPECT_NE(text.find("extra_gauge 7\n"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
    EXPECT_EQ(Metrics::escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace mcp::bridge
