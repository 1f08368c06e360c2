// Background workers of mcp_analytics: a launcher (registered at shared_preload_libraries
// time) that starts job workers on demand, one or more per database with work queued, up to
// mcp_analytics.job_workers at once for the whole cluster. A worker exits when its queue is
// empty, so no idle connection holds a database (DROP DATABASE, CREATE DATABASE ... TEMPLATE
// keep working).
//
// The slots go by demand: when a database waits and none is free, the launcher asks a worker
// of another database to leave — at once if it is idle (waiting for a job due later), after
// its current job if it is busy and the waiting database has no worker at all. The leaving
// worker records when its own queue next needs one, and databases are served longest-waiting
// first, so busy databases take turns and no slot is held idle while another database waits.
//
// Shared memory holds, per database, "work was added" and "wake me at", and per worker its
// latch, so that committing a new job wakes a worker at once (no polling).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mcp::ext::worker {

// From _PG_init, only while shared_preload_libraries is being processed: asks for shared
// memory and registers the launcher.
void register_at_preload();

// Wakes this database's job workers when the current transaction commits (no-op when the
// library is not preloaded, or in a job worker, which looks at its queue anyway).
void wake_at_commit();

// Whether this process is a job worker (its own queue updates need no wake-up).
bool in_job_worker();

// Tells the launcher this database has more due work than its running workers can take.
void request_more_workers();

struct WorkerInfo {
    std::string role;  // "launcher" or "worker"
    int pid = 0;
    unsigned database_oid = 0;
    bool busy = false;
    long long job_id = 0;
};
// A snapshot of the launcher and the workers (empty when not preloaded).
std::vector<WorkerInfo> snapshot();

// The job a worker runs now (shown by mcp.job_workers()); 0 when idle. A worker with a job
// is busy: new work then goes to another worker, if mcp_analytics.job_workers allows.
void set_current_job(long long job_id);

// In a job worker: forget the "work was added" flag before looking at the queue.
void begin_round();

// In a job worker: whether the launcher gave its slot to another database. Then it must
// call leave() before it takes another job.
bool asked_to_leave();

// In a job worker asked to leave: gives the slot up. next_due_s: seconds until this
// database's next queued job falls due (0: now; < 0: none), when the launcher starts a worker
// for it again.
void leave(double next_due_s);

// In a job worker whose queue has nothing due: true if it may exit now (then it must). When
// next_due_s >= 0 the launcher starts a worker again after that many seconds.
bool try_exit(double next_due_s);

// Applies a pending SIGHUP (postgresql.conf, ALTER SYSTEM) now.
void reload_config_if_asked();

// In a job worker: waits on the latch at most timeout_ms (woken by new work, or by the
// launcher asking it to leave), honouring SIGHUP and SIGTERM. Meanwhile it counts as idle:
// its slot goes to the first other database that needs one.
void wait(long timeout_ms);

}  // namespace mcp::ext::worker
