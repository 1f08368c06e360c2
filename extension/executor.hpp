// Running client queries on datasets: up to 30 at once over libpq's asynchronous API, all
// sockets in one WaitEventSet, each in a read-only transaction with a statement timeout,
// rows through a cursor so that no more than the cap (+1) ever leave the dataset's server.
#pragma once

#include "dataset_access.hpp"

#include <optional>
#include <string>
#include <vector>

namespace mcp::ext::executor {

struct Column {
    std::string name;
    unsigned type_oid = 0;
};

using Cell = std::optional<std::string>;  // PostgreSQL text output; nullopt is NULL
using Row = std::vector<Cell>;

struct Failure {
    int sqlstate = 0;
    std::string message, detail, hint;
};

// One query to run. The SQL must already have passed the guard.
struct Job {
    DatasetRecord dataset;
    std::string sql;
    int row_limit = 0;  // rows wanted; one more is fetched to tell whether there were more

    // Filled in by run():
    bool ok = false;
    std::vector<Column> columns;
    std::vector<Row> rows;
    bool more_rows = false;     // the server had rows past row_limit
    bool byte_capped = false;   // rows were dropped to keep to max_result_bytes
    double elapsed_ms = 0;
    Failure failure;
};

// Runs the jobs, at most max_concurrency at a time, and returns when all are done. A failing
// or slow job only fails itself. pg_cancel_backend and statement_timeout interrupt the wait
// (PgError), and every remote query in flight is cancelled on the way out.
void run(std::vector<Job*>& jobs, int max_concurrency);

}  // namespace mcp::ext::executor
