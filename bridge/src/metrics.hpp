#pragma once

#include <array>
#include <chrono>
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

    // Where a request's time goes (mcp_bridge_phase_seconds): reading and parsing it, waiting
    // for a handler thread, the API key check, the session check, the SQL call, the whole
    // handler, waiting for the I/O thread again, and writing the answer.
    enum class Phase { http_read, queue_wait, auth, session, sql_call, handler, reply_wait, http_write, count };
    static constexpr std::array<double, 14> phase_buckets = {
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
        0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    1};
    void phase(Phase phase, double seconds);

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
    struct PhaseHistogram {
        std::array<std::uint64_t, phase_buckets.size()> buckets{};
        std::uint64_t count = 0;
        double sum = 0;
    };
    std::array<PhaseHistogram, static_cast<std::size_t>(Phase::count)> phases_{};
};

// Adds the time from construction to destruction to a phase, when there are metrics.
class PhaseTimer {
public:
    PhaseTimer(Metrics* metrics, Metrics::Phase phase)
        : metrics_(metrics), phase_(phase), started_(std::chrono::steady_clock::now()) {}
    ~PhaseTimer() {
        if (metrics_ != nullptr) {
            metrics_->phase(phase_, std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
        }
    }
    PhaseTimer(const PhaseTimer&) = delete;
    PhaseTimer& operator=(const PhaseTimer&) = delete;

private:
    Metrics* metrics_;
    Metrics::Phase phase_;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace mcp::bridge
