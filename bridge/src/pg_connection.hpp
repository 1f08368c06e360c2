#pragma once

#include <chrono>
#include <string>

// libpq's handle type, declared here so users of this header do not pull in libpq-fe.h.
struct pg_conn;

namespace mcp::bridge {

using Deadline = std::chrono::steady_clock::time_point;

// One libpq connection whose every wait is bounded by a deadline. Failures are reported as
// false only: libpq's messages can name hosts and users, which must not reach clients or logs.
// This is the seed of the connection pool (pg_pool).
class PgConnection {
public:
    PgConnection() = default;
    ~PgConnection();
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    // Closes any current connection first.
    bool connect(const std::string& conninfo, Deadline deadline);
    bool is_open() const;
    // Round trip of "SELECT 1". On false the connection is in an unknown state: close it.
    bool ping(Deadline deadline);
    void close();

private:
    enum class Wait { read, write };
    bool wait_socket(Wait what, Deadline deadline) const;
    bool flush_output(Deadline deadline);
    bool drain_results(Deadline deadline);

    pg_conn* conn_ = nullptr;
};

}  // namespace mcp::bridge
