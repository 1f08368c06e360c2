#include "pg_connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <memory>
#include <system_error>
#include <thread>

#include "cancel_token.hpp"

namespace mcp::bridge {

namespace {

// A bound for a caller that would build statement texts on the fly.
constexpr std::size_t max_prepared = 64;

// libpq's cancel object for the connection, shared with whoever sends a cancel.
std::shared_ptr<PGcancel> cancel_handle(PGconn* conn) {
    PGcancel* raw = PQgetCancel(conn);
    return raw != nullptr ? std::shared_ptr<PGcancel>(raw, PQfreeCancel) : nullptr;
}

// Asks the server to cancel, from a thread of its own: PQcancel opens a connection and waits
// for the server, which must hold neither an I/O thread (request handlers are fibers on them)
// nor a caller's lock. Without a thread to spare, the query runs on to its statement_timeout.
void send_cancel(std::shared_ptr<PGcancel> handle) {
    if (!handle) {
        return;
    }
    try {
        std::thread([handle] {
            char ignored[256];
            PQcancel(handle.get(), ignored, sizeof ignored);
        }).detach();
    } catch (const std::system_error&) {
    }
}

}  // namespace

PgConnection::~PgConnection() { close(); }

bool PgConnection::connect(const std::string& conninfo, Deadline deadline) {
    close();
    // Name lookups (every host's, as libpq tries them in turn) block: in a fiber, the whole
    // connect runs on a thread of its own, where waits poll().
    bool connected = false;
    fiber::run_blocking([&] { connected = connect_here(conninfo, deadline); });
    return connected;
}

bool PgConnection::connect_here(const std::string& conninfo, Deadline deadline) {
    // expand_dbname lets "dbname" carry a whole conninfo or URI; the fallback name makes the
    // bridge's sessions recognisable in pg_stat_activity unless the URL names itself.
    const char* const keys[] = {"dbname", "fallback_application_name", nullptr};
    const char* const values[] = {conninfo.c_str(), "mcp-bridge", nullptr};
    conn_ = PQconnectStartParams(keys, values, 1);
    if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) {
        close();
        return false;
    }
    // libpq's contract: before the first PQconnectPoll, behave as if it asked to write.
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
        if (status == PGRES_POLLING_FAILED ||
            !wait_socket(status == PGRES_POLLING_READING ? Wait::read : Wait::write, deadline)) {
            close();
            return false;
        }
        status = PQconnectPoll(conn_);
    }
    // Non-blocking mode keeps sends (and PQfinish's goodbye) from stalling on a dead peer.
    if (PQsetnonblocking(conn_, 1) != 0) {
        close();
        return false;
    }
    cancel_ = cancel_handle(conn_);
    return true;
}

bool PgConnection::is_open() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

bool PgConnection::ping(Deadline deadline) {
    if (!is_open() || PQsendQuery(conn_, "SELECT 1") == 0) {
        return false;
    }
    return flush_output(deadline) && drain_results(deadline);
}

void PgConnection::close() {
    prepared_.clear();  // prepared statements end with their session
    watch_.forget();    // before libpq closes the socket it watches
    cancel_.reset();    // a cancel on its way keeps its own reference
    if (conn_ != nullptr) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
}

bool PgConnection::prepared_name(const std::string& sql, int params, Deadline deadline,
                                 std::string& name, PgError& error) {
    name.clear();
    const auto found = prepared_.find(sql);
    if (found != prepared_.end()) {
        name = found->second;
        return true;
    }
    if (prepared_.size() >= max_prepared) {
        return true;
    }
    const std::string candidate = "mcp_bridge_" + std::to_string(prepared_.size() + 1);
    if (PQsendPrepare(conn_, candidate.c_str(), sql.c_str(), params, nullptr) == 0 ||
        !flush_output(deadline)) {
        error.kind = PgError::Kind::connection;
        close();
        return false;
    }
    PgRows ignored;
    // A server error here (an unknown function) is the statement's own error.
    if (!collect_results(deadline, ignored, error)) {
        return false;
    }
    prepared_.emplace(sql, candidate);
    name = candidate;
    return true;
}

bool PgConnection::wait_socket(Wait what, Deadline deadline) const {
    // The socket can change while connecting (several hosts in the URL), so ask every time.
    const int fd = PQsocket(conn_);
    if (fd < 0) {
        return false;
    }
    return watch_.wait(fd, what == Wait::write, deadline);
}

bool PgConnection::flush_output(Deadline deadline) {
    for (;;) {
        const int pending = PQflush(conn_);
        if (pending == 0) {
            return true;
        }
        if (pending < 0 || !wait_socket(Wait::write, deadline)) {
            return false;
        }
    }
}

bool PgConnection::drain_results(Deadline deadline) {
    bool ok = false;
    for (;;) {
        // PQgetResult would block while libpq still waits for bytes; only call it when not busy.
        while (PQisBusy(conn_) != 0) {
            if (!wait_socket(Wait::read, deadline) || PQconsumeInput(conn_) == 0) {
                return false;
            }
        }
        PGresult* result = PQgetResult(conn_);
        if (result == nullptr) {
            return ok;
        }
        ok = PQresultStatus(result) == PGRES_TUPLES_OK;
        PQclear(result);
    }
}

int PgConnection::socket() const { return conn_ == nullptr ? -1 : PQsocket(conn_); }

bool PgConnection::broken_while_idle() {
    if (!is_open()) {
        return true;
    }
    // An idle pool connection expects nothing from the server: anything readable is a
    // termination notice or the end of the stream.
    pollfd entry{PQsocket(conn_), POLLIN, 0};
    const int ready = ::poll(&entry, 1, 0);
    return ready != 0;
}

bool PgConnection::read_notifications(std::vector<std::string>& payloads) {
    if (!is_open() || PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
        return false;
    }
    while (PGnotify* notify = PQnotifies(conn_)) {
        payloads.emplace_back(notify->extra != nullptr ? notify->extra : "");
        PQfreemem(notify);
    }
    return true;
}

namespace {

std::string field(const PGresult* result, int code) {
    const char* value = PQresultErrorField(result, code);
    return value != nullptr ? value : "";
}

// Removes the cancel action when the statement is done.
struct CancelGuard {
    CancelToken* token;
    ~CancelGuard() {
        if (token != nullptr) {
            token->clear_action();
        }
    }
};

}  // namespace

bool PgConnection::exec(std::string_view sql, const PgParams& params, Deadline deadline,
                        PgRows& rows, PgError& error, CancelToken* cancel) {
    rows.rows.clear();
    error = {};
    if (!is_open()) {
        error.kind = PgError::Kind::connection;
        return false;
    }
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) {
        values.push_back(param ? param->c_str() : nullptr);
    }
    const std::string text(sql);
    std::string statement;
    if (!prepared_name(text, static_cast<int>(values.size()), deadline, statement, error)) {
        return false;
    }
    const int sent =
        statement.empty()
            ? PQsendQueryParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                values.data(), nullptr, nullptr, 0)
            : PQsendQueryPrepared(conn_, statement.c_str(), static_cast<int>(values.size()),
                                  values.data(), nullptr, nullptr, 0);
    if (sent == 0 || !flush_output(deadline)) {
        error.kind = PgError::Kind::connection;
        close();
        return false;
    }
    CancelGuard guard{cancel_ ? cancel : nullptr};
    if (cancel_ && cancel != nullptr) {
        cancel->set_action([handle = cancel_] { send_cancel(handle); });
    }
    const bool ok = collect_results(deadline, rows, error);
    if (error.kind == PgError::Kind::server && error.sqlstate == "57014" && cancel != nullptr &&
        cancel->cancelled()) {
        error.kind = PgError::Kind::cancelled;
    }
    return ok;
}

bool PgConnection::collect_results(Deadline deadline, PgRows& rows, PgError& error) {
    bool failed = false;
    for (;;) {
        while (PQisBusy(conn_) != 0) {
            if (!wait_socket(Wait::read, deadline)) {
                // Past the deadline: stop the query on the server, then give up the connection,
                // whose protocol state is now unknown.
                error = {};
                error.kind = PgError::Kind::timeout;
                cancel_running_query();
                close();
                return false;
            }
            if (PQconsumeInput(conn_) == 0) {
                error = {};
                error.kind = PgError::Kind::connection;
                close();
                return false;
            }
        }
        PGresult* result = PQgetResult(conn_);
        if (result == nullptr) {
            break;
        }
        const ExecStatusType status = PQresultStatus(result);
        if (status == PGRES_TUPLES_OK) {
            const int count = PQntuples(result);
            const int columns = PQnfields(result);
            rows.rows.reserve(static_cast<std::size_t>(count));
            for (int r = 0; r < count; ++r) {
                std::vector<std::optional<std::string>> row;
                row.reserve(static_cast<std::size_t>(columns));
                for (int c = 0; c < columns; ++c) {
                    if (PQgetisnull(result, r, c) != 0) {
                        row.emplace_back(std::nullopt);
                    } else {
                        row.emplace_back(std::string(PQgetvalue(result, r, c),
                                                     static_cast<std::size_t>(PQgetlength(result, r, c))));
                    }
                }
                rows.rows.push_back(std::move(row));
            }
        } else if (status != PGRES_COMMAND_OK && !failed) {
            failed = true;
            error.sqlstate = field(result, PG_DIAG_SQLSTATE);
            // Without a SQLSTATE the error comes from libpq itself (a lost connection).
            error.kind = error.sqlstate.empty() ? PgError::Kind::connection : PgError::Kind::server;
            if (error.kind == PgError::Kind::server) {
                error.message = field(result, PG_DIAG_MESSAGE_PRIMARY);
                error.detail = field(result, PG_DIAG_MESSAGE_DETAIL);
                error.hint = field(result, PG_DIAG_MESSAGE_HINT);
            }
        }
        PQclear(result);
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
        if (!failed) {
            error.kind = PgError::Kind::connection;
        }
        close();
        return false;
    }
    return !failed;
}

void PgConnection::cancel_running_query() { send_cancel(cancel_); }

}  // namespace mcp::bridge
