// The boundary between PostgreSQL's error world (ereport/longjmp) and C++'s (exceptions,
// destructors). Both directions live here so that every crossing looks the same:
//
//   * sql_entry(body) — around every SQL-callable function: runs C++ code and turns any
//     escaping exception into ereport(ERROR) only after all C++ frames have unwound.
//   * pg_call(fn)     — around every call from C++ into a PostgreSQL API that may ereport:
//     catches the longjmp with PG_TRY and rethrows it as a PgError carrying the original
//     ErrorData (SQLSTATE, message, detail, hint), so destructors run on the way out.
//
// Rule: between a PostgreSQL call that may ereport and the nearest pg_call, no object with a
// non-trivial destructor may live; between a C++ throw and sql_entry, anything may.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace mcp::ext {

// An error meant for the SQL caller: what went wrong, the facts, and what to do.
// Never put a secret in any of the three texts.
class PgError : public std::exception {
public:
    // An error raised by our own C++ code.
    PgError(int sqlstate, std::string message, std::string detail = {}, std::string hint = {})
        : sqlstate_(sqlstate),
          message_(std::move(message)),
          detail_(std::move(detail)),
          hint_(std::move(hint)) {}

    // An error PostgreSQL raised inside pg_call; kept whole so it is rethrown unchanged.
    explicit PgError(ErrorData* original) : original_(original) {}

    const char* what() const noexcept override {
        return original_ != nullptr ? original_->message : message_.c_str();
    }
    int sqlstate() const { return original_ != nullptr ? original_->sqlerrcode : sqlstate_; }
    const std::string& detail() const { return detail_; }
    const std::string& hint() const { return hint_; }
    ErrorData* original() const { return original_; }

private:
    int sqlstate_ = 0;
    std::string message_;
    std::string detail_;
    std::string hint_;
    ErrorData* original_ = nullptr;  // palloc'd in the memory context current at pg_call
};

namespace guard_detail {

// Fixed buffers: the error path must neither allocate nor own anything with a destructor,
// because ereport leaves this frame by longjmp.
struct PendingError {
    ErrorData* original = nullptr;
    int sqlstate = 0;
    char message[2048];
    char detail[4096];
    char hint[1024];
};

void capture(PendingError& pending, const PgError& error) noexcept;
void capture(PendingError& pending, int sqlstate, const char* message) noexcept;
void capture_internal(PendingError& pending, const char* what) noexcept;
[[noreturn]] void raise(const PendingError& pending);

}  // namespace guard_detail

// Runs the body of a SQL-callable function. Any C++ exception becomes ereport(ERROR) after
// the body's objects are destroyed; a PgError keeps its SQLSTATE, detail and hint.
template <typename Body>
Datum sql_entry(Body&& body) {
    guard_detail::PendingError pending;
    try {
        return body();
    } catch (const PgError& error) {
        guard_detail::capture(pending, error);
    } catch (const std::bad_alloc&) {
        guard_detail::capture(pending, ERRCODE_OUT_OF_MEMORY, "out of memory in mcp_analytics");
    } catch (const std::exception& error) {
        guard_detail::capture_internal(pending, error.what());
    } catch (...) {
        guard_detail::capture_internal(pending, "unknown C++ exception");
    }
    guard_detail::raise(pending);
}

// Calls a PostgreSQL API that may ereport. The result type must be trivially copyable
// (Datum, pointers, integers): it crosses a setjmp. The error is copied into
// `error_context`, by default the current memory context: name one that outlives the
// current context when that one is deleted on the way out (SPI's, at SPI_finish).
template <typename Fn>
auto pg_call(Fn&& fn, MemoryContext error_context = nullptr) -> decltype(fn()) {
    using Result = decltype(fn());
    static_assert(std::is_void_v<Result> || std::is_trivially_copyable_v<Result>,
                  "pg_call results must be trivially copyable");
    MemoryContext volatile caller_context = error_context != nullptr ? error_context : CurrentMemoryContext;
    ErrorData* volatile error = nullptr;
    if constexpr (std::is_void_v<Result>) {
        PG_TRY();
        { fn(); }
        PG_CATCH();
        {
            MemoryContextSwitchTo(caller_context);
            error = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (error != nullptr) throw PgError(error);
    } else {
        Result result{};
        Result* volatile slot = &result;
        PG_TRY();
        { *slot = fn(); }
        PG_CATCH();
        {
            MemoryContextSwitchTo(caller_context);
            error = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (error != nullptr) throw PgError(error);
        return result;
    }
}

// Waits and honours interrupts: pg_cancel_backend, statement_timeout and shutdown raise
// here (as PgError) instead of being ignored while we wait on a socket.
void check_for_interrupts();

}  // namespace mcp::ext
