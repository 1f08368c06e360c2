// Turns a weighted_query spec (JSON) into one plain SQL statement that runs on any PostgreSQL
// dataset, with or without mcp_analytics installed there: per-user rows first, then the
// estimators as sums over them (the formulas of weighting_stats, in SQL). The statement's
// rows are then finished here (the Beta quantiles of proportion intervals, which plain SQL
// lacks) into the answer {"measure", "rows", "sql", "warnings"}.
#pragma once

#include "weighting_stats.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mcp::ext::weighting {

enum class Measure { reach, reach_pct, avg_frequency, mean, share, projected_events, quantile };

const char* measure_name(Measure measure);

// A dimension mapping from the settings (mappings.<name>): value → merged value.
struct Mapping {
    std::string name;
    std::vector<std::pair<std::string, std::string>> pairs;
};
using Mappings = std::map<std::string, Mapping>;

// The dataset's registered user table and columns; a spec may name others.
struct DesignDefaults {
    std::optional<std::string> user_table;
    std::optional<std::string> user_id_column;
    std::optional<std::string> weight_column;
};

struct CompiledQuery {
    Measure measure = Measure::reach;
    std::string sql;
    std::vector<std::string> group_names;  // output names, in spec order
    std::vector<std::string> event_group_names;
    std::int64_t min_base = 50;
};

// Validates the spec and compiles it. Errors (PgError 22023) name the field and the allowed
// values; expressions go through guard::check_expression (42601 / 42501 on rejection).
CompiledQuery compile_weighted_query(const std::string& spec_json, const DesignDefaults& defaults,
                                     const Mappings& mappings, std::int64_t min_base);

// The columns of a compiled statement after the group columns, in order.
constexpr int kResultColumns = 12;

// Turns the statement's rows (as text, SQL NULL as nullopt) into the answer's JSON text.
std::string finish_weighted_rows(const CompiledQuery& query,
                                 const std::vector<std::vector<std::optional<std::string>>>& rows);

}  // namespace mcp::ext::weighting
