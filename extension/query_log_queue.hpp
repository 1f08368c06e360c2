// The query log's asynchronous path. A tool call whose transaction writes nothing else hands
// its log entry, when that transaction commits (query_log.cpp), to a queue in shared memory
// instead of inserting it: one ring buffer per
// database (mcp_analytics.query_log_queue kB), drained by that database's writer, a background
// worker that inserts everything queued in one statement and one commit, then sleeps. So the
// call's transaction stays read-only (no xid, no WAL, no commit record) and the rows of busy
// moments are written together.
//
// Nothing is lost on a clean stop: the writer drains the queue before it exits, and once it
// stops taking entries every caller writes its own row again. When the queue is off, full,
// or cannot get a writer, the caller writes its row itself (the synchronous path), so a row
// is never dropped for lack of room. A crash loses what was queued (at most a few
// milliseconds of rows), as an asynchronous commit would.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mcp::ext::query_log_queue {

// mcp_analytics.query_log_queue, from _PG_init.
void define_settings();

// From _PG_init while shared_preload_libraries is processed: asks for the shared memory.
void register_at_preload();

// Whether this backend may queue entries (the library is preloaded, the queue is on, and
// this process is not a writer itself).
bool enabled();

// Queues one entry (a JSON object as query_log::to_json makes it) for this database's
// writer, starting the writer when none runs; returns the entry's sequence number, or
// nullopt when the queue cannot take it (off, full, stopping, or no worker slot for a
// writer): then the caller writes the entry itself. The writer looks at its queue every few
// milliseconds; `wake_now` has it look at once (for a caller about to wait for its row).
std::optional<std::uint64_t> enqueue(const std::string& entry_json, bool wake_now = false);

// Counts entries a caller wrote itself because the queue could not take them (shown by
// mcp.query_log_queue()).
void count_written_by_caller(long entries);

// Waits until the entry with this sequence number is committed, at most timeout_ms.
// Returns whether it was. Honours query cancellation.
bool wait_written(std::uint64_t sequence, long timeout_ms);

}  // namespace mcp::ext::query_log_queue
