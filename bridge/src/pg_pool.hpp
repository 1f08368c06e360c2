#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fiber.hpp"
#include "pg_connection.hpp"

namespace mcp::bridge {

// The PostgreSQL role a statement runs as: the API key's role decides, through the GRANTs of
// the mcp functions. `login` is the bridge's own login role (no SET ROLE).
enum class DbRole { login, reader, admin };

DbRole db_role_for(const std::string& api_key_role);

struct PgPoolOptions {
    std::size_t size = 8;
    std::chrono::milliseconds connect_timeout{5'000};
    // How long a request waits for a free connection before it is answered "busy" (503).
    std::chrono::milliseconds acquire_timeout{5'000};
    // Server-side statement_timeout of every statement; the bridge's own deadline is a few
    // seconds longer, for a server that stops answering altogether.
    std::chrono::milliseconds query_timeout{60'000};
};

struct PgQuery {
    std::string sql;
    PgParams params;
    DbRole role = DbRole::reader;
    // The mcp.api_keys row the call is made for (setting mcp.caller), so that the database
    // shows and runs only what that caller may see; 0 for none.
    int caller = 0;
    // Safe to run again on a fresh connection when the first one turns out dead (reads and
    // idempotent writes); a tool call is not retried.
    bool retry_on_broken_connection = true;
};

struct PgPoolStats {
    std::size_t size = 0;
    std::size_t open = 0;
    std::size_t in_use = 0;
    std::size_t waiting = 0;
    std::uint64_t connections_opened = 0;
    std::uint64_t acquire_timeouts = 0;
    std::uint64_t connect_failures = 0;
};

// A fixed number of connections to the metadata database, opened on demand. Every wait is
// bounded; a connection that broke (a restart of the server) is dropped and replaced on its
// next use, so the pool heals by itself once the database is back.
class PgPool {
public:
    PgPool(std::string conninfo, PgPoolOptions options = {});
    ~PgPool();
    PgPool(const PgPool&) = delete;
    PgPool& operator=(const PgPool&) = delete;

    bool configured() const { return !conninfo_.empty(); }

    // Runs one statement. Thread-safe. On false, `error` says why (unavailable: the database
    // cannot be reached; busy: no connection came free within acquire_timeout).
    bool run(const PgQuery& query, PgRows& rows, PgError& error, CancelToken* cancel = nullptr);

    PgPoolStats stats() const;
    const PgPoolOptions& options() const { return options_; }

private:
    struct Slot {
        PgConnection connection;
        DbRole role = DbRole::login;
        int caller = 0;
        bool busy = false;
    };

    // A request waiting for a connection.
    struct Waiter {
        fiber::Wakeup wakeup;
        Slot* granted = nullptr;
    };

    Slot* acquire(Deadline deadline);
    Slot* free_slot_locked();
    void release(Slot* slot);
    bool prepare(Slot& slot, const PgQuery& query, Deadline deadline, PgError& error);

    const std::string conninfo_;
    const PgPoolOptions options_;
    mutable std::mutex mutex_;
    std::deque<Waiter*> waiters_;  // first come, first served
    std::vector<std::unique_ptr<Slot>> slots_;
    std::uint64_t connections_opened_ = 0;
    std::uint64_t acquire_timeouts_ = 0;
    std::uint64_t connect_failures_ = 0;
};

}  // namespace mcp::bridge
