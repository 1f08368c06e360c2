// Small, safe access to the metadata tables through SPI: parameters and results travel as
// text, results are copied into C++ strings before SPI_finish frees them. Every SPI call
// goes through pg_call, so a failing statement becomes a PgError.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mcp::ext::spi {

using Value = std::optional<std::string>;  // nullopt is SQL NULL
using Row = std::vector<Value>;

// Runs one statement with $1..$n bound as text (cast them in the SQL: $1::int). Connects to
// SPI for the call and disconnects before returning, so it may be called from anywhere a
// transaction is open. read_only selects a snapshot-only execution for SELECTs.
std::vector<Row> query(const std::string& sql, const std::vector<Value>& params = {},
                       bool read_only = false);

// As query, for the few statements of the per-call hot path: the statement (a string
// literal, identified by its address) is planned once per backend and the plan is kept.
// The parameter count must be the same on every call.
std::vector<Row> query_saved(const char* sql, const std::vector<Value>& params = {},
                             bool read_only = false);

// The first column of the first row, or nullopt when there is no row.
Value query_value(const std::string& sql, const std::vector<Value>& params = {});

}  // namespace mcp::ext::spi
