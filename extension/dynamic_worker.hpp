// Starting a dynamic background worker of this library that connects to a database.
#pragma once

extern "C" {
#include "postgres.h"
#include "postmaster/bgworker.h"
}

#include <string>

namespace mcp::ext {

// Registers worker `function` (an extern "C" entry of mcp_analytics) named `name`, of type
// `type` as pg_stat_activity shows it, never restarted, notifying this backend. Returns its
// handle, or nullptr when no worker slot is free.
BackgroundWorkerHandle* start_dynamic_worker(const char* function, const std::string& name,
                                             const char* type, Datum argument);

}  // namespace mcp::ext
