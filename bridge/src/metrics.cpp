#include "metrics.hpp"

#include <cstdio>

namespace mcp::bridge {

namespace {

std::string format_number(double value) {
    char text[64];
    std::snprintf(text, sizeof text, "%.9g", value);
    return text;
}

std::string label(std::string_view name, std::string_view value) {
    return std::string(name) + "=\"" + Metrics::escape_label(value) + '"';
}

void write_header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void write_counters(std::string& out, const char* name, const char* help,
                    const std::map<std::string, std::uint64_t>& values) {
    write_header(out, name, "counter", help);
    for (const auto& [labels, count] : values) {
        out += name;
        out += '{' + labels + "} " + std::to_string(count) + '\n';
    }
}

}  // namespace

void Metrics::Histogram::observe(double seconds) {
    for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
        if (seconds <= latency_buckets[i]) {
            ++buckets[i];
        }
    }
    ++count;
    sum += seconds;
}

std::string Metrics::escape_label(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void Metrics::http_request(std::string_view route, std::string_view method, unsigned status,
                           double seconds) {
    const std::string route_label = label("route", route);
    const std::string labels =
        route_label + ',' + label("method", method) + ',' + label("status", std::to_string(status));
    std::lock_guard<std::mutex> lock(mutex_);
    ++http_requests_[labels];
    http_latency_[route_label].observe(seconds);
}

void Metrics::tool_call(std::string_view tool, std::string_view outcome, double seconds) {
    const std::string tool_label = label("tool", tool);
    std::lock_guard<std::mutex> lock(mutex_);
    ++tool_calls_[tool_label + ',' + label("outcome", outcome)];
    tool_latency_[tool_label].observe(seconds);
}

void Metrics::rpc_request(std::string_view method) {
    const std::string labels = label("method", method);
    std::lock_guard<std::mutex> lock(mutex_);
    ++rpc_requests_[labels];
}

void Metrics::notifications_sent(std::string_view method, std::uint64_t count) {
    const std::string labels = label("method", method);
    std::lock_guard<std::mutex> lock(mutex_);
    notifications_[labels] += count;
}

void Metrics::hot_reload() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++hot_reloads_;
}

void Metrics::auth_failure() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++auth_failures_;
}

void Metrics::phase(Phase phase, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    PhaseHistogram& histogram = phases_[static_cast<std::size_t>(phase)];
    for (std::size_t i = 0; i < phase_buckets.size(); ++i) {
        if (seconds <= phase_buckets[i]) {
            ++histogram.buckets[i];
        }
    }
    ++histogram.count;
    histogram.sum += seconds;
}

void Metrics::add_collector(Collector collector) {
    std::lock_guard<std::mutex> lock(mutex_);
    collectors_.push_back(std::move(collector));
}

namespace {

template <typename Histogram>
void write_histograms(std::string& out, const char* name, const char* help,
                      const std::map<std::string, Histogram>& values,
                      const std::array<double, 14>& bounds) {
    write_header(out, name, "histogram", help);
    for (const auto& [labels, histogram] : values) {
        for (std::size_t i = 0; i < bounds.size(); ++i) {
            out += name;
            out += "_bucket{" + labels + ",le=\"" + format_number(bounds[i]) + "\"} " +
                   std::to_string(histogram.buckets[i]) + '\n';
        }
        out += name;
        out += "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(histogram.count) + '\n';
        out += name;
        out += "_sum{" + labels + "} " + format_number(histogram.sum) + '\n';
        out += name;
        out += "_count{" + labels + "} " + std::to_string(histogram.count) + '\n';
    }
}

}  // namespace

std::string Metrics::render() const {
    std::string out;
    std::vector<Collector> collectors;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        write_counters(out, "mcp_bridge_http_requests_total",
                       "HTTP requests answered, by route pattern, method and status.",
                       http_requests_);
        write_histograms(out, "mcp_bridge_http_request_duration_seconds",
                         "Time from the first byte of a request to its answer, by route.",
                         http_latency_, latency_buckets);
        write_counters(out, "mcp_bridge_mcp_requests_total",
                       "MCP JSON-RPC requests and notifications received, by method.",
                       rpc_requests_);
        write_counters(out, "mcp_bridge_tool_calls_total",
                       "MCP tool calls by tool and outcome (ok, error, rejected, cancelled).",
                       tool_calls_);
        write_histograms(out, "mcp_bridge_tool_call_duration_seconds",
                         "Duration of MCP tool calls, by tool.", tool_latency_, latency_buckets);
        write_counters(out, "mcp_bridge_notifications_sent_total",
                       "Server notifications written to client streams, by method.",
                       notifications_);
        write_header(out, "mcp_bridge_hot_reloads_total", "counter",
                     "Catalog reloads caused by NOTIFY mcp_analytics or a reconnect.");
        out += "mcp_bridge_hot_reloads_total " + std::to_string(hot_reloads_) + '\n';
        write_header(out, "mcp_bridge_auth_failures_total", "counter",
                     "Requests refused for a missing, unknown, revoked or expired API key.");
        out += "mcp_bridge_auth_failures_total " + std::to_string(auth_failures_) + '\n';
        std::map<std::string, PhaseHistogram> phases;
        static const char* const phase_names[] = {"http_read", "queue_wait", "auth", "session",
                                                  "sql_call", "handler", "reply_wait", "http_write"};
        for (std::size_t p = 0; p < phases_.size(); ++p) {
            if (phases_[p].count > 0) {
                phases.emplace(label("phase", phase_names[p]), phases_[p]);
            }
        }
        write_histograms(out, "mcp_bridge_phase_seconds",
                         "Where request time goes, by phase: http_read (reading and parsing), "
                         "queue_wait (from parsed to the handler's start; its fiber starts at "
                         "once), auth (API key check), session (session check), sql_call (the "
                         "one SQL call), handler (all of the handler), reply_wait (from the "
                         "handler's end to writing; the same fiber writes), http_write (the answer).",
                         phases, phase_buckets);
        collectors = collectors_;
    }
    for (const auto& collector : collectors) {
        collector(out);
    }
    return out;
}

}  // namespace mcp::bridge
