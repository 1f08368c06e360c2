#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "pg_connection.hpp"

namespace mcp::bridge {

// The versions of the mcp_analytics extension whose SQL functions this bridge calls. A
// metadata database with another version (an old one not yet upgraded, or a newer one than
// this bridge) would fail on some call, at random, later: the bridge refuses it up front.
inline constexpr std::string_view supported_extension_versions[] = {"0.4.0"};

// Empty when `installed` (nullopt: not installed) is supported; else what is wrong and what
// to do, for the log and /healthz.
std::string extension_version_problem(const std::optional<std::string>& installed);

// Reads the installed version over an open connection; false when the query failed.
bool read_extension_version(PgConnection& connection, Deadline deadline,
                            std::optional<std::string>& version);

// At start: one connection, bounded by `timeout`. The problem when the database answers with
// a version this bridge does not know; empty when it is supported, or when the database does
// not answer (the bridge then starts, and /healthz reports the database until it does).
std::string startup_extension_problem(const std::string& conninfo, std::chrono::milliseconds timeout);

}  // namespace mcp::bridge
