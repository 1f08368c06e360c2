#include "remote_connection.hpp"

#include "pg_guard.hpp"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
}

#include <chrono>
#include <cstring>

namespace mcp::ext {

namespace {

using Clock = std::chrono::steady_clock;

long remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? static_cast<long>(left.count()) : 0;
}

// libpq prefixes "connection to server at ... failed:" and the server's "FATAL:  "; the
// server's own sentence is the useful part.
std::string server_sentence(const std::string& message) {
    std::string text = message;
    for (const char* marker : {"FATAL:  ", "failed: "}) {
        size_t at = text.rfind(marker);
        if (at != std::string::npos) {
            text = text.substr(at + std::strlen(marker));
            break;
        }
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    size_t newline = text.find('\n');
    return newline == std::string::npos ? text : text.substr(0, newline);
}

bool contains(const std::string& text, const char* needle) {
    return text.find(needle) != std::string::npos;
}

}  // namespace

PgError connect_failure(PGconn* connection, const ConnectionParams& params,
                        const std::string& label, bool timed_out) {
    std::string full = params.scrub(PQerrorMessage(connection));
    std::string reason = timed_out ? "timed out" : server_sentence(full);
    std::string where = std::string(PQuser(connection) ? PQuser(connection) : "?") + "@" +
                        (PQhost(connection) ? PQhost(connection) : "?") + ":" +
                        (PQport(connection) ? PQport(connection) : "?") + "/" +
                        (PQdb(connection) ? PQdb(connection) : "?");
    std::string message = "could not connect to dataset \"" + label + "\": " + reason;
    std::string detail = "Connection " + where + ". libpq: " + server_sentence(full) + ".";
    if (timed_out || reason.empty())
        detail = "Connection " + where + ". No answer before the connect timeout.";

    int sqlstate = ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
    std::string hint =
        "Check the host name and port, and that the server accepts TCP connections from the "
        "metadata server (listen_addresses, firewall).";
    if (PQconnectionNeedsPassword(connection) || contains(full, "no password supplied")) {
        sqlstate = ERRCODE_INVALID_PASSWORD;
        message = "could not connect to dataset \"" + label + "\": the server asks for a password";
        hint = "Add password=... to the connection string.";
    } else if (contains(full, "password authentication failed") ||
               contains(full, "authentication failed")) {
        sqlstate = ERRCODE_INVALID_PASSWORD;
        hint = "Check the user name and password in the connection string.";
    } else if (contains(full, "database \"") && contains(full, "does not exist")) {
        sqlstate = ERRCODE_UNDEFINED_DATABASE;
        hint = "Check dbname in the connection string; the server has no database of that name.";
    } else if ((contains(full, "role \"") && contains(full, "does not exist")) ||
               contains(full, "pg_hba.conf")) {
        sqlstate = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
        hint = "Check the user name, and that the server's pg_hba.conf admits it from here.";
    }
    return PgError(sqlstate, message, detail, hint);
}

PgError remote_error(const PGresult* result, const std::string& label) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    int sqlstate = state && std::strlen(state) == 5
                       ? MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4])
                       : ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
    const char* hint = PQresultErrorField(result, PG_DIAG_MESSAGE_HINT);
    return PgError(sqlstate, "dataset \"" + label + "\": " + (primary ? primary : "query failed"),
                   detail ? detail : "", hint ? hint : "");
}

namespace {
[[noreturn]] void raise_connect_failure(PGconn* connection, const ConnectionParams& params,
                                        const std::string& label, bool timed_out) {
    throw connect_failure(connection, params, label, timed_out);
}
}  // namespace

RemoteConnection RemoteConnection::adopt(PGconn* connection, std::string dataset_label) {
    return RemoteConnection(connection, std::move(dataset_label));
}

RemoteConnection::RemoteConnection(PGconn* connection, std::string label)
    : connection_(connection), label_(std::move(label)) {}

RemoteConnection::RemoteConnection(RemoteConnection&& other) noexcept
    : connection_(other.connection_), label_(std::move(other.label_)), busy_(other.busy_) {
    other.connection_ = nullptr;
    other.busy_ = false;
}

RemoteConnection::~RemoteConnection() {
    if (connection_ == nullptr) return;
    if (busy_) {
        // Left mid-query (error or interrupt): stop the remote work before hanging up.
        if (PGcancel* cancel = PQgetCancel(connection_)) {
            char ignored[256];
            PQcancel(cancel, ignored, sizeof ignored);
            PQfreeCancel(cancel);
        }
    }
    PQfinish(connection_);
}

void RemoteConnection::wait_for(bool want_write, long timeout_ms) {
    int events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | WL_TIMEOUT |
                 (want_write ? WL_SOCKET_WRITEABLE : WL_SOCKET_READABLE);
    pgsocket socket = PQsocket(connection_);
    int fired = pg_call([&] {
        return WaitLatchOrSocket(MyLatch, events, socket, timeout_ms, PG_WAIT_EXTENSION);
    });
    if (fired & WL_LATCH_SET) {
        pg_call([] { ResetLatch(MyLatch); });
        check_for_interrupts();
    }
}

RemoteConnection RemoteConnection::open(const ConnectionParams& params,
                                        const std::string& dataset_label,
                                        bool caller_is_superuser) {
    PGconn* raw = PQconnectStartParams(params.keywords(), params.values(), 0);
    if (raw == nullptr) throw std::bad_alloc();
    RemoteConnection connection(raw, dataset_label);
    if (PQstatus(raw) == CONNECTION_BAD) raise_connect_failure(raw, params, dataset_label, false);

    auto deadline = Clock::now() + std::chrono::seconds(params.connect_timeout_s());
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK) {
        if (state == PGRES_POLLING_FAILED) raise_connect_failure(raw, params, dataset_label, false);
        long left = remaining_ms(deadline);
        if (left == 0) raise_connect_failure(raw, params, dataset_label, true);
        connection.wait_for(state == PGRES_POLLING_WRITING, left);
        state = PQconnectPoll(raw);
    }
    if (!caller_is_superuser && !PQconnectionUsedPassword(raw))
        throw PgError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                      "dataset \"" + dataset_label + "\" was reached without a password",
                      "Non-superusers may only register datasets whose server authenticates them "
                      "by password; otherwise the metadata server's own trust would be lent out.",
                      "Use a role with a password and put password=... in the connection string.");
    if (PQsetnonblocking(raw, 1) != 0)
        throw PgError(ERRCODE_CONNECTION_FAILURE, "could not make the dataset connection "
                                                  "non-blocking");
    return connection;
}

ResultPtr RemoteConnection::query(const std::string& sql, int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms
                                                                            : 24 * 3600 * 1000);
    auto fail_link = [this](const char* step) -> PgError {
        return PgError(ERRCODE_CONNECTION_FAILURE,
                       "lost the connection to dataset \"" + label_ + "\" while " + step,
                       server_sentence(PQerrorMessage(connection_)),
                       "Retry; if it persists, check the dataset's server.");
    };
    if (PQsendQuery(connection_, sql.c_str()) != 1) throw fail_link("sending a query");
    busy_ = true;

    auto wait_or_cancel = [&](bool want_write) {
        long left = remaining_ms(deadline);
        if (left == 0)
            throw PgError(ERRCODE_QUERY_CANCELED,
                          "query on dataset \"" + label_ + "\" timed out after " +
                              std::to_string(timeout_ms) + " ms",
                          {}, "Narrow the query or aggregate more before retrying.");
        wait_for(want_write, left);
    };
    for (int flushed; (flushed = PQflush(connection_)) != 0;) {
        if (flushed < 0) throw fail_link("sending a query");
        wait_or_cancel(true);
    }
    ResultPtr last;
    ResultPtr first_error;
    for (;;) {
        while (PQisBusy(connection_)) {
            wait_or_cancel(false);
            if (PQconsumeInput(connection_) != 1) throw fail_link("reading results");
        }
        PGresult* next = PQgetResult(connection_);
        if (next == nullptr) break;
        ResultPtr result(next);
        if (PQresultStatus(next) == PGRES_FATAL_ERROR && !first_error)
            first_error = std::move(result);
        else
            last = std::move(result);
    }
    busy_ = false;
    if (first_error) throw remote_error(first_error.get(), label_);
    if (!last) throw fail_link("reading results");
    return last;
}

std::string RemoteConnection::display() const {
    auto or_default = [](const char* value) { return std::string(value ? value : ""); };
    return or_default(PQuser(connection_)) + "@" + or_default(PQhost(connection_)) + ":" +
           or_default(PQport(connection_)) + "/" + or_default(PQdb(connection_));
}

}  // namespace mcp::ext
