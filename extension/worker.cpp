#include "worker.hpp"

#include "jobs.hpp"
#include "jobs_settings.hpp"
#include "pg_guard.hpp"

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
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void mcp_jobs_launcher_main(Datum argument);
PGDLLEXPORT void mcp_jobs_worker_main(Datum argument);
}

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
    TimestampTz wake_at;  // a queued job falls due then (0: none)
};

struct WorkerSlot {
    int state;
    Oid database;
    pid_t pid;
    Latch* latch;
    bool busy;
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
shmem_startup_hook_type previous_shmem_startup = nullptr;
#if PG_VERSION_NUM >= 150000
shmem_request_hook_type previous_shmem_request = nullptr;
#endif

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
    free_entry->wake_at = 0;
    return free_entry;
}

void shmem_request() {
#if PG_VERSION_NUM >= 150000
    if (previous_shmem_request != nullptr) previous_shmem_request();
#endif
    RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
}

void shmem_startup() {
    if (previous_shmem_startup != nullptr) previous_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    shared = static_cast<SharedState*>(
        ShmemInitStruct("mcp_analytics jobs", sizeof(SharedState), &found));
    if (!found) {
        std::memset(static_cast<void*>(shared), 0, sizeof(SharedState));
        SpinLockInit(&shared->mutex);
    }
    LWLockRelease(AddinShmemInitLock);
}

// Marks the database as having new work and sets the latches of whoever should look.
void wake_database(Oid database) {
    if (shared == nullptr) return;
    Latch* latches[kMaxWorkers + 1];
    int count = 0;
    {
        SpinGuard lock;
        if (DatabaseEntry* entry = find_database(database, true)) entry->requested = true;
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
    SpinGuard lock;
    for (int i = 0; i < count; ++i)
        if (DatabaseEntry* entry = find_database(found[i], true)) entry->requested = true;
}

bool start_worker(int index) {
    BackgroundWorker worker;
    std::memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "mcp_analytics");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "mcp_jobs_worker_main");
    snprintf(worker.bgw_name, BGW_MAXLEN, "mcp_analytics job worker %d", index);
    snprintf(worker.bgw_type, BGW_MAXLEN, "mcp_analytics job worker");
    worker.bgw_main_arg = Int32GetDatum(index);
    worker.bgw_notify_pid = MyProcPid;
    BackgroundWorkerHandle* handle = nullptr;
    bool started = pg_call([&] { return RegisterDynamicBackgroundWorker(&worker, &handle); });
    handles[index] = started ? handle : nullptr;
    return started;
}

// Frees the slots of workers that are gone (also those that died before cleaning up).
void reap_workers() {
    for (int i = 0; i < kMaxWorkers; ++i) {
        if (handles[i] == nullptr) continue;
        pid_t pid = 0;
        BgwHandleStatus status = pg_call([&] { return GetBackgroundWorkerPid(handles[i], &pid); });
        if (status != BGWH_STOPPED) continue;
        {
            SpinGuard lock;
            WorkerSlot& slot = shared->slots[i];
            if (slot.state != kFree) {
                // It died without its exit callback: a job it held needs recovering.
                if (slot.busy)
                    if (DatabaseEntry* entry = find_database(slot.database, true))
                        entry->requested = true;
                slot = WorkerSlot{};
            }
        }
        pg_call([&] { pfree(handles[i]); });
        handles[i] = nullptr;
    }
}

// Starts workers for databases with due work, within mcp_analytics.job_workers. Returns how
// long to sleep before looking again.
long start_needed_workers() {
    int to_start[kMaxWorkers];
    int starting = 0;
    long nap_ms = kLauncherNapMs;
    TimestampTz now = GetCurrentTimestamp();
    {
        SpinGuard lock;
        int active = 0;
        for (const WorkerSlot& slot : shared->slots) active += slot.state != kFree;
        for (DatabaseEntry& entry : shared->databases) {
            if (entry.oid == InvalidOid) continue;
            bool due = entry.requested || (entry.wake_at != 0 && entry.wake_at <= now);
            if (!due) {
                if (entry.wake_at != 0)
                    nap_ms = std::min(nap_ms, (long)((entry.wake_at - now) / 1000) + 1);
                continue;
            }
            int workers = 0, available = 0;
            for (const WorkerSlot& slot : shared->slots) {
                if (slot.database != entry.oid || slot.state == kFree || slot.state == kExiting)
                    continue;
                ++workers;
                available += slot.state == kStarting || !slot.busy;
            }
            if (workers > 0 && available > 0) continue;  // that worker was woken and will look
            if (active >= std::min(jobs_settings::job_workers, kMaxWorkers)) continue;
            int free_index = -1;
            for (int i = 0; i < kMaxWorkers && free_index < 0; ++i)
                if (shared->slots[i].state == kFree && handles[i] == nullptr) free_index = i;
            if (free_index < 0) continue;
            WorkerSlot& slot = shared->slots[free_index];
            slot = WorkerSlot{};
            slot.state = kStarting;
            slot.database = entry.oid;
            entry.requested = false;
            entry.wake_at = 0;
            to_start[starting++] = free_index;
            ++active;
        }
    }
    for (int i = 0; i < starting; ++i) {
        if (start_worker(to_start[i])) continue;
        // No background worker slot free (max_worker_processes): try again shortly.
        SpinGuard lock;
        WorkerSlot& slot = shared->slots[to_start[i]];
        if (DatabaseEntry* entry = find_database(slot.database, true)) entry->requested = true;
        slot = WorkerSlot{};
        nap_ms = std::min(nap_ms, 1000L);
    }
    return nap_ms;
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
    for (;;) {
        reap_workers();
        long nap_ms = start_needed_workers();
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
    {
        SpinGuard lock;
        WorkerSlot& slot = shared->slots[my_slot];
        if (slot.pid == MyProcPid) {
            if (slot.busy)  // stopped mid-job: someone has to recover it
                if (DatabaseEntry* entry = find_database(slot.database, true))
                    entry->requested = true;
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
#if PG_VERSION_NUM >= 150000
    previous_shmem_request = shmem_request_hook;
    shmem_request_hook = shmem_request;
#else
    shmem_request();
#endif
    previous_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = shmem_startup;

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
    {
        SpinGuard lock;
        if (DatabaseEntry* entry = find_database(MyDatabaseId, true)) entry->requested = true;
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

void reload_config_if_asked() {
    if (!ConfigReloadPending) return;
    ConfigReloadPending = false;
    pg_call([] { ProcessConfigFile(PGC_SIGHUP); });
}

void wait(long timeout_ms) {
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
        info.role = slot.state == kStarting ? "worker (starting)" : "worker";
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
