// The SQL aggregates of weighted panel analytics (mcp.weighted_mean, weighted_total,
// weighted_share, weighted_reach, weighted_reach_pct, weighted_quantile, kish_n_eff) and
// the scalar mcp.proportion_interval. Every aggregate is parallel-safe: a transition, a
// combine, a serialize and a deserialize function around the states of weighting_state, and
// a final function that returns an mcp.weighted_estimate row.
#include "pg_guard.hpp"
#include "weighting.hpp"
#include "weighting_state.hpp"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
}

#include <string>

namespace mcp::ext::weighting {

namespace {

MemoryContext aggregate_context(FunctionCallInfo fcinfo, const char* name) {
    MemoryContext context = nullptr;
    if (!AggCheckCallContext(fcinfo, &context))
        throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED,
                      std::string(name) + " called outside an aggregate", {},
                      "Call the aggregate (mcp.weighted_mean, ...), not its support functions.");
    return context;
}

template <typename State>
State* state_argument(FunctionCallInfo fcinfo, int index) {
    return PG_ARGISNULL(index) ? nullptr : reinterpret_cast<State*>(PG_GETARG_POINTER(index));
}

std::optional<double> float_argument(FunctionCallInfo fcinfo, int index) {
    if (PG_NARGS() <= index || PG_ARGISNULL(index)) return std::nullopt;
    return PG_GETARG_FLOAT8(index);
}

void take_design_n(DesignSize& design_n, FunctionCallInfo fcinfo, int index, const char* name) {
    if (PG_NARGS() > index && !PG_ARGISNULL(index)) design_n.set(PG_GETARG_INT64(index), name);
}

const bytea* bytea_argument_raw(FunctionCallInfo fcinfo, int index) {
    return pg_call([&] { return PG_GETARG_BYTEA_PP(index); });
}

// An mcp.weighted_estimate row (the declared result type of every estimate final function).
Datum estimate_datum(FunctionCallInfo fcinfo, const Estimate& estimate) {
    const std::int64_t min_base = weighting_min_base();
    return pg_call([&] {
        TupleDesc descriptor;
        if (get_call_result_type(fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "weighted estimate final function must return a composite type");
        descriptor = BlessTupleDesc(descriptor);
        Datum values[8];
        bool nulls[8];
        auto put = [&](int i, const std::optional<double>& figure) {
            nulls[i] = !figure.has_value();
            values[i] = figure ? Float8GetDatum(*figure) : (Datum)0;
        };
        put(0, estimate.value);
        put(1, estimate.se);
        values[2] = Int64GetDatum(estimate.base);
        nulls[2] = false;
        put(3, estimate.n_eff);
        put(4, estimate.ci_low);
        put(5, estimate.ci_high);
        values[6] = BoolGetDatum(estimate.base < min_base);
        nulls[6] = false;
        values[7] = Int64GetDatum(estimate.excluded);
        nulls[7] = false;
        return HeapTupleGetDatum(heap_form_tuple(descriptor, values, nulls));
    });
}

// ---- moments: mean, total, share, kish ---------------------------------------------------

MomentState* moment_state(FunctionCallInfo fcinfo, const char* name) {
    MemoryContext context = aggregate_context(fcinfo, name);
    MomentState* state = state_argument<MomentState>(fcinfo, 0);
    return state != nullptr ? state : new_moment_state(context);
}

// (state, value float8, weight float8 [, design_n bigint])
Datum mean_transition(FunctionCallInfo fcinfo) {
    MomentState* state = moment_state(fcinfo, "weighted_mean");
    take_design_n(state->design_n, fcinfo, 3, "weighted_mean");
    const std::optional<double> weight = float_argument(fcinfo, 2);
    if (!weight || !usable_weight(*weight))
        ++state->excluded;
    else if (!PG_ARGISNULL(1))
        state->moments.add(PG_GETARG_FLOAT8(1), *weight);
    PG_RETURN_POINTER(state);
}

// (state, condition boolean, weight float8 [, design_n bigint]); a NULL condition does not hold.
Datum share_transition(FunctionCallInfo fcinfo) {
    MomentState* state = moment_state(fcinfo, "weighted_share");
    take_design_n(state->design_n, fcinfo, 3, "weighted_share");
    const std::optional<double> weight = float_argument(fcinfo, 2);
    if (!weight || !usable_weight(*weight)) {
        ++state->excluded;
    } else {
        const bool holds = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
        state->moments.add(holds ? 1.0 : 0.0, *weight);
    }
    PG_RETURN_POINTER(state);
}

// (state, weight float8)
Datum kish_transition(FunctionCallInfo fcinfo) {
    MomentState* state = moment_state(fcinfo, "kish_n_eff");
    const std::optional<double> weight = float_argument(fcinfo, 1);
    if (!weight || !usable_weight(*weight))
        ++state->excluded;
    else
        state->moments.add(0.0, *weight);
    PG_RETURN_POINTER(state);
}

Datum moments_combine(FunctionCallInfo fcinfo) {
    MemoryContext context = aggregate_context(fcinfo, "weighted moments combine");
    MomentState* into = state_argument<MomentState>(fcinfo, 0);
    const MomentState* from = state_argument<MomentState>(fcinfo, 1);
    if (from == nullptr) {
        if (into == nullptr) PG_RETURN_NULL();
        PG_RETURN_POINTER(into);
    }
    if (into == nullptr) into = new_moment_state(context);
    into->excluded += from->excluded;
    into->design_n.merge(from->design_n, "weighted aggregate");
    into->moments.merge(from->moments);
    PG_RETURN_POINTER(into);
}

Datum moments_serialize(FunctionCallInfo fcinfo) {
    PG_RETURN_BYTEA_P(serialize_moments(*state_argument<MomentState>(fcinfo, 0)));
}

Datum moments_deserialize(FunctionCallInfo fcinfo) {
    PG_RETURN_POINTER(deserialize_moments(bytea_argument_raw(fcinfo, 0)));
}

template <typename Finish>
Datum finish_moments(FunctionCallInfo fcinfo, Finish finish) {
    const MomentState* state = state_argument<MomentState>(fcinfo, 0);
    MomentState empty;
    if (state == nullptr) state = &empty;
    Estimate estimate = finish(state->moments, state->design_n.or_default(state->moments.count));
    estimate.excluded = state->excluded;
    return estimate_datum(fcinfo, estimate);
}

Datum mean_final(FunctionCallInfo fcinfo) { return finish_moments(fcinfo, mean_estimate); }
Datum total_final(FunctionCallInfo fcinfo) { return finish_moments(fcinfo, total_estimate); }
Datum share_final(FunctionCallInfo fcinfo) { return finish_moments(fcinfo, proportion_estimate); }

Datum kish_final(FunctionCallInfo fcinfo) {
    const MomentState* state = state_argument<MomentState>(fcinfo, 0);
    if (state == nullptr) PG_RETURN_NULL();
    auto n_eff = kish_n_eff(state->moments.weight_sum(), state->moments.weight_square_sum());
    if (!n_eff) PG_RETURN_NULL();
    PG_RETURN_FLOAT8(*n_eff);
}

// ---- reach -------------------------------------------------------------------------------

// (state, user_id bigint, weight float8 [, reached boolean [, design_n bigint]])
Datum reach_transition(FunctionCallInfo fcinfo) {
    MemoryContext context = aggregate_context(fcinfo, "weighted_reach");
    ReachState* state = state_argument<ReachState>(fcinfo, 0);
    if (state == nullptr) state = new_reach_state(context);
    take_design_n(state->design_n, fcinfo, 4, "weighted_reach");
    if (PG_ARGISNULL(1)) PG_RETURN_POINTER(state);  // no user, nobody to count
    bool reached = true;
    if (PG_NARGS() > 3) {
        state->reached_given = true;
        reached = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
    }
    reach_add(*state, PG_GETARG_INT64(1), float_argument(fcinfo, 2), reached);
    PG_RETURN_POINTER(state);
}

Datum reach_combine(FunctionCallInfo fcinfo) {
    MemoryContext context = aggregate_context(fcinfo, "weighted_reach combine");
    ReachState* into = state_argument<ReachState>(fcinfo, 0);
    const ReachState* from = state_argument<ReachState>(fcinfo, 1);
    if (from == nullptr) {
        if (into == nullptr) PG_RETURN_NULL();
        PG_RETURN_POINTER(into);
    }
    if (into == nullptr) into = new_reach_state(context);
    reach_merge(*into, *from);
    PG_RETURN_POINTER(into);
}

Datum reach_serialize(FunctionCallInfo fcinfo) {
    PG_RETURN_BYTEA_P(serialize_reach(*state_argument<ReachState>(fcinfo, 0)));
}

Datum reach_deserialize(FunctionCallInfo fcinfo) {
    PG_RETURN_POINTER(deserialize_reach(bytea_argument_raw(fcinfo, 0)));
}

// Reach as a proportion of the users seen (the universe), or as their total weight.
Datum reach_finish(FunctionCallInfo fcinfo, bool as_total) {
    const ReachState* state = state_argument<ReachState>(fcinfo, 0);
    if (state == nullptr) return estimate_datum(fcinfo, Estimate());
    const ReachTotals totals = reach_totals(*state);
    const std::int64_t design_n = state->design_n.or_default(totals.reached.count);
    Estimate estimate;
    if (!state->reached_given) {
        // Only reached users were given: their weighted count, without a universe to
        // measure a proportion (or its error) against.
        estimate.base = totals.reached.count;
        estimate.n_eff =
            kish_n_eff(totals.reached.weight_sum(), totals.reached.weight_square_sum());
        if (totals.reached.count > 0)
            estimate.value = as_total ? totals.reach.value() : std::optional<double>();
    } else {
        estimate = proportion_estimate(totals.reached, design_n);
        if (as_total && estimate.value) {
            const double universe = totals.reached.weight_sum();
            estimate.value = totals.reach.value();
            for (std::optional<double>* figure :
                 {&estimate.se, &estimate.ci_low, &estimate.ci_high})
                if (*figure) **figure *= universe;
        }
    }
    estimate.excluded = totals.excluded_users;
    return estimate_datum(fcinfo, estimate);
}

Datum reach_final(FunctionCallInfo fcinfo) { return reach_finish(fcinfo, true); }
Datum reach_pct_final(FunctionCallInfo fcinfo) { return reach_finish(fcinfo, false); }

// ---- quantile ----------------------------------------------------------------------------

// (state, value float8, weight float8, q float8)
Datum quantile_transition(FunctionCallInfo fcinfo) {
    MemoryContext context = aggregate_context(fcinfo, "weighted_quantile");
    QuantileState* state = state_argument<QuantileState>(fcinfo, 0);
    if (state == nullptr) state = new_quantile_state(context);
    if (!PG_ARGISNULL(3)) quantile_set_q(*state, PG_GETARG_FLOAT8(3));
    const std::optional<double> weight = float_argument(fcinfo, 2);
    if (!weight || !usable_weight(*weight))
        ++state->excluded;
    else if (!PG_ARGISNULL(1))
        quantile_add(*state, PG_GETARG_FLOAT8(1), *weight);
    PG_RETURN_POINTER(state);
}

Datum quantile_combine(FunctionCallInfo fcinfo) {
    MemoryContext context = aggregate_context(fcinfo, "weighted_quantile combine");
    QuantileState* into = state_argument<QuantileState>(fcinfo, 0);
    const QuantileState* from = state_argument<QuantileState>(fcinfo, 1);
    if (from == nullptr) {
        if (into == nullptr) PG_RETURN_NULL();
        PG_RETURN_POINTER(into);
    }
    if (into == nullptr) into = new_quantile_state(context);
    quantile_merge(*into, *from);
    PG_RETURN_POINTER(into);
}

Datum quantile_serialize(FunctionCallInfo fcinfo) {
    PG_RETURN_BYTEA_P(serialize_quantile(*state_argument<QuantileState>(fcinfo, 0)));
}

Datum quantile_deserialize(FunctionCallInfo fcinfo) {
    PG_RETURN_POINTER(deserialize_quantile(bytea_argument_raw(fcinfo, 0)));
}

Datum quantile_final(FunctionCallInfo fcinfo) {
    QuantileState* state = state_argument<QuantileState>(fcinfo, 0);
    if (state == nullptr) return estimate_datum(fcinfo, Estimate());
    Moments moments;
    for (std::uint64_t i = 0; i < state->size; ++i) moments.add(0.0, state->values[i].w);
    Estimate estimate;
    estimate.base = moments.count;
    estimate.n_eff = kish_n_eff(moments.weight_sum(), moments.weight_square_sum());
    // Sorting in place leaves the same multiset behind, so the state stays valid.
    estimate.value = weighted_quantile(state->values, state->size, state->q < 0 ? 0.5 : state->q);
    estimate.excluded = state->excluded;
    return estimate_datum(fcinfo, estimate);
}

// ---- scalar: the proportion interval -----------------------------------------------------

// (p float8, se float8, base bigint) → (ci_low, ci_high); se may be NULL (taken as 0).
Datum proportion_interval_sql(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(2)) PG_RETURN_NULL();
    const double p = PG_GETARG_FLOAT8(0);
    const std::int64_t base = PG_GETARG_INT64(2);
    if (!(p >= 0.0 && p <= 1.0) || base < 0)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                      "proportion_interval needs 0 <= p <= 1 and base >= 0",
                      "Got p = " + std::to_string(p) + ", base = " + std::to_string(base) + ".");
    auto interval = proportion_interval(p, float_argument(fcinfo, 1), base);
    return pg_call([&] {
        TupleDesc descriptor;
        if (get_call_result_type(fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "proportion_interval must return a composite type");
        descriptor = BlessTupleDesc(descriptor);
        Datum values[2] = {interval ? Float8GetDatum(interval->first) : (Datum)0,
                           interval ? Float8GetDatum(interval->second) : (Datum)0};
        bool nulls[2] = {!interval, !interval};
        return HeapTupleGetDatum(heap_form_tuple(descriptor, values, nulls));
    });
}

}  // namespace

}  // namespace mcp::ext::weighting

#define MCP_WEIGHTING_ENTRY(sql_name, body)                                            \
    PG_FUNCTION_INFO_V1(sql_name);                                                     \
    Datum sql_name(PG_FUNCTION_ARGS) {                                                 \
        return mcp::ext::sql_entry([&] { return mcp::ext::weighting::body(fcinfo); }); \
    }

extern "C" {
MCP_WEIGHTING_ENTRY(mcp_weighted_mean_transition, mean_transition)
MCP_WEIGHTING_ENTRY(mcp_weighted_share_transition, share_transition)
MCP_WEIGHTING_ENTRY(mcp_kish_transition, kish_transition)
MCP_WEIGHTING_ENTRY(mcp_weighted_moments_combine, moments_combine)
MCP_WEIGHTING_ENTRY(mcp_weighted_moments_serialize, moments_serialize)
MCP_WEIGHTING_ENTRY(mcp_weighted_moments_deserialize, moments_deserialize)
MCP_WEIGHTING_ENTRY(mcp_weighted_mean_final, mean_final)
MCP_WEIGHTING_ENTRY(mcp_weighted_total_final, total_final)
MCP_WEIGHTING_ENTRY(mcp_weighted_share_final, share_final)
MCP_WEIGHTING_ENTRY(mcp_kish_final, kish_final)
MCP_WEIGHTING_ENTRY(mcp_weighted_reach_transition, reach_transition)
MCP_WEIGHTING_ENTRY(mcp_weighted_reach_combine, reach_combine)
MCP_WEIGHTING_ENTRY(mcp_weighted_reach_serialize, reach_serialize)
MCP_WEIGHTING_ENTRY(mcp_weighted_reach_deserialize, reach_deserialize)
MCP_WEIGHTING_ENTRY(mcp_weighted_reach_final, reach_final)
MCP_WEIGHTING_ENTRY(mcp_weighted_reach_pct_final, reach_pct_final)
MCP_WEIGHTING_ENTRY(mcp_weighted_quantile_transition, quantile_transition)
MCP_WEIGHTING_ENTRY(mcp_weighted_quantile_combine, quantile_combine)
MCP_WEIGHTING_ENTRY(mcp_weighted_quantile_serialize, quantile_serialize)
MCP_WEIGHTING_ENTRY(mcp_weighted_quantile_deserialize, quantile_deserialize)
MCP_WEIGHTING_ENTRY(mcp_weighted_quantile_final, quantile_final)
MCP_WEIGHTING_ENTRY(mcp_proportion_interval, proportion_interval_sql)
}
