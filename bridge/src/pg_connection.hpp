#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fiber.hpp"

// libpq's handle type, declared here so users of this header do not pull in libpq-fe.h.
struct pg_conn;
struct pg_cancel;

namespace mcp::bridge {

class CancelToken;

using Deadline = std::chrono::steady_clock::time_point;

// Why a statement did not succeed. A server error carries the fields PostgreSQL sent (our SQL
// functions write them for users: message, detail, hint); any other failure carries no text,
// because libpq's own messages can name hosts and users.
struct PgError {
    // unavailable: no connection could be opened; busy: every pooled connection stayed in use.
    enum class Kind { none, server, connection, timeout, cancelled, unavailable, busy };
    Kind kind = Kind::none;
    std::string sqlstate;
    std::string message;
    std::string detail;
    std::string hint;
};

// Rows in text format; a NULL is nullopt.
struct PgRows {
    std::vector<std::vector<std::optional<std::string>>> rows;
};

using PgParams = std::vector<std::optional<std::string>>;

// One libpq connection in non-blocking mode whose every wait is bounded by a deadline, so a
// dead or blackholed server costs a timeout, never a hung thread.
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

    // Runs one statement with text parameters (never interpolated into the SQL). When the
    // deadline passes, the query is cancelled on the server and the connection closed.
    // `cancel`, when given, lets another thread cancel the running query. The bridge's
    // statements are few and fixed: each is prepared on its first use on this connection and
    // then only executed, so the server parses and plans it once per connection.
    bool exec(std::string_view sql, const PgParams& params, Deadline deadline, PgRows& rows,
              PgError& error, CancelToken* cancel = nullptr);

    // Without a round trip: whether the server has hung up or said something while the
    // connection sat idle (a restart or an idle kill announces itself that way).
    bool broken_while_idle();

    // For LISTEN: reads what arrived and returns the payloads of notifications on it.
    // False when the connection broke.
    bool read_notifications(std::vector<std::string>& payloads);
    int socket() const;

private:
    enum class Wait { read, write };
    bool connect_here(const std::string& conninfo, Deadline deadline);
    bool wait_socket(Wait what, Deadline deadline) const;
    bool flush_output(Deadline deadline);
    bool drain_results(Deadline deadline);
    bool collect_results(Deadline deadline, PgRows& rows, PgError& error);
    void cancel_running_query();
    // The name of the prepared statement for `sql`, preparing it first if need be; empty
    // when past max_prepared (then the statement is sent unnamed). False on failure.
    bool prepared_name(const std::string& sql, int params, Deadline deadline, std::string& name,
                       PgError& error);

    pg_conn* conn_ = nullptr;
    // What a cancel request needs (the server's address, the backend's key): fixed for the
    // connection's life, shared with the thread that sends one.
    std::shared_ptr<pg_cancel> cancel_;
    // In a request fiber, waits suspend the fiber instead of the thread (fiber.hpp).
    mutable fiber::FdWatch watch_;
    std::unordered_map<std::string, std::string> prepared_;  // SQL text → statement name
};

}  // namespace mcp::bridge
