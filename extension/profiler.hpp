// Profiling a dataset: its catalog (tables, views, columns, keys) and, per table, row count,
// null fraction, distinct count, min/max, top values and 10 sample rows, read with one
// aggregate scan per table (plus one grouped pass for the top values of low-cardinality
// text) or, for tables above mcp_analytics.profile_exact_row_limit, from pg_stats. Detects
// weight, user-id and date columns (dates stored as text are a quality issue) and whether a
// table is event-level, aggregated or reference data.
#pragma once

#include "jobs.hpp"

namespace mcp::ext::profiler {

// A 'profile' job: profiles the dataset and stores the result (mcp._store_profile).
void run_profile_job(jobs::JobContext& context);

}  // namespace mcp::ext::profiler
