// How many panelists or events each row of a query's result stands for, decided from the
// parsed query and the dataset's profile, not from its syntax alone: a row is "raw" when the
// server cannot prove that it aggregates a group of records; a cell is "packed" when one
// collection (json_agg, array_agg, ARRAY(SELECT ...) ...) carries raw records. The house rule
// lets at most mcp_analytics.max_raw_rows raw records leave per call, however they are packed.
#pragma once

#include "dataset_profile.hpp"

#include <optional>
#include <string>

namespace mcp::ext::granularity {

enum class Level { Aggregated = 0, Raw = 1, Packed = 2 };

struct Verdict {
    Level level = Level::Aggregated;
    std::string reason;          // why the rows are raw or packed, in words for the caller
    int records_per_row = 1;     // raw records each row carries (joined raw tables)
    bool reads_people = false;   // a profiled table with a user-id column is read
    // For the minimum-cell rule: the query with one more, last column holding the number of
    // distinct users behind each row; empty when the shape does not allow it.
    std::optional<std::string> counted_sql;
    std::string count_column;
};

// `sql` must already have passed guard::check_query.
Verdict classify(const std::string& sql, const profile::DatasetFacts& facts);

const char* level_name(Level level);

}  // namespace mcp::ext::granularity
