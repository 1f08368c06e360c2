#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mcp::bridge {

// incompatible: reachable, but its mcp_analytics version is not one this bridge knows.
enum class DatabaseState { reachable, unreachable, unconfigured, incompatible };

std::string_view to_string(DatabaseState state);

struct HealthReport {
    DatabaseState state = DatabaseState::unconfigured;
    double latency_ms = 0;  // meaningful only when reachable
    std::string extension_version;  // as installed; empty when unknown or not installed
    std::string problem;            // when incompatible: what is wrong and what to do
};

struct PgHealthOptions {
    // Budget of one check: connect (when needed) plus SELECT 1.
    std::chrono::milliseconds check_timeout{2'000};
    // How long a caller waits for a result. Longer than check_timeout so a normal timeout is
    // reported by the check itself; the margin covers a check stuck where no deadline reaches
    // (a blocking DNS lookup inside libpq).
    std::chrono::milliseconds wait_timeout{2'500};
};

// Checks that the metadata database answers. Checks run on one dedicated thread that keeps a
// single cached connection and reconnects when it breaks, so callers never block on libpq
// themselves and concurrent callers share one check instead of queueing behind each other.
class PgHealth {
public:
    explicit PgHealth(std::string conninfo, PgHealthOptions options = {});
    ~PgHealth();
    PgHealth(const PgHealth&) = delete;
    PgHealth& operator=(const PgHealth&) = delete;

    // Thread-safe; returns within options.wait_timeout.
    HealthReport check();

    // Connections opened so far; shows whether the cached connection is being reused.
    std::uint64_t connections_opened() const;

private:
    class Worker;
    std::unique_ptr<Worker> worker_;  // null when no database is configured
};

}  // namespace mcp::bridge
