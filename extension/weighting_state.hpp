// The states of the weighted aggregates, kept in PostgreSQL memory (the aggregate's memory
// context) so that they need no destructor and vanish with the query, also on error. Each
// state merges with another of its kind (parallel aggregation) and travels as bytea.
#pragma once

#include "weighting_stats.hpp"

extern "C" {
#include "postgres.h"
#include "utils/memutils.h"
}

#include <cstdint>
#include <optional>

namespace mcp::ext::weighting {

// The size n of the whole design, for standard errors of domains: given by the caller on
// every row (constant) or, when never given, the number of users the aggregate saw.
struct DesignSize {
    std::int64_t value = -1;  // -1: not given

    void set(std::int64_t n, const char* aggregate);  // throws PgError when it changes
    void merge(const DesignSize& other, const char* aggregate);
    std::int64_t or_default(std::int64_t seen) const { return value >= 0 ? value : seen; }
};

// weighted_mean, weighted_total, weighted_share and kish_n_eff: one row per user.
struct MomentState {
    std::int64_t excluded = 0;  // rows left out for a NULL or non-positive weight
    DesignSize design_n;
    Moments moments;
};

MomentState* new_moment_state(MemoryContext context);
bytea* serialize_moments(const MomentState& state);
MomentState* deserialize_moments(const bytea* bytes);  // in the current memory context

// weighted_reach and weighted_reach_pct: any number of rows per user, each user counted once.
// An open-addressing hash table of user ids with their weight and whether any of their rows
// marked them reached; states merge by union, and a user's weight must be the same in every
// row (weights belong to users, not to events).
struct UserEntry {
    std::int64_t user_id;
    double weight;
    std::uint32_t flags;
};

struct ReachState {
    DesignSize design_n;
    bool reached_given = false;  // the rows carried a reached flag (else all rows count)
    MemoryContext context = nullptr;
    std::uint64_t capacity = 0;  // a power of two
    std::uint64_t size = 0;
    UserEntry* entries = nullptr;
};

ReachState* new_reach_state(MemoryContext context);
// weight: nullopt for SQL NULL. reached: whether this row reaches the user.
void reach_add(ReachState& state, std::int64_t user_id, std::optional<double> weight, bool reached);
void reach_merge(ReachState& into, const ReachState& from);
bytea* serialize_reach(const ReachState& state);
ReachState* deserialize_reach(const bytea* bytes);

struct ReachTotals {
    Moments reached;       // x_i = 1 when user i is reached, over users with a usable weight
    CompensatedSum reach;  // Σ w over reached users
    std::int64_t reached_users = 0;
    std::int64_t excluded_users = 0;  // users with a NULL or non-positive weight
};
ReachTotals reach_totals(const ReachState& state);

// weighted_quantile: every (value, weight) pair, sorted when finishing.
struct QuantileState {
    std::int64_t excluded = 0;
    double q = -1.0;  // < 0: not seen yet
    MemoryContext context = nullptr;
    std::uint64_t capacity = 0;
    std::uint64_t size = 0;
    WeightedValue* values = nullptr;
};

QuantileState* new_quantile_state(MemoryContext context);
void quantile_set_q(QuantileState& state, double q);  // throws when q leaves [0, 1] or changes
void quantile_add(QuantileState& state, double x, double weight);
void quantile_merge(QuantileState& into, const QuantileState& from);
bytea* serialize_quantile(const QuantileState& state);
QuantileState* deserialize_quantile(const bytea* bytes);

}  // namespace mcp::ext::weighting
