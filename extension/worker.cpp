#include "worker.hpp"

#include "dynamic_worker.hpp"

#include "jobs.hpp"
#include "jobs_settings.hpp"
#include "maintenance.hpp"
#include "pg_guard.hpp"
#include "shared_struct.hpp"

extern "C" {
#include "postgres.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void mcp_jobs_launcher_main(Datum argument);
PGDLLEXPORT void mcp_jobs_worker_main(Datum argument);
}

#include <algorithm>
#include <cstring>

namespace mcp::ext::worker {

namespace {

constexpr int kMaxWorkers = 16;     // upper bound of mcp_analytics.job_workers
constexpr int kMaxDatabases = 128;  // databases with pending wake-ups at once
constexpr long kLauncherNapMs = 60000;

enum SlotState : int { kFree = 0, kStarting, kRunning, kExiting };

struct DatabaseEntry {
    Oid oid;
    bool requested;       // work was added (or a worker died busy) since a worker last looked
    TimestampTz since;    // ... first since then: databases are served longest-waiting first
    TimestampTz wake_at;  // a queued job falls due then (0: none)
};

struct WorkerSlot {
    int state;
    Oid database;
    pid_t pid;
    Latch* latch;
    bool busy;
    bool idle;   // waiting on its latch for a job that is not due yet
    bool leave;  // the launcher gave the slot to another database: exit before the next job
    int64 job_id;
};

struct SharedState {
    slock_t mutex;
    pid_t launcher_pid;
    Latch* launcher_latch;
    DatabaseEntry databases[kMaxDatabases];
    WorkerSlot slots[kMaxWorkers];
};

SharedState* shared = nullptr;

int my_slot = -1;  // in a job worker: its slot
bool wake_pending = false;
bool xact_callback_registered = false;

// Everything below that touches `shared` holds the spinlock only for a few instructions and
// never calls anything that may ereport while holding it.
class SpinGuard {
  public:
    SpinGuard() { SpinLockAcquire(&shared->mutex); }
    ~SpinGuard() { SpinLockRelease(&shared->mutex); }
    SpinGuard(const SpinGuard&) = delete;
    SpinGuard& operator=(const SpinGuard&) = delete;
};

DatabaseEntry* find_database(Oid oid, bool add) {
    DatabaseEntry* free_entry = nullptr;
    for (DatabaseEntry& entry : shared->databases) {
        if (entry.oid == oid) return &entry;
        if (free_entry == nullptr &&
            (entry.oid == InvalidOid || (!entry.requested && entry.wake_at == 0)))
            free_entry = &entry;
    }
    if (!add || free_entry == nullptr) return nullptr;
    free_entry->oid = oid;
    free_entry->requested = false;
    free_entry->since = 0;
    free_entry->wake_at = 0;
    return free_entry;
}

// Records that the database needs a worker to look at its queue (spinlock held).
void mark_requested(DatabaseEntry* entry, TimestampTz now) {
    if (entry == nullptr || entry->requested) return;
    entry->requested = true;
    entry->since = now;
}

void create(void* bytes) { SpinLockInit(&static_cast<SharedState*>(bytes)->mutex); }

// Marks the database as having new work and sets the latches of whoever should look.
void wake_database(Oid database) {
    if (shared == nullptr) return;
    Latch* latches[kMaxWorkers + 1];
    int count = 0;
    TimestampTz now = GetCurrentTimestamp();
    {
        SpinGuard lock;
        mark_requested(find_database(database, true), now);
        for (const WorkerSlot& slot : shared->slots)
            if (slot.state == kRunning && slot.database == database && !slot.busy && slot.latch)
                latches[count++] = slot.latch;
        if (shared->launcher_latch != nullptr) latches[count++] = shared->launcher_latch;
    }
    for (int i = 0; i < count; ++i) SetLatch(latches[i]);
}

void on_transaction_end(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) {
        if (wake_pending) {
            wake_pending = false;
            wake_database(MyDatabaseId);
        }
    } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
               event == XACT_EVENT_PREPARE) {
        wake_pending = false;
    }
}

// ---------------------------------------------------------------------------------------
// Launcher
// ---------------------------------------------------------------------------------------

BackgroundWorkerHandle* handles[kMaxWorkers];  // launcher-local: handles of started workers

void launcher_exit(int, Datum) {
    if (shared == nullptr) return;
    SpinGuard lock;
    if (shared->launcher_pid == MyProcPid) {
        shared->launcher_pid = 0;
        shared->launcher_latch = nullptr;
    }
}

// Every database a worker may connect to: after a (re)start, each gets one look at its queue
// (jobs left running by a crash are retried from there). A worker in a database without the
// extension exits at once.
void request_every_database() {
    static Oid found[4096];
    int count = pg_call([] {
        int n = 0;
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        (void)GetTransactionSnapshot();
        Relation relation = table_open(DatabaseRelationId, AccessShareLock);
        TableScanDesc scan = table_beginscan_catalog(relation, 0, nullptr);
        HeapTuple tuple;
        while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr && n < 4096) {
            Form_pg_database database = (Form_pg_database)GETSTRUCT(tuple);
            if (!database->datallowconn || database->datistemplate) continue;
#ifdef DATCONNLIMIT_INVALID_DB
            if (database_is_invalid_form(database)) continue;
#endif
            found[n++] = database->oid;
        }
        table_endscan(scan);
        table_close(relation, AccessShareLock);
        CommitTransactionCommand();
        return n;
    });
    TimestampTz now = GetCurrentTimestamp();
    SpinGuard lock;
    for (int i = 0; i < count; ++i) mark_requested(find_database(found[i], true), now);
}

bool start_worker(int index) {
    BackgroundWorkerHandle* handle = start_dynamic_worker(
        "mcp_jobs_worker_main", "mcp_analytics job worker " + std::to_string(index),
        "mcp_analytics job worker", Int32GetDatum(index));
    handles[index] = handle;
    return handle != nullptr;
}

// Frees the slots of workers that are gone (also those that died before cleaning up).
void reap_workers() {
    for (int i = 0; i < kMaxWorkers; ++i) {
        if (handles[i] == nullptr) continue;
        pid_t pid = 0;
        BgwHandleStatus status = pg_call([&] { return GetBackgroundWorkerPid(handles[i], &pid); });
        if (status != BGWH_STOPPED) continue;
        TimestampTz now = GetCurrentTimestamp();
        {
            SpinGuard lock;
            WorkerSlot& slot = shared->slots[i];
            if (slot.state != kFree) {
                // It died without its exit callback: a job it held needs recovering.
                if (slot.busy) mark_requested(find_database(slot.database, true), now);
                slot = WorkerSlot{};
            }
        }
        pg_call([&] { pfree(handles[i]); });
        handles[i] = nullptr;
    }
}

// One launcher round. The launcher decides on a copy of the shared state and applies its
// decisions under the lock: only the launcher turns a free slot into a starting one, and a
// worker asked to leave is matched by its pid, so nothing it decided on can have gone stale.
struct Waiting {
    Oid database;
    TimestampTz since;  // asked for a worker, or its next job fell due, then
    bool has_workers;   // it asks for one more
};

struct Round {
    WorkerSlot slots[kMaxWorkers];  // the copy, updated with the decisions
    Waiting waiting[kMaxDatabases];
    int waiting_count = 0;
    long nap_ms = kLauncherNapMs;
    int starts[kMaxWorkers];  // slots to start a worker in (for slots[i].database)
    TimestampTz start_since[kMaxWorkers];
    int start_count = 0;
    int leaves[kMaxWorkers];  // workers to ask to give their slot up
    int leave_count = 0;
};

// A worker that keeps its slot.
bool staying(const WorkerSlot& slot) {
    return slot.state == kStarting || (slot.state == kRunning && !slot.leave);
}

// A worker that looks at its database's queue when its latch is set.
bool available(const WorkerSlot& slot) { return staying(slot) && !slot.busy; }

int count_workers(const Round& round, Oid database, bool (*which)(const WorkerSlot&)) {
    int count = 0;
    for (const WorkerSlot& slot : round.slots) count += slot.database == database && which(slot);
    return count;
}

void take_snapshot(Round& round, TimestampTz now) {
    SpinGuard lock;
    std::memcpy(static_cast<void*>(round.slots), shared->slots, sizeof round.slots);
    for (const DatabaseEntry& entry : shared->databases) {
        if (entry.oid == InvalidOid) continue;
        bool fell_due = entry.wake_at != 0 && entry.wake_at <= now;
        if (entry.requested || fell_due) {
            TimestampTz since = entry.requested ? entry.since : entry.wake_at;
            if (entry.requested && fell_due) since = std::min(since, entry.wake_at);
            round.waiting[round.waiting_count++] = Waiting{entry.oid, since, false};
        } else if (entry.wake_at != 0) {
            round.nap_ms = std::min(round.nap_ms, (long)((entry.wake_at - now) / 1000) + 1);
        }
    }
}

// Whose slot goes to `database`: another database's idle worker (it waits for a job that is
// not due yet); failing that, when `database` has no worker at all, a busy worker of the
// database with the most workers, which leaves once its current job is done. So no slot sits
// idle while a database waits, and busy databases take turns.
int pick_leaver(const Round& round, Oid database) {
    const bool has_workers = count_workers(round, database, staying) > 0;
    int chosen = -1;
    int most = 0;
    for (int i = 0; i < kMaxWorkers; ++i) {
        const WorkerSlot& slot = round.slots[i];
        if (slot.state != kRunning || slot.leave || slot.database == database) continue;
        if (slot.idle) return i;
        if (has_workers) continue;
        int workers = count_workers(round, slot.database, staying);
        if (workers > most) {
            most = workers;
            chosen = i;
        }
    }
    return chosen;
}

int free_slot(const Round& round) {
    for (int i = 0; i < kMaxWorkers; ++i)
        if (round.slots[i].state == kFree && handles[i] == nullptr) return i;
    return -1;
}

// Serves the waiting databases, those without a worker first, longest-waiting first, within
// mcp_analytics.job_workers: a free slot if there is one, else the slot of a worker that is
// leaving, else asks one to leave.
void plan(Round& round, int limit) {
    for (int w = 0; w < round.waiting_count; ++w)
        round.waiting[w].has_workers = count_workers(round, round.waiting[w].database, staying) > 0;
    std::sort(round.waiting, round.waiting + round.waiting_count,
              [](const Waiting& a, const Waiting& b) {
                  return a.has_workers != b.has_workers ? b.has_workers : a.since < b.since;
              });
    int active = 0, kept = 0;
    for (const WorkerSlot& slot : round.slots) {
        active += slot.state != kFree;
        kept += staying(slot);
    }
    int room = limit - kept;  // slots to hand out once the leaving workers are gone
    for (int w = 0; w < round.waiting_count; ++w) {
        const Waiting& waiting = round.waiting[w];
        if (count_workers(round, waiting.database, available) > 0) continue;  // it was woken
        if (room > 0) {
            --room;
            int index = active < limit ? free_slot(round) : -1;
            if (index < 0) continue;  // a leaving worker's slot will be its own
            round.slots[index] = WorkerSlot{};
            round.slots[index].state = kStarting;
            round.slots[index].database = waiting.database;
            round.start_since[round.start_count] = waiting.since;
            round.starts[round.start_count++] = index;
            ++active;
            continue;
        }
        int leaver = pick_leaver(round, waiting.database);
        if (leaver < 0) continue;
        round.slots[leaver].leave = true;
        round.leaves[round.leave_count++] = leaver;
    }
}

void apply(const Round& round) {
    Latch* latches[kMaxWorkers];
    int latch_count = 0;
    {
        SpinGuard lock;
        for (int s = 0; s < round.start_count; ++s) {
            int index = round.starts[s];
            shared->slots[index] = round.slots[index];
            if (DatabaseEntry* entry = find_database(round.slots[index].database, false)) {
                entry->requested = false;
                entry->wake_at = 0;
            }
        }
        for (int l = 0; l < round.leave_count; ++l) {
            WorkerSlot& slot = shared->slots[round.leaves[l]];
            if (slot.state != kRunning || slot.pid != round.slots[round.leaves[l]].pid) continue;
            slot.leave = true;
            if (slot.latch != nullptr) latches[latch_count++] = slot.latch;
        }
    }
    for (int i = 0; i < latch_count; ++i) SetLatch(latches[i]);
}

// Starts workers for databases with due work, within mcp_analytics.job_workers, and asks
// workers to leave for them. Returns how long to sleep before looking again.
long start_needed_workers() {
    Round round;
    take_snapshot(round, GetCurrentTimestamp());
    int limit = std::min(jobs_settings::job_workers, kMaxWorkers);
    if (limit > 0) plan(round, limit);
    apply(round);
    for (int s = 0; s < round.start_count; ++s) {
        int index = round.starts[s];
        if (start_worker(index)) continue;
        // No background worker slot free (max_worker_processes): try again shortly.
        SpinGuard lock;
        WorkerSlot& slot = shared->slots[index];
        mark_requested(find_database(slot.database, true), round.start_since[s]);
        slot = WorkerSlot{};
        round.nap_ms = std::min(round.nap_ms, 1000L);
    }
    return round.nap_ms;
}

void launcher_loop() {
    pg_call([] { BackgroundWorkerInitializeConnection(nullptr, nullptr, 0); });
    {
        SpinGuard lock;
        shared->launcher_pid = MyProcPid;
        shared->launcher_latch = MyLatch;
    }
    pg_call([] { on_shmem_exit(launcher_exit, 0); });
    request_every_database();
    TimestampTz last_maintenance = GetCurrentTimestamp();
    for (;;) {
        reap_workers();
        // Retention runs in job workers: every database gets a look each interval.
        long interval_ms = maintenance::maintenance_interval_s * 1000L;
        if (interval_ms > 0 &&
            TimestampDifferenceExceeds(last_maintenance, GetCurrentTimestamp(), interval_ms)) {
            request_every_database();
            last_maintenance = GetCurrentTimestamp();
        }
        long nap_ms = start_needed_workers();
        if (interval_ms > 0) nap_ms = std::min(nap_ms, interval_ms);
        pg_call([&] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, nap_ms,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
            if (ConfigReloadPending) {
                ConfigReloadPending = false;
                ProcessConfigFile(PGC_SIGHUP);
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// Job worker
// ---------------------------------------------------------------------------------------

void worker_exit(int, Datum) {
    if (shared == nullptr || my_slot < 0) return;
    Latch* launcher = nullptr;
    TimestampTz now = GetCurrentTimestamp();
    {
        SpinGuard lock;
        WorkerSlot& slot = shared->slots[my_slot];
        if (slot.pid == MyProcPid) {
            if (slot.busy)  // stopped mid-job: someone has to recover it
                mark_requested(find_database(slot.database, true), now);
            slot = WorkerSlot{};
        }
        launcher = shared->launcher_latch;
    }
    if (launcher != nullptr) SetLatch(launcher);
}

// Logs an exception that ended a background process, then exits with 1 (the launcher is
// restarted by the postmaster; a job worker's job is recovered by the next worker).
[[noreturn]] void exit_after(const char* what, const char* process) {
    ereport(LOG, (errmsg("mcp_analytics %s stopped: %s", process, what)));
    proc_exit(1);
}

}  // namespace

void register_at_preload() {
    if (!process_shared_preload_libraries_in_progress) return;
    register_shared_struct("mcp_analytics jobs", sizeof(SharedState), create, reinterpret_cast<void**>(&shared));

    BackgroundWorker launcher;
    std::memset(&launcher, 0, sizeof launcher);
    launcher.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    launcher.bgw_start_time = BgWorkerStart_RecoveryFinished;
    launcher.bgw_restart_time = 5;
    snprintf(launcher.bgw_library_name, BGW_MAXLEN, "mcp_analytics");
    snprintf(launcher.bgw_function_name, BGW_MAXLEN, "mcp_jobs_launcher_main");
    snprintf(launcher.bgw_name, BGW_MAXLEN, "mcp_analytics launcher");
    snprintf(launcher.bgw_type, BGW_MAXLEN, "mcp_analytics launcher");
    RegisterBackgroundWorker(&launcher);
}

void wake_at_commit() {
    if (shared == nullptr || my_slot >= 0) return;
    if (!xact_callback_registered) {
        pg_call([] { RegisterXactCallback(on_transaction_end, nullptr); });
        xact_callback_registered = true;
    }
    wake_pending = true;
}

bool in_job_worker() { return my_slot >= 0; }

void request_more_workers() {
    if (shared == nullptr) return;
    Latch* launcher = nullptr;
    TimestampTz now = GetCurrentTimestamp();
    {
        SpinGuard lock;
        mark_requested(find_database(MyDatabaseId, true), now);
        launcher = shared->launcher_latch;
    }
    if (launcher != nullptr) SetLatch(launcher);
}

void set_current_job(long long job_id) {
    if (shared == nullptr || my_slot < 0) return;
    SpinGuard lock;
    shared->slots[my_slot].busy = job_id != 0;
    shared->slots[my_slot].job_id = job_id;
}

void begin_round() {
    if (shared == nullptr || my_slot < 0) return;
    SpinGuard lock;
    if (DatabaseEntry* entry = find_database(MyDatabaseId, false)) entry->requested = false;
}

bool try_exit(double next_due_s) {
    if (shared == nullptr || my_slot < 0) return true;
    SpinGuard lock;
    DatabaseEntry* entry = find_database(MyDatabaseId, next_due_s >= 0);
    if (entry != nullptr && entry->requested) {
        entry->requested = false;
        return false;
    }
    if (entry != nullptr && next_due_s >= 0)
        entry->wake_at = GetCurrentTimestamp() + (TimestampTz)(next_due_s * 1000000.0);
    shared->slots[my_slot].state = kExiting;
    return true;
}

bool asked_to_leave() {
    if (shared == nullptr || my_slot < 0) return false;
    SpinGuard lock;
    return shared->slots[my_slot].leave;
}

void leave(double next_due_s) {
    if (shared == nullptr || my_slot < 0) return;
    TimestampTz now = GetCurrentTimestamp();
    SpinGuard lock;
    if (next_due_s >= 0)
        if (DatabaseEntry* entry = find_database(MyDatabaseId, true))
            entry->wake_at = now + (TimestampTz)(next_due_s * 1000000.0);
    shared->slots[my_slot].state = kExiting;
}

void reload_config_if_asked() {
    if (!ConfigReloadPending) return;
    ConfigReloadPending = false;
    pg_call([] { ProcessConfigFile(PGC_SIGHUP); });
}

void wait(long timeout_ms) {
    if (shared != nullptr && my_slot >= 0) {
        SpinGuard lock;
        shared->slots[my_slot].idle = true;
    }
    pg_call([&] {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                        std::max(timeout_ms, 1L), PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
    });
    if (shared != nullptr && my_slot >= 0) {
        SpinGuard lock;
        shared->slots[my_slot].idle = false;
    }
}

std::vector<WorkerInfo> snapshot() {
    std::vector<WorkerInfo> result;
    if (shared == nullptr) return result;
    WorkerInfo launcher;
    WorkerSlot slots[kMaxWorkers];
    {
        SpinGuard lock;
        launcher.pid = shared->launcher_pid;
        std::memcpy(static_cast<void*>(slots), shared->slots, sizeof slots);
    }
    launcher.role = "launcher";
    if (launcher.pid != 0) result.push_back(launcher);
    for (const WorkerSlot& slot : slots) {
        if (slot.state == kFree) continue;
        WorkerInfo info;
        info.role = slot.state == kStarting                ? "worker (starting)"
                    : slot.leave || slot.state == kExiting ? "worker (leaving)"
                                                           : "worker";
        info.pid = slot.pid;
        info.database_oid = slot.database;
        info.busy = slot.busy;
        info.job_id = slot.job_id;
        result.push_back(info);
    }
    return result;
}

}  // namespace mcp::ext::worker

using namespace mcp::ext::worker;

void mcp_jobs_launcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    try {
        launcher_loop();
    } catch (const std::exception& error) {
        exit_after(error.what(), "launcher");
    }
    proc_exit(0);
}

void mcp_jobs_worker_main(Datum argument) {
    int index = DatumGetInt32(argument);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    if (shared == nullptr || index < 0 || index >= kMaxWorkers) proc_exit(0);
    Oid database;
    {
        SpinGuard lock;
        database = shared->slots[index].database;
    }
    if (database == InvalidOid) proc_exit(0);
    try {
        mcp::ext::pg_call(
            [&] { BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0); });
        {
            SpinGuard lock;
            WorkerSlot& slot = shared->slots[index];
            slot.state = kRunning;
            slot.pid = MyProcPid;
            slot.latch = MyLatch;
            slot.busy = false;
        }
        my_slot = index;
        mcp::ext::pg_call([] { before_shmem_exit(worker_exit, 0); });
        mcp::ext::jobs::serve_database();
    } catch (const std::exception& error) {
        exit_after(error.what(), "job worker");
    }
    proc_exit(0);
}
