// Retention and housekeeping: the settings that say how long query logs and sessions are
// kept, and the pass job workers run (mcp.run_maintenance(), defined in SQL).
#pragma once

namespace mcp::ext::maintenance {

extern int maintenance_interval_s;  // mcp_analytics.maintenance_interval (0: workers never run it)

void define();

// In a job worker, outside any transaction: runs mcp.run_maintenance() in a transaction of
// its own when this database's last pass is older than maintenance_interval. Failures are
// logged, never thrown: the worker goes on with its jobs.
void run_in_worker();

}  // namespace mcp::ext::maintenance
