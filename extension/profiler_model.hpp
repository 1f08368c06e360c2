// What the profiler learns about a dataset, before it becomes JSON (profiler_detect.cpp).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mcp::ext::profiler {

struct ColumnProfile {
    std::string name, type, comment;
    char category = 'X';    // pg_type.typcategory: N numeric, D date/time, S string, ...
    std::string base_type;  // pg_type.typname of the type (or of a domain's base)
    bool not_null = false;
    bool indexed = false;  // leading column of some index (cheap exact min/max)
    std::optional<long long> null_count;
    double null_fraction = -1;
    std::optional<double> distinct;
    bool distinct_is_estimate = false;
    std::optional<std::string> min, max;
    bool minmax_is_estimate = false;
    std::vector<std::pair<std::string, double>> top_values;  // value, count or fraction
    bool top_are_fractions = false;
    long long date_like = -1;              // text values that look like dates (-1: not checked)
    long long zeros = -1, negatives = -1;  // for weight candidates
    std::vector<std::string> roles;
    std::string references;  // "schema.table.column" of a foreign key

    bool is_numeric() const { return category == 'N'; }
    bool is_datetime() const { return category == 'D'; }
    bool is_textual() const { return category == 'S'; }
    bool has_role(const std::string& role) const;
};

struct ForeignKey {
    std::vector<std::string> columns;
    std::string ref_schema, ref_table;
    std::vector<std::string> ref_columns;
};

struct TableProfile {
    std::string schema, name;
    char relkind = 'r';
    std::string comment;
    double reltuples = -1;
    std::vector<ColumnProfile> columns;
    std::vector<std::string> primary_key;
    std::vector<std::vector<std::string>> unique_keys;
    std::vector<ForeignKey> foreign_keys;

    long long row_count = 0;
    bool row_count_is_estimate = false;
    std::string method;  // exact_scan, view_scan, pg_stats, sample_scan
    int remote_queries = 0;
    double duration_ms = 0;
    std::string sample_json = "[]";
    std::optional<long long> user_weight_pairs;  // count(DISTINCT (user id, weight))
    std::string user_id_column, weight_column;
    std::string granularity;  // event_level, aggregated, reference
    std::optional<bool> weight_constant_per_user;
    std::vector<std::string> issues;

    std::string qualified() const { return schema == "public" ? name : schema + "." + name; }
    ColumnProfile* column(const std::string& column_name);
};

// Candidates by name (before any statistics): used to add per-table checks to the scan.
bool looks_like_user_id(const std::string& column_name);
bool looks_like_weight(const ColumnProfile& column);

// Fills roles, granularity, issues and weight checks of every table.
void detect(std::vector<TableProfile>& tables);

// {"tables": [...], "dataset": {...}, "summary": {...}} for mcp._store_profile; the summary
// holds `connections` (to the dataset, used at once) and `phases_json` (ms per phase).
std::string to_json(const std::vector<TableProfile>& tables, double duration_ms, int connections,
                    const std::string& phases_json);

}  // namespace mcp::ext::profiler
