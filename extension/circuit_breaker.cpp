#include "circuit_breaker.hpp"

#include "pg_guard.hpp"
#include "shared_struct.hpp"
#include "pg_values.hpp"
#include "utf8_text.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
}

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstring>

namespace mcp::ext::circuit_breaker {

namespace {

int failures_to_open = 5;   // mcp_analytics.breaker_failures (0: never open)
int cooldown_s = 30;        // mcp_analytics.breaker_cooldown

constexpr int kSlots = 256;
constexpr size_t kErrorBytes = 240;

// One dataset of one database that failed at least once; recycled oldest first.
struct Slot {
    Oid database;
    int32 dataset_id;
    int32 failures;
    bool probing;              // the one call let through after the cooldown is running
    TimestampTz last_failure;
    TimestampTz open_until;
    TimestampTz probe_started;
    char last_error[kErrorBytes];
};

struct Shared {
    slock_t mutex;
    Slot slots[kSlots];
};

Shared* shared = nullptr;

// Holds the spinlock for a few instructions; nothing inside may ereport or allocate.
class SpinGuard {
public:
    SpinGuard() { SpinLockAcquire(&shared->mutex); }
    ~SpinGuard() { SpinLockRelease(&shared->mutex); }
    SpinGuard(const SpinGuard&) = delete;
    SpinGuard& operator=(const SpinGuard&) = delete;
};

Slot* find(int dataset_id) {
    for (Slot& slot : shared->slots)
        if (slot.database == MyDatabaseId && slot.dataset_id == dataset_id) return &slot;
    return nullptr;
}

Slot* find_or_take(int dataset_id) {
    if (Slot* slot = find(dataset_id)) return slot;
    Slot* oldest = &shared->slots[0];
    for (Slot& slot : shared->slots) {
        if (slot.database == InvalidOid) { oldest = &slot; break; }
        if (slot.last_failure < oldest->last_failure) oldest = &slot;
    }
    std::memset(static_cast<void*>(oldest), 0, sizeof(Slot));
    oldest->database = MyDatabaseId;
    oldest->dataset_id = dataset_id;
    return oldest;
}

// Cuts at a character boundary so the stored message stays valid UTF-8.
void copy_message(char* target, const std::string& message) {
    const size_t length = utf8_cut(message.data(), message.size(), kErrorBytes - 1);
    std::memcpy(target, message.data(), length);
    target[length] = '\0';
}

void create(void* bytes) { SpinLockInit(&static_cast<Shared*>(bytes)->mutex); }

}  // namespace

Verdict check(int dataset_id) {
    Verdict verdict;
    if (shared == nullptr || failures_to_open <= 0) return verdict;
    const TimestampTz now = GetCurrentTimestamp();
    SpinGuard lock;
    Slot* slot = find(dataset_id);
    if (slot == nullptr || slot->failures < failures_to_open) return verdict;
    verdict.failures = slot->failures;
    verdict.last_error = slot->last_error;
    // After the cooldown, one call probes; a probe that never reported back (its backend
    // died) is replaced after another cooldown.
    const TimestampTz cooldown_us = static_cast<TimestampTz>(cooldown_s) * USECS_PER_SEC;
    if (now >= slot->open_until && (!slot->probing || now - slot->probe_started > cooldown_us)) {
        slot->probing = true;
        slot->probe_started = now;
        return verdict;
    }
    verdict.allowed = false;
    const TimestampTz next = slot->probing ? slot->probe_started + cooldown_us : slot->open_until;
    verdict.retry_in_s = std::max<double>(1, static_cast<double>(next - now) / USECS_PER_SEC);
    return verdict;
}

void record(int dataset_id, bool reachable, const std::string& error_message) {
    if (shared == nullptr) return;
    const TimestampTz now = GetCurrentTimestamp();
    SpinGuard lock;
    if (reachable) {
        if (Slot* slot = find(dataset_id)) {
            slot->failures = 0;
            slot->probing = false;
            slot->open_until = 0;
        }
        return;
    }
    Slot* slot = find_or_take(dataset_id);
    slot->failures += 1;
    slot->probing = false;
    slot->last_failure = now;
    copy_message(slot->last_error, error_message);
    if (failures_to_open > 0 && slot->failures >= failures_to_open)
        slot->open_until = now + static_cast<TimestampTz>(cooldown_s) * USECS_PER_SEC;
}

std::vector<Health> snapshot() {
    std::vector<Health> health;
    if (shared == nullptr) return health;
    const TimestampTz now = GetCurrentTimestamp();
    Slot copies[kSlots];
    {
        SpinGuard lock;
        std::memcpy(static_cast<void*>(copies), static_cast<const void*>(shared->slots), sizeof copies);
    }
    for (const Slot& slot : copies) {
        if (slot.database != MyDatabaseId || slot.failures == 0) continue;
        Health entry;
        entry.dataset_id = slot.dataset_id;
        entry.failures = slot.failures;
        entry.open = failures_to_open > 0 && slot.failures >= failures_to_open &&
                     (now < slot.open_until || slot.probing);
        entry.last_failure_us = slot.last_failure;
        entry.open_until_us = slot.open_until;
        entry.last_error = slot.last_error;
        health.push_back(std::move(entry));
    }
    return health;
}

void define_settings() {
    DefineCustomIntVariable(
        "mcp_analytics.breaker_failures",
        "Connection failures in a row after which a dataset is marked unhealthy.",
        "Calls to an unhealthy dataset are refused at once until mcp_analytics.breaker_cooldown "
        "has passed; then one call probes it. 0 turns the circuit breaker off.",
        &failures_to_open, 5, 0, 1000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "mcp_analytics.breaker_cooldown",
        "How long calls to an unhealthy dataset are refused before one probes it again.",
        nullptr, &cooldown_s, 30, 1, 3600, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

void register_at_preload() {
    register_shared_struct("mcp_analytics circuit breaker", sizeof(Shared), create, reinterpret_cast<void**>(&shared));
}

namespace {

// mcp._dataset_breakers(): the breaker's view as a JSON array, for mcp.dataset_health().
Datum dataset_breakers(FunctionCallInfo) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> json(buffer);
    json.StartArray();
    for (const Health& entry : snapshot()) {
        json.StartObject();
        json.Key("dataset_id");
        json.Int(entry.dataset_id);
        json.Key("failures");
        json.Int(entry.failures);
        json.Key("open");
        json.Bool(entry.open);
        json.Key("last_failure_unix_ms");
        json.Double(static_cast<double>(entry.last_failure_us) / 1000.0 +
                    (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * 86400000.0);
        json.Key("open_until_unix_ms");
        json.Double(entry.open_until_us == 0
                        ? 0
                        : static_cast<double>(entry.open_until_us) / 1000.0 +
                              (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * 86400000.0);
        json.Key("last_error");
        json.String(entry.last_error.c_str());
        json.EndObject();
    }
    json.EndArray();
    return jsonb_datum(buffer.GetString());
}

}  // namespace

}  // namespace mcp::ext::circuit_breaker

extern "C" {
PG_FUNCTION_INFO_V1(mcp_dataset_breakers);
Datum mcp_dataset_breakers(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::circuit_breaker::dataset_breakers(fcinfo); });
}
}
