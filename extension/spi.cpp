#include "spi.hpp"

#include "pg_guard.hpp"

#include <unordered_map>

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
}

namespace mcp::ext::spi {

namespace {

// Disconnects from SPI when the call ends, also when it ends by an exception.
class Connection {
public:
    Connection() : outer_(CurrentMemoryContext) {
        pg_call([] {
            if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        });
    }
    // The memory context before SPI_connect: errors are copied there, since SPI_finish
    // deletes SPI's own context while the error is still on its way to the caller.
    MemoryContext outer() const { return outer_; }
    ~Connection() {
        try {
            pg_call([] { SPI_finish(); });
        } catch (...) {
            // The transaction is being aborted anyway; SPI's state is reset with it.
        }
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

private:
    MemoryContext outer_;
};

// Parameters as text Datums (palloc'd in the caller's SPI context).
struct Bound {
    std::vector<Oid> types;
    std::vector<Datum> values;
    std::vector<char> nulls;
};

Bound bind(const std::vector<Value>& params, MemoryContext errors) {
    const size_t count = params.size();
    Bound bound{std::vector<Oid>(count, TEXTOID), std::vector<Datum>(count), std::vector<char>(count, ' ')};
    for (size_t i = 0; i < count; ++i) {
        if (!params[i]) {
            bound.nulls[i] = 'n';
            continue;
        }
        const std::string& text = *params[i];
        bound.values[i] = pg_call([&] {
            return PointerGetDatum(cstring_to_text_with_len(text.data(), (int)text.size()));
        }, errors);
    }
    return bound;
}

std::vector<Row> collect(int status, const char* sql, MemoryContext errors) {
    if (status < 0)
        throw PgError(ERRCODE_INTERNAL_ERROR, "SPI failed (" + std::to_string(status) + ")", sql);
    std::vector<Row> rows;
    if (SPI_tuptable == nullptr) return rows;
    const uint64 row_count = SPI_processed;
    const int column_count = SPI_tuptable->tupdesc->natts;
    rows.reserve(row_count);
    for (uint64 r = 0; r < row_count; ++r) {
        Row row;
        row.reserve(column_count);
        for (int c = 1; c <= column_count; ++c) {
            char* text = pg_call(
                [&] { return SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c); }, errors);
            row.push_back(text ? Value(std::string(text)) : Value());
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

// Saved plans of the hot-path statements, for the life of the backend. SPI_keepplan moves a
// plan under CacheMemoryContext; PostgreSQL's plan cache revalidates it after DDL.
std::unordered_map<const char*, SPIPlanPtr>& saved_plans() {
    static std::unordered_map<const char*, SPIPlanPtr> plans;
    return plans;
}

}  // namespace

std::vector<Row> query(const std::string& sql, const std::vector<Value>& params, bool read_only) {
    Connection connection;
    Bound bound = bind(params, connection.outer());
    int status = pg_call([&] {
        return SPI_execute_with_args(sql.c_str(), static_cast<int>(params.size()), bound.types.data(),
                                     bound.values.data(), bound.nulls.data(), read_only, 0);
    }, connection.outer());
    return collect(status, sql.c_str(), connection.outer());
}

std::vector<Row> query_saved(const char* sql, const std::vector<Value>& params, bool read_only) {
    Connection connection;
    Bound bound = bind(params, connection.outer());
    auto& plans = saved_plans();
    auto found = plans.find(sql);
    if (found == plans.end()) {
        SPIPlanPtr plan = pg_call([&] {
            SPIPlanPtr prepared = SPI_prepare(sql, static_cast<int>(params.size()), bound.types.data());
            if (prepared == nullptr)
                elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
            SPI_keepplan(prepared);
            return prepared;
        }, connection.outer());
        found = plans.emplace(sql, plan).first;
    }
    SPIPlanPtr plan = found->second;
    int status = pg_call([&] {
        return SPI_execute_plan(plan, bound.values.data(), bound.nulls.data(), read_only, 0);
    }, connection.outer());
    return collect(status, sql, connection.outer());
}

Value query_value(const std::string& sql, const std::vector<Value>& params) {
    std::vector<Row> rows = query(sql, params);
    if (rows.empty() || rows[0].empty()) return std::nullopt;
    return rows[0][0];
}

}  // namespace mcp::ext::spi
