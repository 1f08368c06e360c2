#include "dataset_role.hpp"

#include "pg_guard.hpp"

namespace mcp::ext::dataset_role {

void require_allowed(const DatasetRecord& dataset) {
    if (!dataset.role_refusal) return;
    throw PgError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                  "dataset \"" + dataset.name + "\": " + *dataset.role_refusal,
                  {}, "An administrator maps people, groups or API keys to a database role of the dataset "
                      "with mcp.map_dataset_role (see mcp.dataset_role_mappings()).");
}

std::string cache_tag(const DatasetRecord& dataset) {
    return dataset.role ? "|role=" + *dataset.role : "|role";
}

void explain(const DatasetRecord& dataset, executor::Failure& failure) {
    if (!dataset.role) return;
    const std::string& role = *dataset.role;
    const bool cannot_set = failure.message.find("to set role") != std::string::npos ||
                            failure.message.find("role \"" + role + "\" does not exist") != std::string::npos;
    if (cannot_set) {
        failure.detail = failure.message + (failure.detail.empty() ? "" : " " + failure.detail);
        failure.message = "dataset \"" + dataset.name + "\" maps this caller to database role \"" + role +
                          "\", which its connection cannot use";
        failure.hint = "On the dataset's server, create the role and run GRANT \"" + role +
                       "\" TO <the connection's user>; or change the mapping with mcp.map_dataset_role "
                       "(see mcp.dataset_role_mappings()).";
        return;
    }
    if (failure.sqlstate == ERRCODE_INSUFFICIENT_PRIVILEGE) {
        failure.detail += std::string(failure.detail.empty() ? "" : " ") + "The query ran as database role \"" +
                          role + "\", the role mapping of dataset \"" + dataset.name + "\".";
    }
}

}  // namespace mcp::ext::dataset_role
