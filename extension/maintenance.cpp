#include "maintenance.hpp"

#include "pg_guard.hpp"
#include "spi.hpp"

extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

#include <climits>
#include <optional>
#include <string>

namespace mcp::ext::maintenance {

int maintenance_interval_s = 3600;

namespace {

int log_retention_min = 90 * 24 * 60;
int session_retention_min = 24 * 60;
char* log_archive_dir = nullptr;
// A worker process serves one database, so one timestamp per process is per database.
TimestampTz last_run = 0;

}  // namespace

void define() {
    DefineCustomIntVariable(
        "mcp_analytics.log_retention", "How long query-log rows are kept (0: forever).",
        "Kept by whole UTC months: a month's partition is dropped once it ended longer ago than "
        "this, so rows stay up to one month longer.",
        &log_retention_min, 90 * 24 * 60, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MIN, nullptr, nullptr,
        nullptr);
    DefineCustomIntVariable(
        "mcp_analytics.session_retention", "How long an idle MCP session is kept.",
        "Dashboard sessions go when they expire.", &session_retention_min, 24 * 60, 1, INT_MAX,
        PGC_SUSET, GUC_UNIT_MIN, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "mcp_analytics.maintenance_interval",
        "How often job workers apply retention in each database (0: never by themselves).",
        "They also do when they start for a job; SELECT mcp.run_maintenance() runs it by hand.",
        &maintenance_interval_s, 3600, 0, 7 * 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
        nullptr);
    DefineCustomStringVariable(
        "mcp_analytics.log_archive_dir",
        "Folder (absolute, writable by the server) where expired query-log months are written "
        "as CSV before they are dropped.",
        "Unset: expired months are dropped without an archive.", &log_archive_dir, "", PGC_SUSET,
        GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
}

void run_in_worker() {
    if (maintenance_interval_s <= 0) return;
    TimestampTz now = GetCurrentTimestamp();
    if (last_run != 0 &&
        !TimestampDifferenceExceeds(last_run, now, maintenance_interval_s * 1000))
        return;
    last_run = now;
    bool open = false;
    try {
        pg_call([] {
            SetCurrentStatementStartTimestamp();
            StartTransactionCommand();
            PushActiveSnapshot(GetTransactionSnapshot());
        });
        open = true;
        // A database still on an older extension version has no pass yet: nothing to do.
        std::optional<std::string> summary;
        if (spi::query_value("SELECT to_regprocedure('mcp.run_maintenance()') IS NOT NULL") == "t")
            summary = spi::query_value("SELECT mcp.run_maintenance()::text");
        pg_call([] {
            PopActiveSnapshot();
            CommitTransactionCommand();
        });
        open = false;
        std::string text = summary.value_or("");
        pg_call([&] {
            ereport(DEBUG1, (errmsg("mcp_analytics maintenance: %s", text.c_str())));
        });
    } catch (const PgError& error) {
        std::string message = error.what();
        if (open) pg_call([] { AbortCurrentTransaction(); });
        pg_call([&] {
            ereport(LOG, (errmsg("mcp_analytics maintenance failed: %s", message.c_str()),
                          errhint("It is tried again in mcp_analytics.maintenance_interval; "
                                  "SELECT mcp.run_maintenance() runs it now.")));
        });
    }
}

}  // namespace mcp::ext::maintenance
