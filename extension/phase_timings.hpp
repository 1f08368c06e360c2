// Where the time of a query call goes, per phase, in this backend: a few clock reads per call
// and no allocation, read with mcp.execution_phases() (make bench prints it). The figures
// are this backend's own since it started or since the last reset.
#pragma once

#include <chrono>
#include <string>

namespace mcp::ext::phase_timings {

enum Phase : int {
    arguments,        // argument checks and the caller context
    dataset_lookup,   // the dataset's row from mcp.datasets
    guard,            // the parser-based query guard
    cache_lookup,     // the result cache, read
    remote_connect,   // a new connection to the dataset (a pooled one costs nothing here)
    remote_pipeline,  // BEGIN ... FETCH ... COMMIT on the dataset, one round trip
    format,           // the answer's JSON and text
    cache_store,      // the result cache, written
    log_write,        // the query-log row
    total,            // the whole call, from entry to answer
    phase_count
};

void add(Phase phase, double ms);

// Adds the time from construction to destruction to one phase.
class Scope {
public:
    explicit Scope(Phase phase) : phase_(phase), started_(std::chrono::steady_clock::now()) {}
    ~Scope() {
        add(phase_, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                              started_).count());
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    Phase phase_;
    std::chrono::steady_clock::time_point started_;
};

// {"phase": {"calls": n, "total_ms": t, "mean_us": m}, ...} in phase order; reset zeroes
// the figures after reading them.
std::string report_json(bool reset);

}  // namespace mcp::ext::phase_timings
