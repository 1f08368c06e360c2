#include "dynamic_worker.hpp"

#include "pg_guard.hpp"

extern "C" {
#include "miscadmin.h"
}

#include <cstring>

namespace mcp::ext {

BackgroundWorkerHandle* start_dynamic_worker(const char* function, const std::string& name,
                                             const char* type, Datum argument) {
    BackgroundWorker worker;
    std::memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "mcp_analytics");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
    snprintf(worker.bgw_name, BGW_MAXLEN, "%s", name.c_str());
    snprintf(worker.bgw_type, BGW_MAXLEN, "%s", type);
    worker.bgw_main_arg = argument;
    worker.bgw_notify_pid = MyProcPid;
    BackgroundWorkerHandle* handle = nullptr;
    bool started = pg_call([&] { return RegisterDynamicBackgroundWorker(&worker, &handle); });
    return started ? handle : nullptr;
}

}  // namespace mcp::ext
