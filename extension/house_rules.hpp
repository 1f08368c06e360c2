// The house rules applied to one client query: how many rows may leave (five raw records at
// most, however packed, judged by granularity.cpp), and which aggregated rows are held back
// because their group holds fewer than the minimum number of distinct panelists.
#pragma once

#include "dataset_access.hpp"
#include "executor.hpp"
#include "pg_guard.hpp"

#include <optional>
#include <string>
#include <vector>

namespace mcp::ext::house_rules {

// Names of the rules as mcp.query_logs.house_rule records them.
constexpr const char* kRawRows = "raw_rows";
constexpr const char* kMinCells = "min_cells";

struct Plan {
    std::string sql;        // what runs on the dataset (maybe with the hidden count column)
    int row_limit = 0;
    bool raw = false;       // the raw-record cap is in force
    std::string raw_reason;
    int records_per_row = 1;
    std::optional<std::string> count_column;  // the hidden distinct-user count, last column
    int min_cell_users = 1;
    std::string cache_tag;  // the rules in force, part of the cache key
};

// Thrown for a query the rules refuse outright; the message names the rule, the count and
// the fix.
struct Refusal : PgError {
    using PgError::PgError;
};

// Decides the plan for `sql` (already through guard::check_query) on the dataset. Throws
// Refusal for shapes that would pack raw records into cells.
Plan plan(const DatasetRecord& dataset, const std::string& sql, int max_rows);

struct Applied {
    std::string rule;  // kRawRows, kMinCells or empty: the rule that changed the answer
    long held_back = 0;
    std::vector<std::string> warnings;
};

// Holds back rows below the minimum cell, strips the hidden column, and words what the rules
// did for the caller.
Applied apply(const Plan& plan, executor::Job& job);

}  // namespace mcp::ext::house_rules
