// Idle dataset connections kept by this backend between queries (as postgres_fdw keeps its
// connections), keyed by dataset and credential version, so a changed connection string
// never reuses an old connection.
#pragma once

#include "dataset_access.hpp"

#include <optional>

namespace mcp::ext::pool {

// An idle connection to this dataset made with its current credentials, if one is kept and
// nothing arrived on it since (a server that ended the session says so first).
std::optional<RemoteConnection> take(const DatasetRecord& dataset);

// Keeps a connection that finished its work cleanly (no transaction open), up to
// mcp_analytics.pool_size per dataset; closes it otherwise.
void give_back(const DatasetRecord& dataset, RemoteConnection connection);

// Closes every kept connection (at backend exit, and for tests).
void clear();

// How many connections this backend keeps, for mcp.connection_pool_status().
int size();

}  // namespace mcp::ext::pool
