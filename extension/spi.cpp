#include "spi.hpp"

#include "pg_guard.hpp"

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
    Connection() {
        pg_call([] {
            if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        });
    }
    ~Connection() {
        try {
            pg_call([] { SPI_finish(); });
        } catch (...) {
            // The transaction is being aborted anyway; SPI's state is reset with it.
        }
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
};

}  // namespace

std::vector<Row> query(const std::string& sql, const std::vector<Value>& params, bool read_only) {
    Connection connection;
    const int count = static_cast<int>(params.size());
    std::vector<Oid> types(count, TEXTOID);
    std::vector<Datum> values(count);
    std::vector<char> nulls(count, ' ');
    for (int i = 0; i < count; ++i) {
        if (!params[i]) {
            nulls[i] = 'n';
            continue;
        }
        const std::string& text = *params[i];
        values[i] = pg_call([&] {
            return PointerGetDatum(cstring_to_text_with_len(text.data(), (int)text.size()));
        });
    }
    int status = pg_call([&] {
        return SPI_execute_with_args(sql.c_str(), count, types.data(), values.data(), nulls.data(),
                                     read_only, 0);
    });
    if (status < 0)
        throw PgError(ERRCODE_INTERNAL_ERROR, "SPI failed (" + std::to_string(status) + ")",
                      sql);
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
                [&] { return SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c); });
            row.push_back(text ? Value(std::string(text)) : Value());
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

Value query_value(const std::string& sql, const std::vector<Value>& params) {
    std::vector<Row> rows = query(sql, params);
    if (rows.empty() || rows[0].empty()) return std::nullopt;
    return rows[0][0];
}

}  // namespace mcp::ext::spi
