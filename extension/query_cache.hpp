// Results shared by all backends for mcp_analytics.cache_ttl seconds, in the unlogged table
// mcp.query_cache, keyed by dataset (and its credentials), normalized SQL, row cap and
// format. Changing, re-profiling or deactivating a dataset empties its entries (a trigger).
#pragma once

#include "dataset_access.hpp"

#include <optional>
#include <string>

namespace mcp::ext::query_cache {

// SQL with comments removed and runs of white space outside quotes made one space.
std::string normalize_sql(const std::string& sql);

std::string key(const DatasetRecord& dataset, const std::string& sql, int row_limit,
                const char* format);

struct Hit {
    std::string result_json;
    long row_count = 0;
};

std::optional<Hit> lookup(const std::string& key);

// Keeps a result (not in read-only transactions, and not when the TTL is 0).
void store(const std::string& key, int dataset_id, const std::string& result_json, long rows);

}  // namespace mcp::ext::query_cache
