// A dataset's role mapping as the query paths see it (the mapping itself is in SQL,
// 76_dataset_roles.sql; the executor issues DatasetRecord::set_role_sql in its pipeline).
#pragma once

#include "dataset_access.hpp"
#include "executor.hpp"

namespace mcp::ext::dataset_role {

// Throws (insufficient_privilege) when the dataset refuses the caller: it requires a
// mapping and none names them, or their groups map to different roles.
void require_allowed(const DatasetRecord& dataset);

// The part a cached result's key adds for the role it was computed as: a result of one role
// is never an answer for another.
std::string cache_tag(const DatasetRecord& dataset);

// An error of a query run as a mapped role, told in terms of the mapping: the role cannot be
// set (missing, or not granted to the connection's user), or it lacks a privilege.
void explain(const DatasetRecord& dataset, executor::Failure& failure);

}  // namespace mcp::ext::dataset_role
