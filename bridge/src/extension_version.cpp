#include "extension_version.hpp"

namespace mcp::bridge {

namespace {

std::string supported_list() {
    std::string list;
    for (const std::string_view version : supported_extension_versions) {
        list += (list.empty() ? "" : ", ") + std::string(version);
    }
    return list;
}

}  // namespace

std::string extension_version_problem(const std::optional<std::string>& installed) {
    if (!installed) {
        return "the metadata database has no mcp_analytics extension: run CREATE EXTENSION "
               "mcp_analytics in it (this bridge needs version " + supported_list() + ")";
    }
    for (const std::string_view version : supported_extension_versions) {
        if (*installed == version) return {};
    }
    return "the metadata database runs mcp_analytics " + *installed + ", which this bridge does "
           "not know (it needs " + supported_list() + "): upgrade the extension with ALTER "
           "EXTENSION mcp_analytics UPDATE, or run the bridge built with that version";
}

bool read_extension_version(PgConnection& connection, Deadline deadline,
                            std::optional<std::string>& version) {
    PgRows rows;
    PgError error;
    if (!connection.exec("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'mcp_analytics'",
                         {}, deadline, rows, error)) {
        return false;
    }
    version.reset();
    if (!rows.rows.empty() && !rows.rows.front().empty()) version = rows.rows.front().front();
    return true;
}

std::string startup_extension_problem(const std::string& conninfo, std::chrono::milliseconds timeout) {
    if (conninfo.empty()) return {};
    const Deadline deadline = std::chrono::steady_clock::now() + timeout;
    PgConnection connection;
    std::optional<std::string> version;
    if (!connection.connect(conninfo, deadline) || !read_extension_version(connection, deadline, version)) {
        return {};
    }
    return extension_version_problem(version);
}

}  // namespace mcp::bridge
