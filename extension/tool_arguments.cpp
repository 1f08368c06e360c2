// mcp._argument_problem: the first way a tool call's arguments break the tool's input schema,
// as a sentence for the model (SEP-1303), or NULL. It runs on every tools/call; as recursive
// PL/pgSQL it cost more than the rest of the dispatch, so it walks the jsonb values in place.
// The keywords are those our tools use: type, enum, minimum, maximum, minLength, maxLength,
// minItems, maxItems, items, required, properties, additionalProperties. The sentences are
// those of the PL/pgSQL version it replaced, word for word (pgTAP checks them).
#include "pg_guard.hpp"
#include "jsonb_access.hpp"
#include "tool_arguments.hpp"
#include "pg_values.hpp"

extern "C" {
#include "catalog/pg_collation.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/varlena.h"
}

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace mcp::ext::tool_arguments {

namespace {

// jsonb values are palloc'd copies in the function's memory context: no destructors involved.
using Json = Jsonb*;

Json to_jsonb(JsonbValue* value) {
    return pg_call([&] { return JsonbValueToJsonb(value); });
}

// jsonb_typeof
std::string type_of(Json value) {
    if (JB_ROOT_IS_OBJECT(value)) return "object";
    if (!JB_ROOT_IS_SCALAR(value)) return "array";
    JsonbValue scalar;
    pg_call([&] { JsonbExtractScalar(&value->root, &scalar); });
    switch (scalar.type) {
        case jbvNull: return "null";
        case jbvString: return "string";
        case jbvNumeric: return "number";
        default: return "boolean";
    }
}

using jsonb::member;
using jsonb::text_member;
using jsonb::text_of;

Numeric number_of(Json value) {
    JsonbValue scalar;
    pg_call([&] { JsonbExtractScalar(&value->root, &scalar); });
    return scalar.val.numeric;
}

// text::numeric and text::integer, with PostgreSQL's own errors for what does not convert.
Numeric numeric_from(const std::string& text) {
    return pg_call([&] {
        return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text.c_str()),
                                                   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
    });
}

long integer_from(const std::string& text) {
    return pg_call([&] { return static_cast<long>(DatumGetInt32(DirectFunctionCall1(int4in, CStringGetDatum(text.c_str())))); });
}

int compare(Numeric a, Numeric b) {
    return pg_call([&] {
        return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
    });
}

bool is_integral(Numeric value) {
    Numeric truncated = pg_call([&] {
        return DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(value), Int32GetDatum(0)));
    });
    return compare(value, truncated) == 0;
}

// length() of a string value: characters, not bytes.
long characters(Json value) {
    JsonbValue scalar;
    pg_call([&] { JsonbExtractScalar(&value->root, &scalar); });
    return pg_call([&] { return pg_mbstrlen_with_len(scalar.val.string.val, scalar.val.string.len); });
}

// left(text, n): the first n characters.
std::string first_characters(const std::string& text, int count) {
    int bytes = pg_call([&] { return pg_mbcharcliplen(text.c_str(), static_cast<int>(text.size()), count); });
    return text.substr(0, static_cast<size_t>(bytes));
}

long array_length(Json array) { return JB_ROOT_COUNT(array); }

Json element(Json array, long index) {
    JsonbValue* found = pg_call([&] {
        return getIthJsonbValueFromContainer(&array->root, static_cast<uint32>(index));
    });
    return to_jsonb(found);
}

// The keys of an object in jsonb's order (jsonb_object_keys).
std::vector<std::string> keys_of(Json object) {
    std::vector<std::string> keys;
    if (object == nullptr || !JB_ROOT_IS_OBJECT(object)) return keys;
    JsonbIterator* iterator = pg_call([&] { return JsonbIteratorInit(&object->root); });
    for (;;) {
        JsonbValue token;
        JsonbIteratorToken kind = pg_call([&] { return JsonbIteratorNext(&iterator, &token, true); });
        if (kind == WJB_DONE) break;
        if (kind == WJB_KEY) keys.emplace_back(token.val.string.val, token.val.string.len);
    }
    return keys;
}

// jsonb_array_elements_text, without the NULLs of JSON nulls.
std::vector<std::string> texts_of(Json array) {
    std::vector<std::string> texts;
    if (array == nullptr || JB_ROOT_IS_SCALAR(array) || JB_ROOT_IS_OBJECT(array)) return texts;
    for (long i = 0; i < array_length(array); ++i) {
        Json item = element(array, i);
        if (type_of(item) == "null") continue;
        if (type_of(item) == "string") {
            JsonbValue scalar;
            pg_call([&] { JsonbExtractScalar(&item->root, &scalar); });
            texts.emplace_back(scalar.val.string.val, scalar.val.string.len);
        } else {
            texts.push_back(text_of(item));
        }
    }
    return texts;
}

// (schema -> 'enum') @> jsonb_build_array(value)
bool enum_allows(Json allowed, Json value) {
    const std::string wrapped = "[" + text_of(value) + "]";
    return pg_call([&] {
        Datum candidate = DirectFunctionCall1(jsonb_in, CStringGetDatum(wrapped.c_str()));
        return DatumGetBool(DirectFunctionCall2(jsonb_contains, JsonbPGetDatum(allowed), candidate));
    });
}

// string_agg(key, ', ' ORDER BY key) in the database's default collation, as the SQL did.
std::string sorted_list(std::vector<std::string> names) {
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
        return pg_call([&] {
            return varstr_cmp(a.data(), static_cast<int>(a.size()), b.data(), static_cast<int>(b.size()),
                              DEFAULT_COLLATION_OID);
        }) < 0;
    });
    std::string list;
    for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
    return list;
}

std::optional<std::string> problem(Json schema, Json value, const std::string& path) {
    if (value == nullptr || schema == nullptr) return std::nullopt;
    const std::optional<std::string> wanted = text_member(schema, "type");
    const std::string actual = type_of(value);
    if (wanted == "integer") {
        if (actual != "number" || !is_integral(number_of(value)))
            return path + " must be an integer, not " + first_characters(text_of(value), 60);
    } else if (wanted && *wanted != actual) {
        return path + " must be a JSON " + *wanted + ", not " + actual;
    }
    if (Json allowed = member(schema, "enum"); allowed != nullptr && !enum_allows(allowed, value))
        return path + " must be one of " + text_of(allowed);
    if (actual == "number") {
        if (auto minimum = text_member(schema, "minimum");
            minimum && compare(number_of(value), numeric_from(*minimum)) < 0)
            return path + " must be at least " + *minimum;
        if (auto maximum = text_member(schema, "maximum");
            maximum && compare(number_of(value), numeric_from(*maximum)) > 0)
            return path + " must be at most " + *maximum;
    } else if (actual == "string") {
        if (auto least = text_member(schema, "minLength"); least && characters(value) < integer_from(*least))
            return path + " must not be empty";
        if (auto most = text_member(schema, "maxLength"); most && characters(value) > integer_from(*most))
            return path + " is longer than " + *most + " characters";
    } else if (actual == "array") {
        const long length = array_length(value);
        if (auto least = text_member(schema, "minItems"); least && length < integer_from(*least))
            return path + " needs at least " + *least + " item(s)";
        if (auto most = text_member(schema, "maxItems"); most && length > integer_from(*most))
            return path + " takes at most " + *most + " items, got " + std::to_string(length);
        if (Json items = member(schema, "items"); items != nullptr)
            for (long i = 0; i < length; ++i)
                if (auto found = problem(items, element(value, i), path + "[" + std::to_string(i) + "]"))
                    return found;
    } else if (actual == "object") {
        for (const std::string& key : texts_of(member(schema, "required"))) {
            Json given = member(value, key);
            if (given == nullptr || type_of(given) == "null") return path + "." + key + " is required";
        }
        Json properties = member(schema, "properties");
        Json additional = member(schema, "additionalProperties");
        const bool closed = additional != nullptr && text_of(additional) == "false";
        for (const std::string& key : keys_of(value)) {
            if (Json property = member(properties, key); property != nullptr) {
                if (auto found = problem(property, member(value, key), path + "." + key)) return found;
            } else if (closed) {
                std::vector<std::string> fields = keys_of(properties);
                return path + " has no field \"" + key + "\"; its fields are: " +
                       (fields.empty() ? std::string("none") : sorted_list(std::move(fields)));
            }
        }
    }
    return std::nullopt;
}

Json jsonb_argument(FunctionCallInfo fcinfo, int index) {
    if (argument_is_null(fcinfo, index)) return nullptr;
    return pg_call([&] { return PG_GETARG_JSONB_P(index); });
}

}  // namespace

std::optional<std::string> first_problem(Jsonb* schema, Jsonb* value, const std::string& path) {
    return problem(schema, value, path);
}

Datum argument_problem(FunctionCallInfo fcinfo) {
    const std::string path = argument_is_null(fcinfo, 2) ? "" : text_argument(fcinfo, 2);
    std::optional<std::string> found = problem(jsonb_argument(fcinfo, 0), jsonb_argument(fcinfo, 1), path);
    if (!found) {
        fcinfo->isnull = true;
        return Datum(0);
    }
    return text_datum(*found);
}

}  // namespace mcp::ext::tool_arguments

extern "C" {
PG_FUNCTION_INFO_V1(mcp_argument_problem);

Datum mcp_argument_problem(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::tool_arguments::argument_problem(fcinfo); });
}
}
