#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mcp::bridge {

// Counters and histograms of the bridge, rendered in the Prometheus text format (version
// 0.0.4) at /metrics. Label values come from bounded sets (route patterns, tool names from
// the catalog, status codes), never from raw client text.
class Metrics {
public:
    // Bucket bounds in seconds, shared by every latency histogram.
    static constexpr std::array<double, 14> latency_buckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    void http_request(std::string_view route, std::string_view method, unsigned status,
                      double seconds);
    // outcome: ok, error (isError result), rejected (unknown tool or bad request), cancelled
    void tool_call(std::string_view tool, std::string_view outcome, double seconds);
    void rpc_request(std::string_view method);
    void notifications_sent(std::string_view method, std::uint64_t count);
    void hot_reload();
    void auth_failure();

    // Gauges owned elsewhere (pool use, open streams) are appended by collectors at render
    // time; each writes complete exposition lines.
    using Collector = std::function<void(std::string& out)>;
    void add_collector(Collector collector);

    std::string render() const;

    // Escapes a label value (backslash, quote, newline).
    static std::string escape_label(std::string_view value);

private:
    struct Histogram {
        std::array<std::uint64_t, latency_buckets.size()> buckets{};
        std::uint64_t count = 0;
        double sum = 0;
        void observe(double seconds);
    };

    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t> http_requests_;    // labels → count
    std::map<std::string, Histogram> http_latency_;         // labels → histogram
    std::map<std::string, std::uint64_t> tool_calls_;
    std::map<std::string, Histogram> tool_latency_;
    std::map<std::string, std::uint64_t> rpc_requests_;
    std::map<std::string, std::uint64_t> notifications_;
    std::uint64_t hot_reloads_ = 0;
    std::uint64_t auth_failures_ = 0;
    std::vector<Collector> collectors_;
};

}  // namespace mcp::bridge
