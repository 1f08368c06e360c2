// One libpq connection from this backend to a dataset's server. Waiting happens on
// PostgreSQL's latch, so pg_cancel_backend, statement_timeout and shutdown interrupt it;
// the destructor cancels a running remote query before closing, so nothing is left behind.
#pragma once

#include "conninfo.hpp"

#include <libpq-fe.h>

#include <memory>
#include <string>

namespace mcp::ext {

struct ResultDeleter {
    void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

class PgError;

// The error a failed connection attempt should raise: SQLSTATE by cause, the server's own
// sentence, "user@host:port/db", a hint; the password scrubbed from every part.
PgError connect_failure(PGconn* connection, const ConnectionParams& params,
                        const std::string& dataset_label, bool timed_out);

// The remote error of a failed result, as a PgError with the remote SQLSTATE.
PgError remote_error(const PGresult* result, const std::string& dataset_label);

class RemoteConnection {
public:
    // Connects, waiting at most the connect timeout. `dataset_label` names the dataset in
    // error messages. Throws PgError with a SQLSTATE that says what failed: 08001
    // unreachable, 28P01 wrong or missing password, 28000 role refused, 3D000 no database.
    static RemoteConnection open(const ConnectionParams& params, const std::string& dataset_label,
                                 bool caller_is_superuser);

    RemoteConnection(RemoteConnection&& other) noexcept;
    RemoteConnection& operator=(RemoteConnection&&) = delete;
    RemoteConnection(const RemoteConnection&) = delete;
    ~RemoteConnection();

    // Runs one statement and returns its (last) result; a remote error becomes PgError with
    // the remote SQLSTATE. timeout_ms bounds the wait; 0 means no bound of ours.
    ResultPtr query(const std::string& sql, int timeout_ms);

    // "user@host:port/dbname" as connected; never the password.
    std::string display() const;
    PGconn* raw() const { return connection_; }

    // For callers that drive libpq's non-blocking API themselves (the executor): take
    // ownership of a connection, and say whether a query is in flight, so that destroying it
    // cancels the remote work first.
    static RemoteConnection adopt(PGconn* connection, std::string dataset_label);
    void set_busy(bool busy) { busy_ = busy; }
    const std::string& label() const { return label_; }

private:
    RemoteConnection(PGconn* connection, std::string label);
    void wait_for(bool want_write, long timeout_ms);

    PGconn* connection_ = nullptr;
    std::string label_;
    bool busy_ = false;  // a query was sent and its results are not all read yet
};

}  // namespace mcp::ext
