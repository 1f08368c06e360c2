#include "registry_generation.hpp"

#include "pg_guard.hpp"
#include "shared_struct.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "commands/trigger.h"
#include "storage/spin.h"
#include "utils/snapmgr.h"
}

namespace mcp::ext::registry_generation {

namespace {

struct Shared {
    slock_t mutex;
    uint64 generation;
    // The newest transaction counted, as a full id (no wraparound). Unset after a start:
    // then the next transaction id, so that transactions prepared before a restart, whose
    // COMMIT PREPARED is counted nowhere, are not trusted either until they end.
    FullTransactionId newest_writer;
};

Shared* shared = nullptr;

// This backend's own change, counted when its transaction commits.
bool changed_here = false;
FullTransactionId writer = InvalidFullTransactionId;
bool callback_registered = false;

void create(void* bytes) { SpinLockInit(&static_cast<Shared*>(bytes)->mutex); }

void count_change() {
    SpinLockAcquire(&shared->mutex);
    ++shared->generation;
    if (FullTransactionIdFollows(writer, shared->newest_writer)) shared->newest_writer = writer;
    SpinLockRelease(&shared->mutex);
}

// Counted twice: before the commit, while the writer still runs (so a snapshot that sees the
// change is never given a generation from before it), and after, when it is visible (so a
// reader that read between the two, with a snapshot from before the change, reads again).
void on_transaction_end(XactEvent event, void*) {
    if (!changed_here) return;
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PRE_PREPARE:
            count_change();
            return;
        // A prepared transaction still runs until COMMIT PREPARED: no snapshot that could
        // miss it is trusted meanwhile, since its id stays the newest or older than xmin.
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_PREPARE:
            count_change();
            changed_here = false;
            return;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            changed_here = false;
            return;
        default:
            return;
    }
}

void note_change() {
    if (shared == nullptr) return;
    if (!callback_registered) {
        pg_call([] { RegisterXactCallback(on_transaction_end, nullptr); });
        callback_registered = true;
    }
    writer = pg_call([] { return GetTopFullTransactionId(); });
    changed_here = true;
}

// The snapshot's xmin as a full id, relative to the next transaction id.
FullTransactionId full_xmin(TransactionId xmin, FullTransactionId next) {
    const uint32 epoch = EpochFromFullTransactionId(next);
    FullTransactionId full = FullTransactionIdFromEpochAndXid(epoch, xmin);
    if (FullTransactionIdFollows(full, next) && epoch > 0) full = FullTransactionIdFromEpochAndXid(epoch - 1, xmin);
    return full;
}

}  // namespace

void register_at_preload() {
    register_shared_struct("mcp_analytics registry generation", sizeof(Shared), create,
                           reinterpret_cast<void**>(&shared));
}

std::optional<std::uint64_t> current() {
    if (shared == nullptr || changed_here) return std::nullopt;
    // A standby replays changes without triggers: it keeps nothing. (Callers hold C++
    // objects: the PostgreSQL calls go through the guard.)
    bool usable = false;
    TransactionId xmin = InvalidTransactionId;
    FullTransactionId next = InvalidFullTransactionId;
    pg_call([&] {
        usable = ActiveSnapshotSet() && !RecoveryInProgress();
        if (!usable) return;
        xmin = GetActiveSnapshot()->xmin;
        next = ReadNextFullTransactionId();
    });
    if (!usable) return std::nullopt;
    SpinLockAcquire(&shared->mutex);
    if (!FullTransactionIdIsValid(shared->newest_writer)) shared->newest_writer = next;
    const uint64 generation = shared->generation;
    const FullTransactionId newest_writer = shared->newest_writer;
    SpinLockRelease(&shared->mutex);
    if (!FullTransactionIdPrecedes(newest_writer, full_xmin(xmin, next))) return std::nullopt;
    return generation;
}

namespace {

Datum registry_changed(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw PgError(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                      "mcp._registry_changed() is a trigger function");
    note_change();
    return PointerGetDatum(nullptr);
}

}  // namespace

}  // namespace mcp::ext::registry_generation

extern "C" {
PG_FUNCTION_INFO_V1(mcp_registry_changed);
Datum mcp_registry_changed(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::registry_generation::registry_changed(fcinfo); });
}
}
