#include "registry_generation.hpp"

#include "pg_guard.hpp"
#include "shared_struct.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "storage/spin.h"
#include "utils/snapmgr.h"
}

namespace mcp::ext::registry_generation {

namespace {

struct Shared {
    slock_t mutex;
    uint64 generation;
    TransactionId newest_writer;  // the last counted change's transaction
};

Shared* shared = nullptr;

// This backend's own change, counted when its transaction commits.
bool changed_here = false;
TransactionId writer = InvalidTransactionId;
bool callback_registered = false;

void create(void* bytes) { SpinLockInit(&static_cast<Shared*>(bytes)->mutex); }

void count_change() {
    SpinLockAcquire(&shared->mutex);
    ++shared->generation;
    if (!TransactionIdIsValid(shared->newest_writer) || TransactionIdFollows(writer, shared->newest_writer))
        shared->newest_writer = writer;
    SpinLockRelease(&shared->mutex);
}

void on_transaction_end(XactEvent event, void*) {
    if (!changed_here) return;
    switch (event) {
        // A prepared transaction is counted at PREPARE: until COMMIT PREPARED it is still
        // running, so no snapshot is trusted before the change is visible to it.
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
    writer = pg_call([] { return GetTopTransactionId(); });
    changed_here = true;
}

}  // namespace

void register_at_preload() {
    register_shared_struct("mcp_analytics registry generation", sizeof(Shared), create,
                           reinterpret_cast<void**>(&shared));
}

std::optional<std::uint64_t> current() {
    if (shared == nullptr || changed_here || !ActiveSnapshotSet()) return std::nullopt;
    const Snapshot snapshot = GetActiveSnapshot();
    SpinLockAcquire(&shared->mutex);
    const uint64 generation = shared->generation;
    const TransactionId newest_writer = shared->newest_writer;
    SpinLockRelease(&shared->mutex);
    if (TransactionIdIsValid(newest_writer) && !TransactionIdPrecedes(newest_writer, snapshot->xmin))
        return std::nullopt;
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
