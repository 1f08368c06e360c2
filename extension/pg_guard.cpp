#include "pg_guard.hpp"

extern "C" {
#include "miscadmin.h"
}

#include <cstdio>

namespace mcp::ext {

namespace guard_detail {

namespace {

void copy_text(char* target, size_t size, const char* source) noexcept {
    std::snprintf(target, size, "%s", source != nullptr ? source : "");
}

}  // namespace

void capture(PendingError& pending, const PgError& error) noexcept {
    pending.original = error.original();
    pending.sqlstate = error.sqlstate();
    copy_text(pending.message, sizeof pending.message, error.what());
    copy_text(pending.detail, sizeof pending.detail, error.detail().c_str());
    copy_text(pending.hint, sizeof pending.hint, error.hint().c_str());
}

void capture(PendingError& pending, int sqlstate, const char* message) noexcept {
    pending.original = nullptr;
    pending.sqlstate = sqlstate;
    copy_text(pending.message, sizeof pending.message, message);
    pending.detail[0] = '\0';
    pending.hint[0] = '\0';
}

void capture_internal(PendingError& pending, const char* what) noexcept {
    capture(pending, ERRCODE_INTERNAL_ERROR, "");
    std::snprintf(pending.message, sizeof pending.message, "internal error in mcp_analytics: %s",
                  what != nullptr ? what : "");
    copy_text(pending.hint, sizeof pending.hint,
              "This is a bug; the statement was rolled back and the session is still usable.");
}

void raise(const PendingError& pending) {
    if (pending.original != nullptr) ReThrowError(pending.original);
    ereport(ERROR, (errcode(pending.sqlstate), errmsg("%s", pending.message),
                    pending.detail[0] != '\0' ? errdetail("%s", pending.detail) : 0,
                    pending.hint[0] != '\0' ? errhint("%s", pending.hint) : 0));
    pg_unreachable();
}

}  // namespace guard_detail

void check_for_interrupts() {
    pg_call([] { CHECK_FOR_INTERRUPTS(); });
}

}  // namespace mcp::ext
