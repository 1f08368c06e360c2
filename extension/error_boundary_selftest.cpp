// mcp._test_error_boundary(kind): raises each kind of failure across the C++/PostgreSQL
// boundary on purpose, so tests can prove that every kind becomes a proper SQL error and
// that the C++ objects alive at the time were destroyed. Superuser-only.
#include "pg_guard.hpp"
#include "pg_values.hpp"

extern "C" {
#include "utils/builtins.h"
}

#include <stdexcept>

namespace mcp::ext {

namespace {

int live_trackers = 0;

// Stands for any C++ object with a destructor (a connection, a buffer) caught mid-flight.
class Tracker {
public:
    Tracker() { ++live_trackers; }
    ~Tracker() { --live_trackers; }
    Tracker(const Tracker&) = delete;
    Tracker& operator=(const Tracker&) = delete;
};

Datum test_error_boundary(FunctionCallInfo fcinfo) {
    std::string kind = text_argument(fcinfo, 0);
    if (kind == "live_objects") return text_datum(std::to_string(live_trackers));
    Tracker in_flight;
    std::string owned(1000, 'x');  // heap memory that must be freed on every path
    if (kind == "cpp_exception") throw std::runtime_error("deliberate C++ exception");
    if (kind == "unknown_exception") throw 42;
    if (kind == "bad_alloc") throw std::bad_alloc();
    if (kind == "mcp_error")
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "deliberate mcp error",
                      "detail of the deliberate error", "hint of the deliberate error");
    if (kind == "postgres_error")
        pg_call([] { return DirectFunctionCall1(int4in, CStringGetDatum("not a number")); });
    if (kind == "none") return text_datum("ok");
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "unknown kind \"" + kind + "\"", {},
                  "Use cpp_exception, unknown_exception, bad_alloc, mcp_error, postgres_error, "
                  "none or live_objects.");
}

}  // namespace

}  // namespace mcp::ext

extern "C" {
PG_FUNCTION_INFO_V1(mcp_test_error_boundary);
Datum mcp_test_error_boundary(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::test_error_boundary(fcinfo); });
}
}
