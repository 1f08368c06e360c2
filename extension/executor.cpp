#include "executor.hpp"

#include "circuit_breaker.hpp"
#include "connection_pool.hpp"
#include "crypto.hpp"
#include "executor_settings.hpp"
#include "pg_guard.hpp"
#include "phase_timings.hpp"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/resowner.h"
}

#include <algorithm>
#include <chrono>
#include <memory>

namespace mcp::ext::executor {

namespace {

using Clock = std::chrono::steady_clock;

const char* const kCursor = "mcp_rows";

// Where a task is: connecting, then one pipeline (BEGIN READ ONLY, SET LOCALs, DECLARE,
// FETCH, COMMIT, Sync) sent at once and read back: one network round trip per query.
enum class Phase { Waiting, Connecting, Sending, Reading, Done };

struct Task {
    Job* job = nullptr;
    Phase phase = Phase::Waiting;
    bool answered = false;  // a statement of the pipeline succeeded: the connection works
    std::unique_ptr<ConnectionParams> params;  // kept while connecting, to scrub messages
    std::optional<RemoteConnection> link;
    PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
    bool from_pool = false;
    bool retried = false;
    std::optional<PgError> remote_failure;  // first error result of the pipeline
    bool refused_by_breaker = false;        // never reached for the server: reports nothing
    Clock::time_point started;
    Clock::time_point step_started;  // of the connection attempt, then of the pipeline
    Clock::time_point deadline;
};

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Whether the dataset's server could be reached, for the circuit breaker: a connection
// failure says no, an answer (an SQL error included) says yes, and a statement timeout says
// nothing about the server.
void report_reachability(const Task& task) {
    if (task.refused_by_breaker) return;
    const Job& job = *task.job;
    if (job.ok) {
        circuit_breaker::record(job.dataset.id, true);
        return;
    }
    const int sqlstate = job.failure.sqlstate;
    if (sqlstate == ERRCODE_QUERY_CANCELED) return;
    const bool connection_failure = ERRCODE_TO_CATEGORY(sqlstate) == ERRCODE_CONNECTION_EXCEPTION;
    circuit_breaker::record(job.dataset.id, !connection_failure, job.failure.message);
}

void finish(Task& task) {
    task.job->elapsed_ms = ms_since(task.started);
    task.phase = Phase::Done;
    task.params.reset();
    report_reachability(task);
}

void fail(Task& task, int sqlstate, std::string message, std::string detail = {},
          std::string hint = {}) {
    Job& job = *task.job;
    job.ok = false;
    job.failure = Failure{sqlstate, std::move(message), std::move(detail), std::move(hint)};
    if (sqlstate == ERRCODE_QUERY_CANCELED && job.failure.hint.empty())
        job.failure.hint = "The query ran longer than mcp_analytics.statement_timeout (" +
                           std::to_string(executor_settings::statement_timeout_ms) +
                           " ms). Aggregate more, filter to fewer rows, or narrow the date range.";
    job.rows.clear();
    task.link.reset();  // cancels the remote query if one is running, then disconnects
    finish(task);
}

void fail(Task& task, const PgError& error) {
    fail(task, error.sqlstate(), error.what(), error.detail(), error.hint());
}

void start_connect(Task& task);

// Key and decryption problems fail this query alone.
void connect_or_fail(Task& task) {
    try {
        start_connect(task);
    } catch (const PgError& error) {
        fail(task, error);
    }
}

// A pooled connection may have died while idle (the server restarted): try once afresh.
bool retry_if_stale(Task& task) {
    if (!task.from_pool || task.retried || task.answered) return false;
    task.retried = true;
    task.link.reset();
    connect_or_fail(task);
    return true;
}

void broken(Task& task, const char* while_doing) {
    if (retry_if_stale(task)) return;
    std::string reason = task.link ? PQerrorMessage(task.link->raw()) : "";
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
    fail(task, ERRCODE_CONNECTION_FAILURE,
         "lost the connection to dataset \"" + task.job->dataset.name + "\" while " + while_doing,
         reason, "Retry the query; if it fails again, the dataset's server may be down.");
}

// Queues one statement of the pipeline. The extended protocol refuses several statements
// in one, a second line of defence behind the guard.
bool queue(PGconn* conn, const std::string& sql) {
    return PQsendQueryParams(conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
}

// The whole transaction in one pipeline: libpq writes it in one go and the server answers
// it in one go. ISO dates and exact floats make results the same whatever the dataset's
// defaults; COMMIT closes the cursor. A failing statement makes the server skip the rest up
// to the Sync, and the failed connection is dropped (fail), so nothing is left open.
void send_pipeline(Task& task) {
    task.step_started = Clock::now();
    task.answered = false;
    task.remote_failure.reset();
    PGconn* conn = task.link->raw();
    const bool sent =
        PQenterPipelineMode(conn) == 1 && queue(conn, "BEGIN READ ONLY") &&
        // The caller's mapped role (dataset_role.hpp), ended by COMMIT like every SET LOCAL:
        // a pooled connection goes back with its own role.
        (task.job->dataset.set_role_sql.empty() || queue(conn, task.job->dataset.set_role_sql)) &&
        queue(conn, "SET LOCAL statement_timeout = " +
                        std::to_string(executor_settings::statement_timeout_ms)) &&
        queue(conn, "SET LOCAL DateStyle = ISO") && queue(conn, "SET LOCAL extra_float_digits = 1") &&
        // The newline ends a trailing "--" comment.
        queue(conn, std::string("DECLARE ") + kCursor + " NO SCROLL CURSOR FOR " + task.job->sql + "\n") &&
        queue(conn, "FETCH FORWARD " + std::to_string(task.job->row_limit + 1) + " FROM " + kCursor) &&
        queue(conn, "COMMIT") && PQpipelineSync(conn) == 1;
    task.deadline = Clock::now() +
                    std::chrono::milliseconds(executor_settings::statement_timeout_ms + 2000);
    if (!sent) {
        broken(task, "sending the query");
        return;
    }
    task.link->set_busy(true);
    task.phase = Phase::Sending;
}

void start_connect(Task& task) {
    task.from_pool = false;
    crypto::Key key = crypto::load_configured_key();
    const DatasetRecord& dataset = task.job->dataset;
    SecretString conninfo = crypto::decrypt(key, dataset.ciphertext.data(), dataset.ciphertext.size());
    task.params = std::make_unique<ConnectionParams>(ConnectionParams::parse(conninfo.view(), true));
    PGconn* raw = PQconnectStartParams(task.params->keywords(), task.params->values(), 0);
    if (raw == nullptr) throw std::bad_alloc();
    task.link.emplace(RemoteConnection::adopt(raw, dataset.name));
    if (PQstatus(raw) == CONNECTION_BAD) {
        fail(task, connect_failure(raw, *task.params, dataset.name, false));
        return;
    }
    task.phase = Phase::Connecting;
    task.step_started = Clock::now();
    task.poll = PGRES_POLLING_WRITING;
    task.deadline = Clock::now() + std::chrono::seconds(task.params->connect_timeout_s());
}

// An unhealthy dataset is refused at once rather than waited for.
bool refused_as_unhealthy(Task& task) {
    const circuit_breaker::Verdict verdict = circuit_breaker::check(task.job->dataset.id);
    if (verdict.allowed) return false;
    task.refused_by_breaker = true;
    char retry[32];
    snprintf(retry, sizeof retry, "%.0f", verdict.retry_in_s);
    fail(task, ERRCODE_CONNECTION_FAILURE,
         "dataset \"" + task.job->dataset.name + "\" is unhealthy: its last " +
             std::to_string(verdict.failures) + " connection attempts failed",
         "Last error: " + verdict.last_error,
         std::string("Calls to it are refused for ") + retry +
             " s more, then one call probes it again. Query another dataset meanwhile, or "
             "retry later; an admin can check its server (mcp.dataset_health()).");
    return true;
}

void start(Task& task) {
    task.started = Clock::now();
    if (refused_as_unhealthy(task)) return;
    if (auto pooled = pool::take(task.job->dataset)) {
        task.link.emplace(std::move(*pooled));
        task.from_pool = true;
        send_pipeline(task);
    } else {
        connect_or_fail(task);
    }
}

void collect_rows(Task& task, const PGresult* result) {
    Job& job = *task.job;
    const int columns = PQnfields(result);
    job.columns.clear();
    for (int c = 0; c < columns; ++c)
        job.columns.push_back(Column{PQfname(result, c), PQftype(result, c)});
    const int available = PQntuples(result);
    job.more_rows = available > job.row_limit;
    const int wanted = std::min(available, job.row_limit);
    size_t bytes = 0;
    for (int r = 0; r < wanted; ++r) {
        Row row;
        row.reserve(columns);
        for (int c = 0; c < columns; ++c) {
            if (PQgetisnull(result, r, c)) {
                row.emplace_back();
            } else {
                bytes += static_cast<size_t>(PQgetlength(result, r, c));
                row.emplace_back(std::string(PQgetvalue(result, r, c), PQgetlength(result, r, c)));
            }
        }
        if (bytes > static_cast<size_t>(executor_settings::max_result_bytes)) {
            job.byte_capped = true;
            break;
        }
        job.rows.push_back(std::move(row));
    }
}

// The Sync's answer: every statement of the pipeline has answered.
void pipeline_done(Task& task) {
    task.link->set_busy(false);
    if (task.remote_failure) {
        // Failing before any statement succeeded: a pooled connection the server ended.
        if (retry_if_stale(task)) return;
        fail(task, *task.remote_failure);
        return;
    }
    PGconn* conn = task.link->raw();
    if (PQexitPipelineMode(conn) != 1 || PQtransactionStatus(conn) != PQTRANS_IDLE) {
        broken(task, "finishing the transaction");
        return;
    }
    phase_timings::add(phase_timings::remote_pipeline, ms_since(task.step_started));
    task.job->ok = true;
    pool::give_back(task.job->dataset, std::move(*task.link));
    task.link.reset();
    finish(task);
}

void read_results(Task& task) {
    PGconn* conn = task.link->raw();
    if (PQconsumeInput(conn) != 1) {
        broken(task, "reading results");
        return;
    }
    // In pipeline mode each statement's results end with a null; the Sync ends them all.
    bool after_null = false;
    while (!PQisBusy(conn)) {
        PGresult* raw = PQgetResult(conn);
        if (raw == nullptr) {
            if (PQstatus(conn) == CONNECTION_BAD) {
                broken(task, "reading results");
                return;
            }
            if (after_null) return;  // nothing more queued yet: wait for the socket
            after_null = true;
            continue;
        }
        after_null = false;
        ResultPtr result(raw);
        const ExecStatusType status = PQresultStatus(raw);
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) task.answered = true;
        switch (status) {
            case PGRES_PIPELINE_SYNC:
                pipeline_done(task);
                return;
            case PGRES_FATAL_ERROR:
                // A lost connection shows as an error without a SQLSTATE.
                if (PQstatus(conn) == CONNECTION_BAD) {
                    broken(task, "reading results");
                    return;
                }
                if (!task.remote_failure) task.remote_failure = remote_error(raw, task.job->dataset.name);
                break;
            case PGRES_TUPLES_OK:  // only the FETCH returns rows
                collect_rows(task, raw);
                break;
            default:  // COMMAND_OK, and PIPELINE_ABORTED after a failure
                break;
        }
    }
}

void advance(Task& task) {
    switch (task.phase) {
        case Phase::Connecting: {
            PGconn* conn = task.link->raw();
            task.poll = PQconnectPoll(conn);
            if (task.poll == PGRES_POLLING_FAILED) {
                fail(task, connect_failure(conn, *task.params, task.job->dataset.name, false));
            } else if (task.poll == PGRES_POLLING_OK) {
                if (PQsetnonblocking(conn, 1) != 0) {
                    broken(task, "connecting");
                    return;
                }
                phase_timings::add(phase_timings::remote_connect, ms_since(task.step_started));
                send_pipeline(task);
            }
            break;
        }
        case Phase::Sending: {
            int flushed = PQflush(task.link->raw());
            if (flushed < 0) broken(task, "sending the query");
            else if (flushed == 0) task.phase = Phase::Reading;
            break;
        }
        case Phase::Reading: read_results(task); break;
        default: break;
    }
}

void time_out(Task& task) {
    if (task.phase == Phase::Connecting) {
        fail(task, connect_failure(task.link->raw(), *task.params, task.job->dataset.name, true));
        return;
    }
    // The server did not even end the query at its own statement_timeout (set at BEGIN) in
    // the 2 s since: it is not answering, and a cancel request (which waits for the server to
    // close it) would hang this backend on it too. Hang up without one.
    task.link->set_busy(false);
    fail(task, ERRCODE_QUERY_CANCELED,
         "query on dataset \"" + task.job->dataset.name + "\" timed out");
}

// The sockets waited on, as one WaitEventSet kept across the rounds of a run while the
// in-flight tasks and their sockets stay the same (only the events asked for change, which
// ModifyWaitEvent does in place): a new set per round cost an epoll instance and its system
// calls several times per query. Sockets change while connecting and as tasks start and end.
class WaitSet {
public:
    struct Entry {
        Task* task;
        const PGconn* connection;
        pgsocket socket;
        uint32 events;
        bool connecting;  // its socket may be replaced between rounds
    };

    ~WaitSet() { reset(); }
    WaitSet() = default;
    WaitSet(const WaitSet&) = delete;
    WaitSet& operator=(const WaitSet&) = delete;

    // Makes the set wait for exactly `wanted` (plus the latch and postmaster death).
    void wait_for(const std::vector<Entry>& wanted) {
        if (set_ != nullptr && same_sockets(wanted)) {
            for (size_t i = 0; i < wanted.size(); ++i) {
                if (wanted[i].events == entries_[i].events) continue;
                const int position = static_cast<int>(i) + kFixedEvents;
                pg_call([&] { ModifyWaitEvent(set_, position, wanted[i].events, nullptr); });
                entries_[i].events = wanted[i].events;
            }
            return;
        }
        reset();
        set_ = pg_call([&] {
            const int events = static_cast<int>(wanted.size()) + kFixedEvents;
#if PG_VERSION_NUM >= 170000
            return CreateWaitEventSet(CurrentResourceOwner, events);
#else
            return CreateWaitEventSet(CurrentMemoryContext, events);
#endif
        });
        pg_call([&] {
            AddWaitEventToSet(set_, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, nullptr);
            AddWaitEventToSet(set_, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, nullptr, nullptr);
            for (const Entry& entry : wanted)
                AddWaitEventToSet(set_, entry.events, entry.socket, nullptr, entry.task);
        });
        entries_ = wanted;
    }

    WaitEventSet* get() const { return set_; }

private:
    static constexpr int kFixedEvents = 2;

    bool same_sockets(const std::vector<Entry>& wanted) const {
        if (wanted.size() != entries_.size()) return false;
        for (size_t i = 0; i < wanted.size(); ++i)
            if (wanted[i].connecting || entries_[i].connecting || wanted[i].task != entries_[i].task ||
                wanted[i].connection != entries_[i].connection || wanted[i].socket != entries_[i].socket)
                return false;
        return true;
    }

    void reset() {
        if (set_ != nullptr) FreeWaitEventSet(set_);
        set_ = nullptr;
        entries_.clear();
    }

    WaitEventSet* set_ = nullptr;
    std::vector<Entry> entries_;
};

uint32 socket_events(const Task& task) {
    if (task.phase == Phase::Connecting)
        return task.poll == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
    if (task.phase == Phase::Sending) return WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE;
    return WL_SOCKET_READABLE;
}

bool in_flight(const Task& task) {
    return task.phase != Phase::Waiting && task.phase != Phase::Done;
}

}  // namespace

void run(std::vector<Job*>& jobs, int max_concurrency) {
    std::vector<Task> tasks(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) tasks[i].job = jobs[i];
    size_t next = 0;
    WaitSet waits;
    std::vector<WaitSet::Entry> wanted;
    for (;;) {
        int running = static_cast<int>(std::count_if(tasks.begin(), tasks.end(), in_flight));
        while (running < max_concurrency && next < tasks.size()) {
            start(tasks[next++]);
            if (in_flight(tasks[next - 1])) ++running;
        }
        if (running == 0 && next == tasks.size()) break;
        if (running == 0) continue;

        long timeout_ms = 3600 * 1000;
        wanted.clear();
        for (Task& task : tasks) {
            if (!in_flight(task)) continue;
            wanted.push_back({&task, task.link->raw(), PQsocket(task.link->raw()), socket_events(task),
                              task.phase == Phase::Connecting});
            timeout_ms = std::min(timeout_ms, std::max(0L, static_cast<long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(task.deadline - Clock::now()).count())));
        }
        waits.wait_for(wanted);
        WaitEvent occurred[32];
        int fired = pg_call([&] {
            return WaitEventSetWait(waits.get(), timeout_ms, occurred, 32, PG_WAIT_EXTENSION);
        });
        for (int i = 0; i < fired; ++i) {
            if (occurred[i].events & WL_LATCH_SET) {
                pg_call([] { ResetLatch(MyLatch); });
                check_for_interrupts();  // throws on cancel; tasks' links cancel remotely
                continue;
            }
            auto* task = static_cast<Task*>(occurred[i].user_data);
            if (task != nullptr && in_flight(*task)) advance(*task);
        }
        auto now = Clock::now();
        for (Task& task : tasks)
            if (in_flight(task) && now >= task.deadline) time_out(task);
    }
}

}  // namespace mcp::ext::executor
