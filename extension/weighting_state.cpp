#include "weighting_state.hpp"

#include "pg_guard.hpp"

extern "C" {
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif
}

#include <cstdio>
#include <cstring>
#include <string>

namespace mcp::ext::weighting {

namespace {

constexpr std::uint32_t kOccupied = 1;
constexpr std::uint32_t kReached = 2;
constexpr std::uint32_t kExcluded = 4;

void* allocate(MemoryContext context, std::size_t bytes) {
    return pg_call([&] {
        return MemoryContextAllocExtended(context, bytes, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    });
}

void release(void* pointer) {
    if (pointer != nullptr) pg_call([&] { pfree(pointer); });
}

std::string number_text(double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.15g", value);
    return buffer;
}

// A bytea holding a fixed header followed by `count` items.
template <typename Header, typename Item>
bytea* pack(const Header& header, const Item* items, std::uint64_t count) {
    const std::size_t bytes = sizeof(Header) + count * sizeof(Item);
    if (bytes > MaxAllocSize - VARHDRSZ)
        throw PgError(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                      "aggregate state too large to pass between parallel workers",
                      std::to_string(count) + " entries.",
                      "Disable parallel query for this statement "
                      "(SET max_parallel_workers_per_gather = 0).");
    auto* result = static_cast<bytea*>(pg_call([&] { return palloc(VARHDRSZ + bytes); }));
    SET_VARSIZE(result, VARHDRSZ + bytes);
    char* out = VARDATA(result);
    std::memcpy(out, &header, sizeof(Header));
    if (count > 0) std::memcpy(out + sizeof(Header), items, count * sizeof(Item));
    return result;
}

template <typename Header, typename Item>
const Item* unpack(const bytea* bytes, Header& header, std::uint64_t& count) {
    const std::size_t length = VARSIZE_ANY_EXHDR(bytes);
    const char* data = VARDATA_ANY(bytes);
    if (length < sizeof(Header) || (length - sizeof(Header)) % sizeof(Item) != 0)
        throw PgError(ERRCODE_DATA_CORRUPTED, "malformed weighted aggregate state",
                      std::to_string(length) + " bytes.");
    std::memcpy(&header, data, sizeof(Header));
    count = (length - sizeof(Header)) / sizeof(Item);
    return reinterpret_cast<const Item*>(data + sizeof(Header));
}

// ---- users hash table ------------------------------------------------------------------

std::uint64_t mix(std::uint64_t key) {  // a 64-bit finalizer: spreads sequential ids
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    key ^= key >> 33;
    return key;
}

UserEntry* slot_for(UserEntry* entries, std::uint64_t capacity, std::int64_t user_id) {
    std::uint64_t index = mix(static_cast<std::uint64_t>(user_id)) & (capacity - 1);
    while ((entries[index].flags & kOccupied) && entries[index].user_id != user_id)
        index = (index + 1) & (capacity - 1);
    return &entries[index];
}

void resize(ReachState& state, std::uint64_t capacity) {
    auto* entries = static_cast<UserEntry*>(allocate(state.context, capacity * sizeof(UserEntry)));
    for (std::uint64_t i = 0; i < state.capacity; ++i) {
        if (state.entries[i].flags & kOccupied)
            *slot_for(entries, capacity, state.entries[i].user_id) = state.entries[i];
    }
    release(state.entries);
    state.entries = entries;
    state.capacity = capacity;
}

[[noreturn]] void two_weights(std::int64_t user_id, const UserEntry& entry,
                              std::optional<double> weight) {
    auto shown = [](bool excluded, double value) {
        return excluded ? std::string("none") : number_text(value);
    };
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                  "user " + std::to_string(user_id) + " has two different weights",
                  "Seen: " + shown(entry.flags & kExcluded, entry.weight) + " and " +
                      shown(!weight || !usable_weight(*weight), weight.value_or(0.0)) + ".",
                  "A weight belongs to a user, not to an event: pass the user table's weight "
                  "column, joined on the user id.");
}

// Inserts or updates one user; `flags` carries kReached / kExcluded of this row.
void upsert(ReachState& state, std::int64_t user_id, double weight, std::uint32_t flags) {
    if ((state.size + 1) * 2 > state.capacity) resize(state, state.capacity * 2);
    UserEntry* entry = slot_for(state.entries, state.capacity, user_id);
    if (!(entry->flags & kOccupied)) {
        entry->user_id = user_id;
        entry->weight = weight;
        entry->flags = kOccupied | flags;
        ++state.size;
        return;
    }
    const bool was_excluded = entry->flags & kExcluded;
    const bool is_excluded = flags & kExcluded;
    if (was_excluded != is_excluded || (!is_excluded && entry->weight != weight))
        two_weights(user_id, *entry,
                    is_excluded ? std::optional<double>() : std::optional<double>(weight));
    entry->flags |= flags & kReached;
}

struct ReachHeader {
    std::int64_t design_n;
    std::int32_t reached_given;
    std::int32_t padding;
};

struct MomentHeader {
    MomentState state;
};

struct QuantileHeader {
    std::int64_t excluded;
    double q;
};

}  // namespace

// ---- design size -------------------------------------------------------------------------

void DesignSize::set(std::int64_t n, const char* aggregate) {
    if (n < 0)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                      std::string(aggregate) + ": design_n must not be negative",
                      "Got " + std::to_string(n) + ".",
                      "Pass the number of users with a positive weight in the whole user table.");
    if (value >= 0 && value != n)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                      std::string(aggregate) + ": design_n changed between rows",
                      "Got " + std::to_string(value) + " and " + std::to_string(n) + ".",
                      "design_n is the size of the whole design: the same on every row, e.g. "
                      "(SELECT count(*) FROM users WHERE weight > 0).");
    value = n;
}

void DesignSize::merge(const DesignSize& other, const char* aggregate) {
    if (other.value >= 0) set(other.value, aggregate);
}

// ---- moments -----------------------------------------------------------------------------

MomentState* new_moment_state(MemoryContext context) {
    return new (allocate(context, sizeof(MomentState))) MomentState();
}

bytea* serialize_moments(const MomentState& state) {
    return pack<MomentHeader, char>(MomentHeader{state}, nullptr, 0);
}

MomentState* deserialize_moments(const bytea* bytes) {
    MomentHeader header;
    std::uint64_t count = 0;
    unpack<MomentHeader, char>(bytes, header, count);
    MomentState* state = new_moment_state(CurrentMemoryContext);
    *state = header.state;
    return state;
}

// ---- reach -------------------------------------------------------------------------------

ReachState* new_reach_state(MemoryContext context) {
    auto* state = new (allocate(context, sizeof(ReachState))) ReachState();
    state->context = context;
    state->capacity = 1024;
    state->entries =
        static_cast<UserEntry*>(allocate(context, state->capacity * sizeof(UserEntry)));
    return state;
}

void reach_add(ReachState& state, std::int64_t user_id, std::optional<double> weight,
               bool reached) {
    const bool excluded = !weight || !usable_weight(*weight);
    upsert(state, user_id, excluded ? 0.0 : *weight,
           (excluded ? kExcluded : 0) | (reached ? kReached : 0));
}

void reach_merge(ReachState& into, const ReachState& from) {
    into.design_n.merge(from.design_n, "weighted_reach");
    into.reached_given = into.reached_given || from.reached_given;
    for (std::uint64_t i = 0; i < from.capacity; ++i) {
        const UserEntry& entry = from.entries[i];
        if (entry.flags & kOccupied)
            upsert(into, entry.user_id, entry.weight, entry.flags & (kReached | kExcluded));
    }
}

bytea* serialize_reach(const ReachState& state) {
    // Only the occupied entries travel; the receiver rebuilds its own table.
    auto* packed = static_cast<UserEntry*>(
        allocate(CurrentMemoryContext, (state.size + 1) * sizeof(UserEntry)));
    std::uint64_t count = 0;
    for (std::uint64_t i = 0; i < state.capacity; ++i)
        if (state.entries[i].flags & kOccupied) packed[count++] = state.entries[i];
    ReachHeader header{state.design_n.value, state.reached_given ? 1 : 0, 0};
    bytea* result = pack(header, packed, count);
    release(packed);
    return result;
}

ReachState* deserialize_reach(const bytea* bytes) {
    ReachHeader header;
    std::uint64_t count = 0;
    const UserEntry* entries = unpack<ReachHeader, UserEntry>(bytes, header, count);
    ReachState* state = new_reach_state(CurrentMemoryContext);
    state->design_n.value = header.design_n;
    state->reached_given = header.reached_given != 0;
    std::uint64_t capacity = state->capacity;
    while (capacity < count * 2 + 2) capacity *= 2;
    if (capacity != state->capacity) resize(*state, capacity);
    for (std::uint64_t i = 0; i < count; ++i) {
        UserEntry entry;
        std::memcpy(&entry, entries + i, sizeof entry);  // the bytea payload may be unaligned
        upsert(*state, entry.user_id, entry.weight, entry.flags & (kReached | kExcluded));
    }
    return state;
}

ReachTotals reach_totals(const ReachState& state) {
    ReachTotals totals;
    for (std::uint64_t i = 0; i < state.capacity; ++i) {
        const UserEntry& entry = state.entries[i];
        if (!(entry.flags & kOccupied)) continue;
        if (entry.flags & kExcluded) {
            ++totals.excluded_users;
            continue;
        }
        const bool reached = !state.reached_given || (entry.flags & kReached);
        totals.reached.add(reached ? 1.0 : 0.0, entry.weight);
        if (reached) {
            totals.reach.add(entry.weight);
            ++totals.reached_users;
        }
    }
    return totals;
}

// ---- quantile ----------------------------------------------------------------------------

QuantileState* new_quantile_state(MemoryContext context) {
    auto* state = new (allocate(context, sizeof(QuantileState))) QuantileState();
    state->context = context;
    return state;
}

void quantile_set_q(QuantileState& state, double q) {
    if (!(q >= 0.0 && q <= 1.0))
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                      "weighted_quantile: q must be between 0 and 1", "Got " + number_text(q) + ".",
                      "For the median pass 0.5.");
    if (state.q >= 0.0 && state.q != q)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "weighted_quantile: q changed between rows",
                      "Got " + number_text(state.q) + " and " + number_text(q) + ".",
                      "Pass one constant q per aggregate call.");
    state.q = q;
}

void quantile_add(QuantileState& state, double x, double weight) {
    if (state.size == state.capacity) {
        const std::uint64_t capacity = state.capacity == 0 ? 256 : state.capacity * 2;
        auto* values =
            static_cast<WeightedValue*>(allocate(state.context, capacity * sizeof(WeightedValue)));
        if (state.size > 0) std::memcpy(values, state.values, state.size * sizeof(WeightedValue));
        release(state.values);
        state.values = values;
        state.capacity = capacity;
    }
    state.values[state.size++] = WeightedValue{x, weight};
}

void quantile_merge(QuantileState& into, const QuantileState& from) {
    into.excluded += from.excluded;
    if (from.q >= 0.0) quantile_set_q(into, from.q);
    for (std::uint64_t i = 0; i < from.size; ++i)
        quantile_add(into, from.values[i].x, from.values[i].w);
}

bytea* serialize_quantile(const QuantileState& state) {
    return pack(QuantileHeader{state.excluded, state.q}, state.values, state.size);
}

QuantileState* deserialize_quantile(const bytea* bytes) {
    QuantileHeader header;
    std::uint64_t count = 0;
    const WeightedValue* values = unpack<QuantileHeader, WeightedValue>(bytes, header, count);
    QuantileState* state = new_quantile_state(CurrentMemoryContext);
    state->excluded = header.excluded;
    state->q = header.q;
    for (std::uint64_t i = 0; i < count; ++i) {
        WeightedValue value;
        std::memcpy(&value, values + i, sizeof value);
        quantile_add(*state, value.x, value.w);
    }
    return state;
}

}  // namespace mcp::ext::weighting
