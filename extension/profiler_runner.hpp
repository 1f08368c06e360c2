// The profiler's remote queries, run over one or more connections to the same dataset at
// once: each query is independent of the others (a table's aggregate scan, its grouped
// pass, its sample rows...), so with two connections the dataset's server works on two of
// them in parallel, and no query waits for the round trip of the one before. Waiting happens
// on the latch, so a cancel or shutdown interrupts it; destroying the connections cancels
// whatever is still running remotely. Also: where the profile's time went, per phase.
#pragma once

#include "conninfo.hpp"
#include "remote_connection.hpp"

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mcp::ext::profiler {

// Milliseconds per named phase, in the order phases first appear; {"name": ms, ...}.
class PhaseTimes {
public:
    void add(const std::string& phase, double ms);
    // Runs fn and adds its time to phase.
    template <typename Fn>
    auto time(const std::string& phase, Fn&& fn) -> decltype(fn()) {
        struct Stop {
            PhaseTimes& times;
            const std::string& phase;
            std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
            ~Stop() {
                times.add(phase, std::chrono::duration<double, std::milli>(
                                     std::chrono::steady_clock::now() - started).count());
            }
        } stop{*this, phase};
        return fn();
    }
    std::string json() const;

private:
    std::vector<std::pair<std::string, double>> phases_;
};

struct RemoteQuery {
    std::string sql;
    std::string phase;                         // whose time it is, for PhaseTimes
    int table = -1;                            // for the progress report: which table
    std::function<void(const PGresult*)> use;  // reads the (last) result
    double* also_ms = nullptr;                 // where else its time is added (the table's)
};

class QueryRunner {
public:
    // timeout_ms bounds each query (from when it is sent); session_settings (statements
    // ending in "; ") precede the first query on a connection added by add_connection.
    QueryRunner(std::vector<RemoteConnection>& links, int timeout_ms, PhaseTimes& times,
                std::string session_settings)
        : links_(links), timeout_ms_(timeout_ms), times_(times),
          session_settings_(std::move(session_settings)), configured_(links.size(), true) {}

    void add(RemoteQuery query) { pending_.push_back(std::move(query)); }

    // Opens one more connection while the others work; it takes queries once connected (in
    // this run or a later one). One that fails or takes too long is dropped: the profile
    // goes on with the connections it has. Returns false when it could not even start.
    bool add_connection(std::unique_ptr<ConnectionParams> params, const std::string& label);
    // Closes the connections still opening (the queries were all done first): their time
    // shows as connect_more_unused.
    void drop_connecting();

    // Runs every query added (also those added by a `use` meanwhile), at most one per
    // connection at a time, in the order added. on_start(table) is called when the first
    // query of a table is sent. A remote error ends the run with that error.
    void run(const std::function<void(int table)>& on_start);

private:
    struct InFlight {
        RemoteQuery query;
        bool active = false;
        bool flushing = false;
        std::chrono::steady_clock::time_point started, deadline;
        ResultPtr last, first_error;
    };
    struct Connecting {
        std::unique_ptr<ConnectionParams> params;
        std::unique_ptr<RemoteConnection> link;  // closes it if dropped
        PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
        std::chrono::steady_clock::time_point started, deadline;
    };
    void send(size_t link, InFlight& slot);
    void advance(size_t link, InFlight& slot);
    void poll_connection(size_t index, std::vector<InFlight>& slots);

    std::vector<RemoteConnection>& links_;
    int timeout_ms_;
    PhaseTimes& times_;
    std::deque<RemoteQuery> pending_;
    std::vector<Connecting> connecting_;
    std::string session_settings_;
    std::vector<bool> configured_;  // per link: session settings sent
    int last_started_table_ = -1;
};

}  // namespace mcp::ext::profiler
