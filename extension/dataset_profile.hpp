// What the house rules need to know about a dataset's tables, read from its stored profile
// (mcp.dataset_schemas): which columns single out one record (unique keys, the user-id column,
// near-unique columns), which column holds the user id, and the minimum cell size in force.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mcp::ext::profile {

struct TableFacts {
    std::string schema, name;                  // as profiled (case kept)
    std::set<std::string> columns;             // as in the catalog
    std::set<std::string> identifying;         // one value ≈ one record
    std::vector<std::set<std::string>> unique_keys;  // every key, composite ones included
    std::optional<std::string> user_id_column;
    bool aggregated_table = false;             // granularity 'aggregated' in the profile
};

struct DatasetFacts {
    bool profiled = false;  // false: no table is profiled, names decide (see granularity)
    std::vector<TableFacts> tables;
    std::optional<std::string> dataset_user_id_column;  // mcp.datasets.user_id_column_name
    int min_cell_users = 1;  // the dataset's override, else mcp_analytics.min_cell_users
    std::string stamp;       // identifies this version of the profile (see load)

    // The profiled table a FROM item names (schema optional), or nullptr.
    const TableFacts* find(const char* schema, const char* name) const;
};

// The facts of a dataset's stored profile, kept per backend until the profile (or the
// dataset row, or the minimum cell size in force) changes.
std::shared_ptr<const DatasetFacts> load(int dataset_id);

// Whether an unprofiled column's name marks an identifier (user_id, event_id, email ...).
bool name_looks_identifying(const std::string& lower_name);

}  // namespace mcp::ext::profile
