#include "query_log_queue.hpp"

#include "dynamic_worker.hpp"
#include "executor_settings.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"
#include "query_log.hpp"

extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <csignal>
#include <cstring>

namespace mcp::ext::query_log_queue {

namespace {

constexpr int kQueues = 8;                 // databases with a queue at the same time
constexpr long kWriterIdleMs = 1000;       // an idle writer leaves: DROP DATABASE waits for it
// A sleeping writer looks at its queue this often. Callers wake it at once only when the
// queue is half full or when they wait for their row: a wake-up costs a signal, and rows
// gathered over a few milliseconds are written in one statement.
constexpr long kGatherMs = 5;
constexpr long kStartPatienceMs = 5000;    // a writer not started by then is presumed lost
constexpr long kStoppedMs = 10000;         // after a stop, callers write their own rows this long
constexpr long kFlushPatienceMs = 10000;   // mcp.flush_query_log() gives up after this
const char* const kLockName = "mcp_analytics query log";

int queue_kb = 256;  // mcp_analytics.query_log_queue

enum class State : uint8 {
    none,      // no writer: the next entry starts one
    starting,  // registered with the postmaster, not yet running
    running,
    stopped,   // the writer left on SIGTERM: callers write their own rows for a while
};

struct Queue {
    Oid database;  // InvalidOid: unused
    State state;
    TimestampTz state_since;
    int writer_pid;
    Latch* writer_latch;
    bool writer_sleeping;  // set its latch to wake it; an awake writer looks again anyway
    uint64 head;           // bytes ever put into the ring
    uint64 tail;           // bytes ever taken out of it
    uint64 queued;         // entries ever queued: an entry's sequence number
    uint64 written;        // entries ever committed, in queue order
    uint64 written_by_callers;  // entries callers wrote themselves because this queue could not take them
    ConditionVariable written_changed;
};

struct Shared {
    LWLock* lock;
    Size ring_bytes;
    Size stride;
    // kQueues × (Queue, ring of ring_bytes) follow.
};

Shared* shared = nullptr;
shmem_startup_hook_type previous_shmem_startup = nullptr;
#if PG_VERSION_NUM >= 150000
shmem_request_hook_type previous_shmem_request = nullptr;
#endif
bool in_writer = false;

Size ring_bytes_setting() { return static_cast<Size>(queue_kb) * 1024; }
Size stride_for(Size ring_bytes) { return MAXALIGN(sizeof(Queue)) + MAXALIGN(ring_bytes); }
Size shared_size() {
    return MAXALIGN(sizeof(Shared)) + kQueues * stride_for(ring_bytes_setting());
}

Queue* queue_at(int index) {
    char* base = reinterpret_cast<char*>(shared) + MAXALIGN(sizeof(Shared));
    return reinterpret_cast<Queue*>(base + index * shared->stride);
}
char* ring_of(Queue* queue) { return reinterpret_cast<char*>(queue) + MAXALIGN(sizeof(Queue)); }
int index_of(Queue* queue) {
    for (int i = 0; i < kQueues; ++i)
        if (queue_at(i) == queue) return i;
    return -1;
}

void shmem_request() {
#if PG_VERSION_NUM >= 150000
    if (previous_shmem_request != nullptr) previous_shmem_request();
#endif
    if (queue_kb <= 0) return;
    RequestAddinShmemSpace(shared_size());
    RequestNamedLWLockTranche(kLockName, 1);
}

void shmem_startup() {
    if (previous_shmem_startup != nullptr) previous_shmem_startup();
    if (queue_kb <= 0) return;
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    shared = static_cast<Shared*>(ShmemInitStruct("mcp_analytics query log queue", shared_size(), &found));
    if (!found) {
        std::memset(static_cast<void*>(shared), 0, MAXALIGN(sizeof(Shared)));
        shared->lock = &(GetNamedLWLockTranche(kLockName))->lock;
        shared->ring_bytes = ring_bytes_setting();
        shared->stride = stride_for(shared->ring_bytes);
        for (int i = 0; i < kQueues; ++i) {
            Queue* queue = queue_at(i);
            std::memset(static_cast<void*>(queue), 0, sizeof(Queue));
            ConditionVariableInit(&queue->written_changed);
        }
    }
    LWLockRelease(AddinShmemInitLock);
}

// --- under shared->lock ------------------------------------------------------------------

// A queue with no writer and nothing in it can go to another database (its own may have
// been dropped, or its writer never started).
bool reusable(const Queue* queue) {
    return queue->database == InvalidOid ||
           (queue->state == State::none && queue->head == queue->tail && queue->queued == queue->written);
}

Queue* find_queue(Oid database, bool claim) {
    Queue* unused = nullptr;
    for (int i = 0; i < kQueues; ++i) {
        Queue* queue = queue_at(i);
        if (queue->database == database) return queue;
        if (unused == nullptr && reusable(queue)) unused = queue;
    }
    if (!claim || unused == nullptr) return nullptr;
    unused->database = database;
    unused->state = State::none;
    unused->head = unused->tail = 0;
    unused->queued = unused->written = unused->written_by_callers = 0;
    return unused;
}

// A writer that never came, or a stop long past, no longer holds the queue back.
void forget_stale_state(Queue* queue, TimestampTz now) {
    if ((queue->state == State::starting &&
         TimestampDifferenceExceeds(queue->state_since, now, kStartPatienceMs)) ||
        (queue->state == State::stopped &&
         TimestampDifferenceExceeds(queue->state_since, now, kStoppedMs)))
        queue->state = State::none;
}

// The latch to set to wake the queue's writer, if it sleeps (then it counts as awake).
Latch* writer_to_wake(Queue* queue) {
    if (!queue->writer_sleeping) return nullptr;
    queue->writer_sleeping = false;
    return queue->writer_latch;
}

Size used_bytes(const Queue* queue) { return static_cast<Size>(queue->head - queue->tail); }

void ring_copy_in(Queue* queue, const void* data, Size length) {
    const Size size = shared->ring_bytes;
    const Size at = static_cast<Size>(queue->head % size);
    const Size first = Min(length, size - at);
    std::memcpy(ring_of(queue) + at, data, first);
    std::memcpy(ring_of(queue), static_cast<const char*>(data) + first, length - first);
    queue->head += length;
}

void ring_copy_out(Queue* queue, void* target, Size length) {
    const Size size = shared->ring_bytes;
    const Size at = static_cast<Size>(queue->tail % size);
    const Size first = Min(length, size - at);
    std::memcpy(target, ring_of(queue) + at, first);
    std::memcpy(static_cast<char*>(target) + first, ring_of(queue), length - first);
    queue->tail += length;
}

// Takes every queued entry out of the ring as one JSON array; `starts` and `ends` (palloc'd,
// n entries) locate each entry in it. Plain C: it runs in the writer.
int take_all(Queue* queue, StringInfo array, int** starts, int** ends) {
    int count = 0, capacity = 64;
    *starts = static_cast<int*>(palloc(capacity * sizeof(int)));
    *ends = static_cast<int*>(palloc(capacity * sizeof(int)));
    appendStringInfoChar(array, '[');
    while (queue->head != queue->tail) {
        uint32 length = 0;
        ring_copy_out(queue, &length, sizeof length);
        if (count > 0) appendStringInfoChar(array, ',');
        enlargeStringInfo(array, static_cast<int>(length));
        if (count == capacity) {
            capacity *= 2;
            *starts = static_cast<int*>(repalloc(*starts, capacity * sizeof(int)));
            *ends = static_cast<int*>(repalloc(*ends, capacity * sizeof(int)));
        }
        (*starts)[count] = array->len;
        ring_copy_out(queue, array->data + array->len, length);
        array->len += static_cast<int>(length);
        array->data[array->len] = '\0';
        (*ends)[count] = array->len;
        ++count;
    }
    appendStringInfoChar(array, ']');
    return count;
}

// --- writer start ----------------------------------------------------------------------

bool register_writer(int index) {
    BackgroundWorkerHandle* handle =
        start_dynamic_worker("mcp_query_log_queue_writer_main", "mcp_analytics query log writer",
                             "mcp_analytics query log writer", Int32GetDatum(index));
    return handle != nullptr;
}

// Starts this database's writer if none runs or is starting. False when it cannot be started
// (no background worker slot, or the writer stopped for shutdown).
bool ensure_writer(Queue** found) {
    int index = -1;
    bool usable = false;
    pg_call([&] {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        Queue* queue = find_queue(MyDatabaseId, true);
        if (queue != nullptr) {
            forget_stale_state(queue, GetCurrentTimestamp());
            if (queue->state == State::none) {
                queue->state = State::starting;
                queue->state_since = GetCurrentTimestamp();
                index = index_of(queue);
            }
        }
        usable = queue != nullptr && queue->state != State::stopped;
        LWLockRelease(shared->lock);
        *found = queue;
    });
    if (!usable) return false;
    if (index < 0 || register_writer(index)) return true;
    pg_call([&] {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        if ((*found)->state == State::starting) (*found)->state = State::none;
        LWLockRelease(shared->lock);
    });
    return false;
}

// --- waiting ----------------------------------------------------------------------------

// Wakes this database's writer if it sleeps: someone waits for its rows.
void wake_writer() {
    Latch* wake = nullptr;
    pg_call([&] {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        Queue* queue = find_queue(MyDatabaseId, false);
        if (queue != nullptr) wake = writer_to_wake(queue);
        LWLockRelease(shared->lock);
        if (wake != nullptr) SetLatch(wake);
    });
}

enum class Wait { written, timed_out, no_writer };

// Sleeps until entry `sequence` of this database's queue is committed, the deadline passes,
// or no writer is left to commit it.
Wait sleep_until_written(uint64 sequence, TimestampTz deadline, Queue** found) {
    Wait outcome = Wait::timed_out;
    pg_call([&] {
        for (;;) {
            LWLockAcquire(shared->lock, LW_SHARED);
            Queue* queue = find_queue(MyDatabaseId, false);
            const bool done = queue == nullptr || queue->written >= sequence;
            const bool orphaned = queue != nullptr && !done &&
                                  (queue->state == State::none || queue->state == State::stopped ||
                                   (queue->state == State::starting &&
                                    TimestampDifferenceExceeds(queue->state_since, GetCurrentTimestamp(),
                                                               kStartPatienceMs)));
            LWLockRelease(shared->lock);
            *found = queue;
            if (done) { outcome = Wait::written; break; }
            if (orphaned) { outcome = Wait::no_writer; break; }
            const TimestampTz now = GetCurrentTimestamp();
            if (now >= deadline) break;
            long remaining = static_cast<long>((deadline - now) / 1000) + 1;
            ConditionVariableTimedSleep(&queue->written_changed, Min(remaining, 100L), PG_WAIT_EXTENSION);
        }
        ConditionVariableCancelSleep();
    });
    return outcome;
}

}  // namespace

void define_settings() {
    DefineCustomIntVariable(
        "mcp_analytics.query_log_queue",
        "Shared memory per database for query-log rows waiting for the log writer.",
        "A call whose transaction writes nothing else queues its log row here; a background "
        "worker per database inserts the queued rows together. 0 turns the queue off: every "
        "call inserts its own row. Needs shared_preload_libraries.",
        &queue_kb, 256, 0, 64 * 1024, PGC_POSTMASTER, GUC_UNIT_KB, nullptr, nullptr, nullptr);
}

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
}

bool enabled() { return shared != nullptr && !in_writer && MyDatabaseId != InvalidOid; }

std::optional<std::uint64_t> enqueue(const std::string& entry_json, bool wake_now) {
    if (!enabled()) return std::nullopt;
    const Size needed = sizeof(uint32) + entry_json.size();
    if (needed > shared->ring_bytes / 2) return std::nullopt;
    std::optional<std::uint64_t> sequence;
    bool writer_missing = false;
    // Under the lock: the entry goes in when a writer runs or is starting. A queue half full
    // (or full: the caller writes its own row meanwhile) wakes its writer.
    auto put = [&] {
        Latch* wake = nullptr;
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        Queue* queue = find_queue(MyDatabaseId, true);
        if (queue != nullptr) {
            forget_stale_state(queue, GetCurrentTimestamp());
            writer_missing = queue->state == State::none;
            if ((queue->state == State::running || queue->state == State::starting) &&
                shared->ring_bytes - used_bytes(queue) >= needed) {
                const uint32 length = static_cast<uint32>(entry_json.size());
                ring_copy_in(queue, &length, sizeof length);
                ring_copy_in(queue, entry_json.data(), entry_json.size());
                sequence = ++queue->queued;
            }
            if (wake_now || !sequence || used_bytes(queue) >= shared->ring_bytes / 2)
                wake = writer_to_wake(queue);
        }
        LWLockRelease(shared->lock);
        if (wake != nullptr) SetLatch(wake);
    };
    pg_call(put);
    if (writer_missing) {
        Queue* queue = nullptr;
        if (ensure_writer(&queue)) pg_call(put);
    }
    return sequence;
}

void count_written_by_caller(long entries) {
    if (!enabled() || entries <= 0) return;
    pg_call([&] {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        if (Queue* queue = find_queue(MyDatabaseId, false)) queue->written_by_callers += static_cast<uint64>(entries);
        LWLockRelease(shared->lock);
    });
}

bool wait_written(std::uint64_t sequence, long timeout_ms) {
    if (!enabled()) return true;
    Queue* queue = nullptr;
    const TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
    return sleep_until_written(sequence, deadline, &queue) == Wait::written;
}

namespace {

// mcp.flush_query_log(): waits until every row queued so far for this database is written.
Datum flush_query_log(FunctionCallInfo) {
    if (!enabled()) return Int64GetDatum(0);
    uint64 target = 0, pending = 0;
    Queue* queue = nullptr;
    pg_call([&] {
        LWLockAcquire(shared->lock, LW_SHARED);
        queue = find_queue(MyDatabaseId, false);
        if (queue != nullptr) {
            target = queue->queued;
            pending = queue->queued - queue->written;
        }
        LWLockRelease(shared->lock);
    });
    if (pending == 0) return Int64GetDatum(0);
    const TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kFlushPatienceMs);
    wake_writer();
    for (;;) {
        const Wait outcome = sleep_until_written(target, deadline, &queue);
        if (outcome == Wait::written) break;
        const bool past_deadline = GetCurrentTimestamp() >= deadline;
        if (outcome == Wait::no_writer && !past_deadline) {
            // Start one; when none can start (no worker slot), try again shortly. The rows
            // stay queued either way: writing them here could lose them with this transaction.
            Queue* found = nullptr;
            if (!ensure_writer(&found))
                pg_call([] {
                    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100, PG_WAIT_EXTENSION);
                    ResetLatch(MyLatch);
                    CHECK_FOR_INTERRUPTS();
                });
            continue;
        }
        pg_call([&] {
            ereport(WARNING, (errmsg("the query log writer has not written %lu queued rows after %ld s",
                                     static_cast<unsigned long>(pending), kFlushPatienceMs / 1000),
                              errhint("They stay queued for the writer; see the server log for its errors.")));
        });
        break;
    }
    return Int64GetDatum(static_cast<int64>(pending));
}

// mcp.query_log_queue(): the queue of this database, for monitoring and tests.
Datum query_log_queue_status(FunctionCallInfo) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> json(buffer);
    json.StartObject();
    json.Key("enabled");
    json.Bool(shared != nullptr);
    if (shared != nullptr) {
        Queue copy{};
        bool found = false;
        pg_call([&] {
            LWLockAcquire(shared->lock, LW_SHARED);
            if (Queue* queue = find_queue(MyDatabaseId, false)) {
                std::memcpy(static_cast<void*>(&copy), queue, sizeof copy);
                found = true;
            }
            LWLockRelease(shared->lock);
        });
        static const char* const states[] = {"none", "starting", "running", "stopped"};
        json.Key("capacity_bytes");
        json.Uint64(shared->ring_bytes);
        json.Key("used_bytes");
        json.Uint64(found ? used_bytes(&copy) : 0);
        json.Key("queued");
        json.Uint64(found ? copy.queued : 0);
        json.Key("written");
        json.Uint64(found ? copy.written : 0);
        json.Key("pending");
        json.Uint64(found ? copy.queued - copy.written : 0);
        json.Key("written_by_callers");
        json.Uint64(found ? copy.written_by_callers : 0);
        json.Key("writer");
        json.String(found ? states[static_cast<int>(copy.state)] : "none");
        json.Key("writer_pid");
        if (found && copy.writer_pid > 0)
            json.Int(copy.writer_pid);
        else
            json.Null();
    }
    json.EndObject();
    return jsonb_datum(buffer.GetString());
}

}  // namespace

}  // namespace mcp::ext::query_log_queue

extern "C" {
PG_FUNCTION_INFO_V1(mcp_flush_query_log);
Datum mcp_flush_query_log(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::query_log_queue::flush_query_log(fcinfo); });
}
PG_FUNCTION_INFO_V1(mcp_query_log_queue);
Datum mcp_query_log_queue(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::query_log_queue::query_log_queue_status(fcinfo); });
}
}

// --- the writer: plain PostgreSQL code, no C++ objects (an error here ends the process) ---

namespace {

using mcp::ext::query_log_queue::Queue;
using mcp::ext::query_log_queue::State;
namespace q = mcp::ext::query_log_queue;

volatile sig_atomic_t stop_requested = false;
int writer_index = -1;

void on_sigterm(SIGNAL_ARGS) {
    int saved_errno = errno;
    stop_requested = true;
    SetLatch(MyLatch);
    errno = saved_errno;
}

// However the writer leaves, the queue no longer counts on it.
void writer_exit(int, Datum) {
    if (q::shared == nullptr || writer_index < 0) return;
    LWLockReleaseAll();
    LWLockAcquire(q::shared->lock, LW_EXCLUSIVE);
    Queue* queue = q::queue_at(writer_index);
    if (queue->writer_pid == MyProcPid) {
        queue->state = stop_requested ? State::stopped : State::none;
        queue->state_since = GetCurrentTimestamp();
        queue->writer_pid = 0;
        queue->writer_latch = nullptr;
        queue->writer_sleeping = false;
    }
    LWLockRelease(q::shared->lock);
    ConditionVariableBroadcast(&queue->written_changed);
}

// One INSERT of a JSON array of entries in a subtransaction: a bad batch is rolled back
// alone and reported, the writer goes on.
bool insert_guarded(SPIPlanPtr plan, const char* array_json) {
    MemoryContext context = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    volatile bool ok = true;
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(context);
    PG_TRY();
    {
        Datum value = CStringGetTextDatum(array_json);
        SPI_execute_plan(plan, &value, nullptr, false, 0);
        ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(context);
        CurrentResourceOwner = owner;
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(context);
        ErrorData* error = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(context);
        CurrentResourceOwner = owner;
        ereport(WARNING, (errmsg("mcp_analytics query log writer could not insert queued rows: %s",
                                 error->message)));
        FreeErrorData(error);
        ok = false;
    }
    PG_END_TRY();
    return ok;
}

SPIPlanPtr insert_plan() {
    static SPIPlanPtr plan = nullptr;
    if (plan != nullptr) return plan;
    bool is_null = true;
    const bool updated = SPI_execute(mcp::ext::query_log::updated_schema_sql(), true, 1) == SPI_OK_SELECT &&
                         SPI_processed == 1 &&
                         DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null)) &&
                         !is_null;
    Oid type = TEXTOID;
    plan = SPI_prepare(mcp::ext::query_log::insert_sql(updated), 1, &type);
    if (plan == nullptr) elog(ERROR, "could not prepare the query log INSERT");
    SPI_keepplan(plan);
    return plan;
}

// Inserts one batch in one transaction; when the batch fails as a whole, each entry alone.
void write_batch(StringInfo array, const int* starts, const int* ends, int count) {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "mcp_analytics: writing queued query log rows");
    SPIPlanPtr plan = insert_plan();
    if (!insert_guarded(plan, array->data) && count > 1) {
        StringInfoData one;
        initStringInfo(&one);
        for (int i = 0; i < count; ++i) {
            resetStringInfo(&one);
            appendStringInfoChar(&one, '[');
            appendBinaryStringInfo(&one, array->data + starts[i], ends[i] - starts[i]);
            appendStringInfoChar(&one, ']');
            insert_guarded(plan, one.data);
        }
        pfree(one.data);
    }
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
}

}  // namespace

extern "C" PGDLLEXPORT void mcp_query_log_queue_writer_main(Datum argument);

void mcp_query_log_queue_writer_main(Datum argument) {
    writer_index = DatumGetInt32(argument);
    pqsignal(SIGTERM, on_sigterm);
    BackgroundWorkerUnblockSignals();
    if (q::shared == nullptr || writer_index < 0 || writer_index >= q::kQueues) proc_exit(0);
    q::in_writer = true;

    Queue* queue = q::queue_at(writer_index);
    LWLockAcquire(q::shared->lock, LW_EXCLUSIVE);
    const Oid database = queue->database;
    const bool mine = database != InvalidOid && queue->state == State::starting;
    if (mine) {
        queue->state = State::running;
        queue->state_since = GetCurrentTimestamp();
        queue->writer_pid = MyProcPid;
        queue->writer_latch = MyLatch;
        queue->writer_sleeping = false;
    }
    LWLockRelease(q::shared->lock);
    if (!mine) proc_exit(0);
    before_shmem_exit(writer_exit, 0);

    BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
    // As for a call that logs itself: a crash may lose the last moment of rows, never other data.
    if (mcp::ext::executor_settings::async_log_commit)
        SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
    MemoryContext batch_context =
        AllocSetContextCreate(TopMemoryContext, "mcp_analytics query log batch", ALLOCSET_DEFAULT_SIZES);

    TimestampTz idle_since = GetCurrentTimestamp();
    for (;;) {
        // Absorbs barriers: DROP DATABASE elsewhere waits until every process has. (SIGTERM
        // only sets stop_requested.)
        CHECK_FOR_INTERRUPTS();
        MemoryContext previous = MemoryContextSwitchTo(batch_context);
        StringInfoData array;
        initStringInfo(&array);
        int* starts = nullptr;
        int* ends = nullptr;
        int count = 0;
        bool leave = false;
        long sleep_ms = 0;

        LWLockAcquire(q::shared->lock, LW_EXCLUSIVE);
        if (queue->head != queue->tail) {
            count = q::take_all(queue, &array, &starts, &ends);
            queue->writer_sleeping = false;
        } else if (stop_requested) {
            leave = true;  // writer_exit marks the queue stopped: callers write their own rows
        } else {
            const TimestampTz now = GetCurrentTimestamp();
            if (TimestampDifferenceExceeds(idle_since, now, q::kWriterIdleMs)) {
                // Nothing to write for a while: give the queue (and the database) back.
                queue->writer_pid = 0;
                queue->writer_latch = nullptr;
                queue->writer_sleeping = false;
                queue->state = State::none;
                queue->database = InvalidOid;
                leave = true;
            } else {
                queue->writer_sleeping = true;
                sleep_ms = Min(q::kGatherMs, q::kWriterIdleMs - static_cast<long>((now - idle_since) / 1000));
            }
        }
        LWLockRelease(q::shared->lock);
        MemoryContextSwitchTo(previous);

        if (leave) break;
        if (count > 0) {
            write_batch(&array, starts, ends, count);
            LWLockAcquire(q::shared->lock, LW_EXCLUSIVE);
            queue->written += static_cast<uint64>(count);
            LWLockRelease(q::shared->lock);
            ConditionVariableBroadcast(&queue->written_changed);
            idle_since = GetCurrentTimestamp();
        } else {
            (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, Max(sleep_ms, 1L),
                             PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
        }
        MemoryContextReset(batch_context);
    }
    proc_exit(0);
}
