// mcp.call_tool (tools/call) and mcp._result_text. Every MCP tool call runs through call_tool;
// as PL/pgSQL its own steps (the catalog row, the scope check, the handler's frame, the
// answer's jsonb built and taken apart) cost more than the query it wraps, so it is C++:
// the catalog row and the caller's scope answer are kept per registry generation, the
// execute_query tool runs without a SQL frame of its own, and the result is written once.
// What it answers is what the PL/pgSQL version answered (pgTAP and the MCP clients check).
#include "jsonb_access.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"
#include "query_functions.hpp"
#include "registry_generation.hpp"
#include "caller.hpp"
#include "spi.hpp"
#include "tool_arguments.hpp"
#include "tool_available.hpp"
#include "untrusted_fence.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"
}

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mcp::ext::tool_call {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// --- the catalog ------------------------------------------------------------------------

struct Tool {
    std::string handler;
    std::string input_schema;  // as jsonb bytes, parsed once: read it through schema()
    std::vector<std::string> requires_list;

    Jsonb* schema() const { return reinterpret_cast<Jsonb*>(const_cast<char*>(input_schema.data())); }
};

const char* const kToolRow =
    "SELECT t.handler, t.input_schema::text, pg_catalog.array_to_json(t.requires)::text"
    "  FROM mcp.tools t WHERE t.name OPERATOR(pg_catalog.=) $1";

std::optional<Tool> read_tool(const std::string& name) {
    auto rows = spi::query_saved(kToolRow, {name}, true);
    if (rows.empty()) return std::nullopt;
    Jsonb* schema = jsonb::from_text(rows[0][1].value_or("{}"));
    Tool tool{rows[0][0].value_or(""), std::string(reinterpret_cast<const char*>(schema), VARSIZE(schema)), {}};
    rapidjson::Document requires_list;
    if (rows[0][2] && !requires_list.Parse(rows[0][2]->c_str()).HasParseError() && requires_list.IsArray())
        for (const auto& item : requires_list.GetArray())
            if (item.IsString()) tool.requires_list.emplace_back(item.GetString(), item.GetStringLength());
    return tool;
}

// The row of mcp.tools named `name`, kept until the registry's generation moves.
std::optional<Tool> find_tool(const std::string& name) {
    static registry_generation::Kept<std::string, std::optional<Tool>> kept(256);  // unknown names too
    return kept.get(name, read_tool);
}

// --- the caller's scopes ----------------------------------------------------------------

struct MissingScope {
    std::string message;
    std::string scope;
};

// mcp._missing_tool_scope(name): why an OAuth connection may not run the tool. It reads the
// caller's mcp.api_keys row only, so the answer is kept per caller and tool.
std::optional<MissingScope> missing_scope(const std::string& tool_name) {
    const std::optional<int> key = caller::api_key_id();
    if (!key) return std::nullopt;  // a direct SQL call has no scopes to lack
    static registry_generation::Kept<std::pair<int, std::string>, std::optional<MissingScope>> kept(1024);
    return kept.get(std::make_pair(*key, tool_name), [](const std::pair<int, std::string>& asked) {
        auto rows = spi::query_saved("SELECT s OPERATOR(pg_catalog.->>) 'message', s OPERATOR(pg_catalog.->>) 'scope'"
                                     "  FROM mcp._missing_tool_scope($1) AS s",
                                     {asked.second}, true);
        std::optional<MissingScope> missing;
        if (!rows.empty() && rows[0][0]) missing = MissingScope{*rows[0][0], rows[0][1].value_or("")};
        return missing;
    });
}

// --- results ----------------------------------------------------------------------------

void write_string(JsonWriter& out, const std::string& text) {
    out.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
}

// {content: [{type: text, text}], ...}: the opening every result shares.
void open_result(JsonWriter& out, const std::string& text) {
    out.StartObject();
    out.Key("content");
    out.StartArray();
    out.StartObject();
    out.Key("type");
    out.String("text");
    out.Key("text");
    write_string(out, text);
    out.EndObject();
    out.EndArray();
}

// mcp._tool_error(message), with _meta naming the scope to ask for when one is missing.
std::string tool_error(const std::string& message, const std::string* insufficient_scope = nullptr) {
    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    open_result(out, message);
    out.Key("isError");
    out.Bool(true);
    if (insufficient_scope != nullptr) {
        out.Key("_meta");
        out.StartObject();
        out.Key("mcp-analytics/insufficient_scope");
        write_string(out, *insufficient_scope);
        out.EndObject();
    }
    out.EndObject();
    return buffer.GetString();
}

// A handler's answer {text, structured}: `structured` is raw JSON, empty when absent.
struct Answer {
    std::string text;
    std::string structured;
};

// What a call answers: the MCP result as JSON text, and the two facts the bridge acts on.
struct Outcome {
    std::string json;
    bool is_error = false;
    std::optional<std::string> insufficient_scope;
};

Outcome error_outcome(const std::string& message, const std::string* insufficient_scope = nullptr) {
    Outcome outcome{tool_error(message, insufficient_scope), true, std::nullopt};
    if (insufficient_scope != nullptr) outcome.insufficient_scope = *insufficient_scope;
    return outcome;
}

std::string tool_result(const Answer& answer) {
    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    open_result(out, answer.text);
    out.Key("structuredContent");
    if (answer.structured.empty()) {
        out.StartObject();
        out.EndObject();
    } else {
        out.RawValue(answer.structured.c_str(), answer.structured.size(), rapidjson::kObjectType);
    }
    out.Key("isError");
    out.Bool(false);
    out.EndObject();
    return buffer.GetString();
}

std::string json_text(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    value.Accept(out);
    return buffer.GetString();
}

// round(x::numeric, 1)::text, as the SQL version wrote a query's time.
std::string one_decimal(const std::string& number_text) {
    char* text = pg_call([&] {
        Datum number = DirectFunctionCall3(numeric_in, CStringGetDatum(number_text.c_str()),
                                           ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
        return DatumGetCString(
            DirectFunctionCall1(numeric_out, DirectFunctionCall2(numeric_round, number, Int32GetDatum(1))));
    });
    return text;
}

// ->> of a parsed object: a string unquoted, null or absent as nullopt, anything else as JSON.
std::optional<std::string> text_of_member(const rapidjson::Value& object, const char* key) {
    auto found = object.FindMember(key);
    if (found == object.MemberEnd() || found->value.IsNull()) return std::nullopt;
    if (found->value.IsString()) return std::string(found->value.GetString(), found->value.GetStringLength());
    return json_text(found->value);
}

bool true_member(const rapidjson::Value& object, const char* key) {
    auto found = object.FindMember(key);
    return found != object.MemberEnd() && found->value.IsBool() && found->value.GetBool();
}

// An execute_query result as text for the model: the table fenced as untrusted data (the rows
// as JSON for format json, read from `as_jsonb`, the same result as jsonb, so that numbers
// keep every digit and the text is jsonb's, as the SQL version showed), its warnings, then
// row count, truncation, time and cache.
std::string result_text(const rapidjson::Value& result, const std::string& format, Jsonb* as_jsonb) {
    std::vector<std::string> parts;
    if (result.IsObject()) {
        std::string table;
        if (format == "json") {
            Jsonb* rows = jsonb::member(as_jsonb, "rows");
            table = rows != nullptr ? jsonb::text_of(rows) : "[]";
        } else {
            table = text_of_member(result, "text").value_or("");
        }
        parts.push_back(fence::wrap(table));
        auto warnings = result.FindMember("warnings");
        if (warnings != result.MemberEnd() && warnings->value.IsArray() && !warnings->value.Empty()) {
            std::string lines;
            for (const auto& warning : warnings->value.GetArray()) {
                if (warning.IsNull()) continue;  // 'Warning: ' || NULL, left out by string_agg
                if (!lines.empty()) lines += '\n';
                lines += "Warning: " + (warning.IsString() ? std::string(warning.GetString(), warning.GetStringLength())
                                                           : json_text(warning));
            }
            if (!lines.empty()) parts.push_back(lines);
        }
        std::string summary = text_of_member(result, "row_count").value_or("0") + " row(s)";
        if (true_member(result, "truncated")) summary += ", truncated";
        if (result.HasMember("execution_time_ms")) {
            if (auto ms = text_of_member(result, "execution_time_ms")) summary += ", " + one_decimal(*ms) + " ms";
        }
        if (true_member(result, "cached")) summary += ", from cache";
        parts.push_back(summary);
    } else {
        parts.push_back(fence::wrap(format == "json" ? "[]" : ""));
        parts.push_back("0 row(s)");
    }
    std::string text;
    for (const std::string& part : parts) text += (text.empty() ? "" : "\n\n") + part;
    return text;
}

// --- the handlers -----------------------------------------------------------------------

// The execute_query tool: mcp.execute_query with the tool's arguments, then its result as
// text for the model.
Answer run_execute_query(Jsonb* arguments, const std::string& caller_json) {
    const std::optional<std::string> dataset_id = jsonb::text_member(arguments, "dataset_id");
    const std::optional<std::string> sql = jsonb::text_member(arguments, "sql");
    const std::string format = jsonb::text_member(arguments, "format").value_or("markdown");
    const std::optional<std::string> max_rows = jsonb::text_member(arguments, "max_rows");
    if (!dataset_id || !sql)
        throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "execute_query does not take NULL arguments", {},
                      "Give dataset_id, sql, and optionally max_rows, format and context.");
    // (arguments ->> 'dataset_id')::integer, with the cast's own errors.
    auto integer = [](const std::string& text) {
        return pg_call([&] { return DatumGetInt32(DirectFunctionCall1(int4in, CStringGetDatum(text.c_str()))); });
    };
    const std::string answer = query_functions::execute_query_answer(
        integer(*dataset_id), *sql, max_rows ? integer(*max_rows) : 1000, format, caller_json);
    rapidjson::Document result;
    result.Parse<rapidjson::kParseFullPrecisionFlag>(answer.c_str());
    return Answer{result_text(result, format, format == "json" ? jsonb::from_text(answer) : nullptr), answer};
}

// Any other handler through SQL: handler(arguments, caller) -> {text, structured}, taken
// apart by jsonb's own operators (numbers keep every digit). Each handler's statement is
// planned once per backend (handlers are few: the catalog's rows).
Answer run_sql_handler(const std::string& handler, Jsonb* arguments, const std::string& caller_json) {
    static std::unordered_map<std::string, std::string> statements;  // addresses stay put
    auto statement = statements.find(handler);
    if (statement == statements.end())
        statement = statements
                        .emplace(handler, "SELECT a OPERATOR(pg_catalog.->>) 'text', (a OPERATOR(pg_catalog.->) 'structured')::text"
                                          "  FROM (SELECT " + handler + "($1::jsonb, $2::jsonb) AS a) AS answer")
                        .first;
    auto rows = spi::query_saved(statement->second.c_str(), {jsonb::text_of(arguments), caller_json});
    Answer answer;
    if (rows.empty()) return answer;
    answer.text = rows[0][0].value_or("");
    answer.structured = rows[0][1].value_or("");
    return answer;
}

// The handler inside a subtransaction: its failure becomes an error result the model can act
// on, and whatever it wrote is rolled back. A cancel (or statement_timeout) and a failed
// assertion still end the call, as PL/pgSQL's WHEN OTHERS let them through.
Outcome run_handler(const std::string& handler, Jsonb* arguments, const std::string& caller_json) {
    MemoryContext context = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    auto end_subtransaction = [&](bool commit) {
        pg_call([&] { commit ? ReleaseCurrentSubTransaction() : RollbackAndReleaseCurrentSubTransaction(); });
        MemoryContextSwitchTo(context);
        CurrentResourceOwner = owner;
    };
    pg_call([] { BeginInternalSubTransaction(nullptr); });
    MemoryContextSwitchTo(context);
    try {
        Answer answer = handler == "mcp._tool_execute_query" ? run_execute_query(arguments, caller_json)
                                                              : run_sql_handler(handler, arguments, caller_json);
        end_subtransaction(true);
        return Outcome{tool_result(answer), false, std::nullopt};
    } catch (const PgError& error) {
        // Copied before the rollback, which may free the memory the error was kept in.
        const int sqlstate = error.sqlstate();
        const std::string message = error.what() != nullptr ? error.what() : "";
        const std::string detail = error.original() != nullptr && error.original()->detail != nullptr
                                       ? error.original()->detail : error.detail();
        const std::string hint = error.original() != nullptr && error.original()->hint != nullptr
                                     ? error.original()->hint : error.hint();
        end_subtransaction(false);
        if (sqlstate == ERRCODE_QUERY_CANCELED || sqlstate == ERRCODE_ASSERT_FAILURE)
            throw PgError(sqlstate, message, detail, hint);
        return error_outcome("Error: " + message + (detail.empty() ? "" : "\nDetail: " + detail) +
                             (hint.empty() ? "" : "\nHint: " + hint));
    } catch (const std::exception& error) {
        // What sql_entry would have raised, and PL/pgSQL's WHEN OTHERS turned into a result.
        const std::string message = dynamic_cast<const std::bad_alloc*>(&error) != nullptr
                                        ? "out of memory in mcp_analytics"
                                        : std::string("internal error in mcp_analytics: ") + error.what();
        end_subtransaction(false);
        return error_outcome("Error: " + message);
    } catch (...) {
        end_subtransaction(false);
        throw;
    }
}

// context (when an object) with "tool": the caller as every step of the call sees it.
std::string caller_context(FunctionCallInfo fcinfo, const std::string& tool_name) {
    Jsonb* tool = pg_call([&] {
        JsonbParseState* state = nullptr;
        JsonbValue key, name;
        key.type = name.type = jbvString;
        key.val.string.val = const_cast<char*>("tool");
        key.val.string.len = 4;
        name.val.string.val = const_cast<char*>(tool_name.c_str());
        name.val.string.len = static_cast<int>(tool_name.size());
        pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
        pushJsonbValue(&state, WJB_KEY, &key);
        pushJsonbValue(&state, WJB_VALUE, &name);
        return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, nullptr));
    });
    Jsonb* context = argument_is_null(fcinfo, 2) ? nullptr : pg_call([&] { return PG_GETARG_JSONB_P(2); });
    if (context == nullptr || !JB_ROOT_IS_OBJECT(context)) return jsonb::text_of(tool);
    Jsonb* merged = pg_call([&] {
        return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(context), JsonbPGetDatum(tool)));
    });
    return jsonb::text_of(merged);
}

Outcome call(FunctionCallInfo fcinfo) {
    const std::optional<std::string> name =
        argument_is_null(fcinfo, 0) ? std::nullopt : std::optional<std::string>(text_argument(fcinfo, 0));
    const std::optional<Tool> tool = name ? find_tool(*name) : std::nullopt;
    if (!tool || !tool_available::available(tool->handler, tool->requires_list))
        throw PgError(ERRCODE_UNDEFINED_FUNCTION, "Unknown tool: " + name.value_or("NULL"), {},
                      "tools/list (or SELECT name FROM mcp.mcp_tools()) names the tools.");
    Jsonb* arguments = argument_is_null(fcinfo, 1) ? jsonb::from_text("{}")
                                                   : pg_call([&] { return PG_GETARG_JSONB_P(1); });
    if (auto problem = tool_arguments::first_problem(tool->schema(), arguments, "arguments"))
        return error_outcome("Invalid arguments for " + *name + ": " + *problem + ".");
    // Whatever runs below, however deep, can attribute its work to the caller.
    const std::string caller_json = caller_context(fcinfo, *name);
    pg_call([&] {
        (void)set_config_option("mcp.request_context", caller_json.c_str(),
                                superuser() ? PGC_SUSET : PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
                                false);
    });
    // An OAuth connection runs only the tools its scopes allow; _meta tells the bridge to
    // answer 403 insufficient_scope so the client can ask for more (step-up).
    if (auto missing = missing_scope(*name)) return error_outcome(missing->message, &missing->scope);
    return run_handler(tool->handler, arguments, caller_json);
}

Datum call_tool(FunctionCallInfo fcinfo) { return jsonb_datum(call(fcinfo).json); }

// The same as a row (result text, is_error, insufficient_scope): the bridge takes the result
// as the text it sends, without a jsonb conversion of the whole result each way.
Datum call_tool_result(FunctionCallInfo fcinfo) {
    const Outcome outcome = call(fcinfo);
    const Datum result = text_datum(outcome.json);
    const Datum scope = outcome.insufficient_scope ? text_datum(*outcome.insufficient_scope) : Datum(0);
    return pg_call([&] {
        TupleDesc description = nullptr;
        if (get_call_result_type(fcinfo, nullptr, &description) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "mcp.call_tool_result must return a row");
        description = BlessTupleDesc(description);
        Datum values[3] = {result, BoolGetDatum(outcome.is_error), scope};
        bool nulls[3] = {false, false, !outcome.insufficient_scope.has_value()};
        return HeapTupleGetDatum(heap_form_tuple(description, values, nulls));
    });
}

Datum result_text_sql(FunctionCallInfo fcinfo) {
    rapidjson::Document result;  // SQL NULL: not an object, as the SQL version read it
    Jsonb* as_jsonb = argument_is_null(fcinfo, 0) ? nullptr : pg_call([&] { return PG_GETARG_JSONB_P(0); });
    if (as_jsonb != nullptr) result.Parse<rapidjson::kParseFullPrecisionFlag>(jsonb::text_of(as_jsonb).c_str());
    return text_datum(result_text(result, argument_is_null(fcinfo, 1) ? "" : text_argument(fcinfo, 1), as_jsonb));
}

}  // namespace

}  // namespace mcp::ext::tool_call

extern "C" {
PG_FUNCTION_INFO_V1(mcp_call_tool);
Datum mcp_call_tool(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::tool_call::call_tool(fcinfo); });
}
PG_FUNCTION_INFO_V1(mcp_call_tool_result);
Datum mcp_call_tool_result(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::tool_call::call_tool_result(fcinfo); });
}
PG_FUNCTION_INFO_V1(mcp_result_text);
Datum mcp_result_text(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::tool_call::result_text_sql(fcinfo); });
}
}
