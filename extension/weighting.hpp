// Weighted panel analytics: the feature's settings. The estimators are in weighting_stats,
// their SQL aggregates in weighted_aggregates, the spec → SQL compiler in
// weighted_query_compiler and the SQL functions around it in weighted_query.
#pragma once

#include <cstdint>

namespace mcp::ext {

// Defines mcp_analytics.min_base. Called from _PG_init; nothing here may throw.
void define_weighting_gucs();

// The unweighted base under which a figure is flagged low_base (mcp_analytics.min_base).
std::int64_t weighting_min_base();

}  // namespace mcp::ext
