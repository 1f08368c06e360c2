#include "pg_connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>

namespace mcp::bridge {

namespace {

int remaining_ms(Deadline deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

PgConnection::~PgConnection() { close(); }

bool PgConnection::connect(const std::string& conninfo, Deadline deadline) {
    close();
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
    if (conn_ != nullptr) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
}

bool PgConnection::wait_socket(Wait what, Deadline deadline) const {
    // The socket can change while connecting (several hosts in the URL), so ask every time.
    const int fd = PQsocket(conn_);
    if (fd < 0) {
        return false;
    }
    pollfd entry{fd, static_cast<short>(what == Wait::read ? POLLIN : POLLOUT), 0};
    for (;;) {
        const int ready = ::poll(&entry, 1, remaining_ms(deadline));
        if (ready > 0) {
            return true;  // errors and hang-ups included: libpq reports them on the next call
        }
        if (ready == 0 || errno != EINTR) {
            return false;
        }
    }
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

}  // namespace mcp::bridge
