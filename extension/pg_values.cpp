#include "pg_values.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif
}

#include <cstring>

namespace mcp::ext {

bool argument_is_null(FunctionCallInfo fcinfo, int index) { return PG_ARGISNULL(index); }

std::string text_argument(FunctionCallInfo fcinfo, int index) {
    text* value = pg_call([&] { return PG_GETARG_TEXT_PP(index); });
    return std::string(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

std::vector<unsigned char> bytea_argument(FunctionCallInfo fcinfo, int index) {
    bytea* value = pg_call([&] { return PG_GETARG_BYTEA_PP(index); });
    const auto* start = reinterpret_cast<const unsigned char*>(VARDATA_ANY(value));
    return std::vector<unsigned char>(start, start + VARSIZE_ANY_EXHDR(value));
}

Datum text_datum(const std::string& value) {
    return pg_call([&] {
        return PointerGetDatum(cstring_to_text_with_len(value.data(), (int)value.size()));
    });
}

Datum bytea_datum(const std::vector<unsigned char>& value) {
    return pg_call([&] {
        bytea* result = static_cast<bytea*>(palloc(VARHDRSZ + value.size()));
        SET_VARSIZE(result, VARHDRSZ + value.size());
        std::memcpy(VARDATA(result), value.data(), value.size());
        return PointerGetDatum(result);
    });
}

Datum jsonb_datum(const std::string& json_text) {
    return pg_call([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(json_text.c_str())); });
}

bool caller_is_superuser() {
    return pg_call([] { return superuser_arg(GetOuterUserId()); });
}

}  // namespace mcp::ext
