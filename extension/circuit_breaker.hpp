// A circuit breaker per dataset, shared by every backend of the server: after
// mcp_analytics.breaker_failures connection failures in a row, calls to that dataset are
// refused at once for mcp_analytics.breaker_cooldown, instead of each one waiting out the
// connect timeout; then one call is let through to probe it, and its outcome closes the
// breaker or opens it again. Needs shared_preload_libraries; without it every call is let
// through.
#pragma once

#include <string>
#include <vector>

namespace mcp::ext::circuit_breaker {

struct Verdict {
    bool allowed = true;
    int failures = 0;             // connection failures in a row
    double retry_in_s = 0;        // when refused: seconds until the next probe
    std::string last_error;       // the last failure's message (never holds a secret)
};

// Asks before connecting to a dataset of this database.
Verdict check(int dataset_id);

// The outcome of a call that reached for the dataset's server: `reachable` false for a
// connection failure (SQLSTATE class 08, or a connect timeout), true when the server answered
// (an SQL error from it counts as reachable).
void record(int dataset_id, bool reachable, const std::string& error_message = {});

struct Health {
    int dataset_id = 0;
    int failures = 0;
    bool open = false;             // calls are being refused now
    long long last_failure_us = 0;   // PostgreSQL timestamps (0: never)
    long long open_until_us = 0;
    std::string last_error;
};

// What the breaker knows about this database's datasets (those that failed at least once).
std::vector<Health> snapshot();

void define_settings();
void register_at_preload();

}  // namespace mcp::ext::circuit_breaker
