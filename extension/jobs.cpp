#include "jobs.hpp"

#include "jobs_settings.hpp"
#include "maintenance.hpp"
#include "llm.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"
#include "profiler.hpp"
#include "spi.hpp"
#include "worker.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

#include <chrono>
#include <climits>
#include <cstdlib>
#include <memory>
#include <optional>

namespace mcp::ext::jobs {

namespace {

// A job worker outside a transaction: each begin..commit is a transaction of its own.
class WorkerTransactions : public Transactions {
  public:
    explicit WorkerTransactions(MemoryContext scratch) : scratch_(scratch) {}
    void begin() override {
        pg_call([] {
            SetCurrentStatementStartTimestamp();
            StartTransactionCommand();
            PushActiveSnapshot(GetTransactionSnapshot());
        });
        open_ = true;
    }
    void commit() override {
        pg_call([] {
            PopActiveSnapshot();
            CommitTransactionCommand();
        });
        open_ = false;
        MemoryContextSwitchTo(scratch_);
    }
    void abort() override {
        pg_call([] { AbortCurrentTransaction(); });
        open_ = false;
        MemoryContextSwitchTo(scratch_);
    }

  private:
    MemoryContext scratch_;
};

// CALL mcp.run_pending_jobs() outside a transaction block: SPI_commit ends each step. Jobs run
// as the extension's owner (the caller is an admin: EXECUTE is granted to mcp_admin only).
class ProcedureTransactions : public Transactions {
  public:
    explicit ProcedureTransactions(Oid owner) : owner_(owner) {
        GetUserIdAndSecContext(&caller_, &caller_context_);
        become_owner();
    }
    ~ProcedureTransactions() override { SetUserIdAndSecContext(caller_, caller_context_); }
    void begin() override {
        become_owner();
        pg_call([] { PushActiveSnapshot(GetTransactionSnapshot()); });
        open_ = true;
    }
    void commit() override {
        pg_call([] {
            PopActiveSnapshot();
            SPI_commit();
        });
        open_ = false;
    }
    void abort() override {
        pg_call([] { SPI_rollback(); });
        open_ = false;
        become_owner();  // an abort restores the user the transaction started with
    }

  private:
    void become_owner() {
        SetUserIdAndSecContext(owner_, caller_context_ | SECURITY_LOCAL_USERID_CHANGE);
    }
    Oid owner_;
    Oid caller_ = InvalidOid;
    int caller_context_ = 0;
};

// Inside a transaction block (or a SELECT): each step is a subtransaction, so a failed job is
// still recorded; nothing is visible to others before the caller commits.
class SubTransactions : public Transactions {
  public:
    void begin() override {
        context_ = CurrentMemoryContext;
        owner_ = CurrentResourceOwner;
        pg_call([] { BeginInternalSubTransaction(nullptr); });
        MemoryContextSwitchTo(context_);
        open_ = true;
    }
    void commit() override {
        pg_call([] { ReleaseCurrentSubTransaction(); });
        restore();
    }
    void abort() override {
        pg_call([] { RollbackAndReleaseCurrentSubTransaction(); });
        restore();
    }

  private:
    void restore() {
        MemoryContextSwitchTo(context_);
        CurrentResourceOwner = owner_;
        open_ = false;
    }
    MemoryContext context_ = nullptr;
    ResourceOwner owner_ = nullptr;
};

struct Failure {
    int sqlstate = ERRCODE_INTERNAL_ERROR;
    std::string message;
};

std::string sqlstate_text(int code) { return unpack_sql_state(code); }

// Errors that another attempt cannot fix.
bool retryable(int sqlstate) {
    return sqlstate != ERRCODE_NO_DATA_FOUND && sqlstate != ERRCODE_DATA_CORRUPTED &&
           sqlstate != ERRCODE_CONFIG_FILE_ERROR && sqlstate != ERRCODE_INSUFFICIENT_PRIVILEGE;
}

std::optional<Job> claim(Transactions& tx, double* next_due_s, bool* more) {
    std::optional<Job> job;
    tx.begin();
    auto rows = spi::query(
        "SELECT j.id, j.kind, j.dataset_id, j.attempts, j.max_attempts, j.payload::text "
        "  FROM mcp._claim_job($1::integer) j WHERE j.id IS NOT NULL",
        {std::to_string(MyProcPid)});
    if (!rows.empty()) {
        const spi::Row& row = rows[0];
        job = Job{std::atoll(row[0]->c_str()),
                  *row[1],
                  row[2] ? std::atoi(row[2]->c_str()) : 0,
                  std::atoi(row[3]->c_str()),
                  std::atoi(row[4]->c_str()),
                  *row[5]};
        auto due = spi::query_value(
            "SELECT EXISTS (SELECT 1 FROM mcp.jobs WHERE status = 'queued' AND run_after <= "
            "now())");
        *more = due && *due == "t";
    } else {
        auto due = spi::query_value("SELECT mcp._job_next_due()");
        *next_due_s = due ? std::atof(due->c_str()) : -1;
    }
    tx.commit();
    return job;
}

void record_failure(Transactions& tx, const Job& job, const Failure& failure) {
    tx.begin();
    auto outcome = spi::query_value(
        "SELECT mcp._job_failed($1::bigint, $2::integer, $3, $4, $5::integer, $6::boolean)",
        {std::to_string(job.id), std::to_string(job.attempt), failure.message,
         sqlstate_text(failure.sqlstate), std::to_string(jobs_settings::job_retry_delay_ms),
         retryable(failure.sqlstate) ? "true" : "false"});
    tx.commit();
    pg_call([&] {
        ereport(LOG, (errmsg("mcp_analytics: job %lld (%s, dataset %d) attempt %d failed: %s; %s",
                             job.id, job.kind.c_str(), job.dataset_id, job.attempt,
                             failure.message.c_str(),
                             outcome && *outcome == "queued" ? "it will be retried" : "no retry")));
    });
}

void execute(Transactions& tx, const Job& job) {
    Failure failure;
    try {
        JobContext context(tx, job);
        if (job.kind == "profile")
            profiler::run_profile_job(context);
        else if (job.kind == "llm_metadata")
            llm::run_metadata_job(context);
        else
            throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED, "unknown job kind \"" + job.kind + "\"");
        return;
    } catch (const PgError& error) {
        // Copy before rolling back: the error's text may live in the transaction's memory.
        failure.sqlstate = error.sqlstate();
        failure.message = error.what();
        if (error.original() != nullptr && error.original()->detail != nullptr)
            failure.message += std::string(" (") + error.original()->detail + ")";
        else if (!error.detail().empty())
            failure.message += " (" + error.detail() + ")";
    } catch (const std::exception& error) {
        failure.message = std::string("internal error: ") + error.what();
    }
    if (tx.open() || dynamic_cast<ProcedureTransactions*>(&tx) != nullptr) tx.abort();
    record_failure(tx, job, failure);
    // A cancelled CALL stops here, after the attempt was recorded.
    if (failure.sqlstate == ERRCODE_QUERY_CANCELED && !worker::in_job_worker())
        throw PgError(ERRCODE_QUERY_CANCELED, "canceling statement due to user request",
                      "Job " + std::to_string(job.id) + " was put back in the queue.");
}

// Claims and runs one due job. Returns false when none was due.
bool run_one(Transactions& tx, double* next_due_s) {
    std::optional<Job> job;
    bool more = false;
    try {
        job = claim(tx, next_due_s, &more);
    } catch (...) {
        if (tx.open()) tx.abort();
        throw;
    }
    if (!job) return false;
    worker::set_current_job(job->id);  // busy first, so the launcher starts another worker
    if (more) worker::request_more_workers();
    std::string activity = "mcp_analytics job " + std::to_string(job->id) + ": " + job->kind +
                           " of dataset " + std::to_string(job->dataset_id);
    if (worker::in_job_worker())
        pg_call([&] { pgstat_report_activity(STATE_RUNNING, activity.c_str()); });
    auto started = std::chrono::steady_clock::now();
    execute(tx, *job);
    worker::set_current_job(0);
    if (worker::in_job_worker()) pg_call([] { pgstat_report_activity(STATE_IDLE, nullptr); });
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    pg_call([&] {
        ereport(DEBUG1,
                (errmsg("mcp_analytics: job %lld (%s, dataset %d) attempt %d ended after %.2f s",
                        job->id, job->kind.c_str(), job->dataset_id, job->attempt, seconds)));
    });
    return true;
}

bool extension_installed() {
    return pg_call([] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        bool installed = OidIsValid(get_extension_oid("mcp_analytics", true));
        CommitTransactionCommand();
        return installed;
    });
}

Oid extension_owner() {
    auto owner = spi::query_value(
        "SELECT e.extowner::integer FROM pg_catalog.pg_extension e WHERE e.extname = "
        "'mcp_analytics'");
    if (!owner)
        throw PgError(ERRCODE_UNDEFINED_OBJECT, "extension mcp_analytics is not installed here");
    return static_cast<Oid>(std::strtoul(owner->c_str(), nullptr, 10));
}

// A jobs worker lingers this long for a job that falls due soon, instead of exiting (unless
// another database needs its slot meanwhile).
constexpr double kLingerSeconds = 30;

// With nothing queued, a worker stays this long for the next job before it exits: a job queued
// meanwhile (a profile asked for again, the metadata job after a profile) starts at once,
// without starting a process and connecting. Short, as the query-log writer's idle time:
// DROP DATABASE waits for the database's workers to leave.
constexpr long kIdleLingerMs = 1000;

// The settings a new connection of this worker would start with (ALTER DATABASE / ALTER ROLE
// ... SET), as one text: a worker that waited compares them before its next job and leaves
// when they changed, so that the job runs in a fresh worker that has them.
std::string connection_settings(Transactions& tx) {
    tx.begin();
    auto settings = spi::query_value(
        "SELECT coalesce(pg_catalog.string_agg(s.setdatabase || '/' || s.setrole || ':' || "
        "         pg_catalog.array_to_string(s.setconfig, ','), ';' ORDER BY s.setdatabase, s.setrole), '')"
        "  FROM pg_catalog.pg_db_role_setting s"
        " WHERE s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d"
        "                             WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()))"
        "   AND s.setrole IN (0, (SELECT r.oid FROM pg_catalog.pg_roles r"
        "                         WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER))");
    tx.commit();
    return settings.value_or("");
}

// Seconds until this database's next queued job falls due (0: one is due; -1: none).
double next_due_seconds(Transactions& tx) {
    tx.begin();
    auto due = spi::query_value("SELECT mcp._job_next_due()");
    tx.commit();
    return due ? std::atof(due->c_str()) : -1;
}

Datum run_pending_jobs(FunctionCallInfo fcinfo) {
    const long max_jobs = argument_is_null(fcinfo, 0) ? LONG_MAX : PG_GETARG_INT32(0);
    const bool nonatomic = fcinfo->context != nullptr && IsA(fcinfo->context, CallContext) &&
                           !castNode(CallContext, fcinfo->context)->atomic;
    std::unique_ptr<Transactions> tx;
    if (nonatomic) {
        pg_call([] {
            if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
                elog(ERROR, "SPI_connect failed");
        });
        tx = std::make_unique<ProcedureTransactions>(extension_owner());
    } else {
        tx = std::make_unique<SubTransactions>();
    }
    long ran = 0;
    double next_due = -1;
    while (ran < max_jobs && run_one(*tx, &next_due)) ++ran;
    tx.reset();
    if (nonatomic) pg_call([] { SPI_finish(); });
    pg_call([&] {
        ereport(NOTICE, (errmsg("ran %ld job(s)", ran),
                         ran > 0 ? errhint("See SELECT * FROM mcp.jobs_status();") : 0));
    });
    return (Datum)0;
}

Datum jobs_wake(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw PgError(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED, "mcp._jobs_wake() is a trigger");
    worker::wake_at_commit();
    return PointerGetDatum(nullptr);
}

Datum job_workers(FunctionCallInfo fcinfo) {
    std::vector<worker::WorkerInfo> infos = worker::snapshot();
    pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
    ReturnSetInfo* result = (ReturnSetInfo*)fcinfo->resultinfo;
    for (const worker::WorkerInfo& info : infos) {
        Datum values[5];
        bool nulls[5] = {false, false, false, false, false};
        values[0] = text_datum(info.role);
        values[1] = Int32GetDatum(info.pid);
        if (info.database_oid != 0) {
            char* name = pg_call([&] { return get_database_name(info.database_oid); });
            if (name != nullptr)
                values[2] = text_datum(name);
            else
                nulls[2] = true;
        } else {
            nulls[2] = true;
        }
        values[3] = BoolGetDatum(info.busy);
        values[4] = Int64GetDatum(info.job_id);
        nulls[4] = info.job_id == 0;
        if (info.role == "launcher") nulls[3] = true;
        pg_call([&] { tuplestore_putvalues(result->setResult, result->setDesc, values, nulls); });
    }
    return (Datum)0;
}

}  // namespace

void skip_flush_wait() {
    spi::query("SELECT pg_catalog.set_config('synchronous_commit', 'off', true)");
}

void JobContext::progress(const std::string& json) {
    tx.begin();
    skip_flush_wait();
    spi::query("SELECT mcp._job_progress($1::bigint, $2::integer, $3::jsonb)",
               {std::to_string(job.id), std::to_string(job.attempt), json});
    tx.commit();
}

void serve_database() {
    if (!extension_installed()) return;
    MemoryContext scratch = pg_call([] {
        return AllocSetContextCreate(TopMemoryContext, "mcp_analytics job", ALLOCSET_DEFAULT_SIZES);
    });
    MemoryContextSwitchTo(scratch);
    WorkerTransactions tx(scratch);
    TimestampTz idle_since = 0;  // since when nothing ran (0: something just did)
    std::optional<std::string> settings_at_start;  // read in the first round
    bool waited = false;
    for (;;) {
        check_for_interrupts();
        worker::reload_config_if_asked();
        if (jobs_settings::job_workers == 0) return;  // background jobs were switched off
        double next_due = -1;
        bool ran = false;
        try {
            if (worker::asked_to_leave()) {
                // Another database waits for this slot; the launcher comes back for this
                // queue when its next job falls due.
                worker::leave(next_due_seconds(tx));
                return;
            }
            if (!settings_at_start) settings_at_start = connection_settings(tx);
            if (waited && connection_settings(tx) != *settings_at_start) {
                // Someone changed this database's or role's settings while it waited: a fresh
                // worker, started when the next job is due, has them.
                worker::leave(next_due_seconds(tx));
                return;
            }
            waited = false;
            worker::begin_round();
            ran = run_one(tx, &next_due);
        } catch (const PgError& error) {
            // The queue itself failed (the extension dropped, a broken install): stop here;
            // the next job added starts a fresh worker.
            std::string message = error.what();
            if (tx.open()) tx.abort();
            pg_call(
                [&] { ereport(LOG, (errmsg("mcp_analytics job worker: %s", message.c_str()))); });
            return;
        }
        pg_call([&] { MemoryContextReset(scratch); });
        if (ran) {
            idle_since = 0;
            continue;
        }
        // Housekeeping when nothing is due, so no job waits for it: the first idle moment
        // after a worker starts here, then every maintenance_interval.
        maintenance::run_in_worker();
        if (next_due >= 0 && next_due <= kLingerSeconds) {
            worker::wait(static_cast<long>(next_due * 1000) + 10);
            waited = true;
            continue;
        }
        const TimestampTz now = GetCurrentTimestamp();
        if (idle_since == 0) idle_since = now;
        const long idle_ms = static_cast<long>((now - idle_since) / 1000);
        if (idle_ms < kIdleLingerMs) {
            worker::wait(kIdleLingerMs - idle_ms);  // a queued job sets the latch
            waited = true;
            continue;
        }
        if (worker::try_exit(next_due)) return;
    }
}

}  // namespace mcp::ext::jobs

extern "C" {
PG_FUNCTION_INFO_V1(mcp_run_pending_jobs);
PG_FUNCTION_INFO_V1(mcp_jobs_wake);
PG_FUNCTION_INFO_V1(mcp_job_workers);

Datum mcp_run_pending_jobs(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::jobs::run_pending_jobs(fcinfo); });
}
Datum mcp_jobs_wake(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::jobs::jobs_wake(fcinfo); });
}
Datum mcp_job_workers(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::jobs::job_workers(fcinfo); });
}
}
