// mcp.weighted_query_sql (the compiler alone), mcp.weighted_query_local (compile and run on a
// table of this database, for tests and DBAs) and mcp.weighted_query (compile, run on a
// registered dataset through the executor, log as type "weighted").
#include "dataset_access.hpp"
#include "dataset_role.hpp"
#include "executor.hpp"
#include "executor_settings.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"
#include "query_guard.hpp"
#include "query_log.hpp"
#include "spi.hpp"
#include "weighted_query_compiler.hpp"
#include "weighting.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>

namespace mcp::ext::weighting {

namespace {

std::string spec_argument(FunctionCallInfo fcinfo, int index) {
    if (PG_ARGISNULL(index))
        throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "weighted_query: the spec is NULL", {},
                      "Give a JSON object such as {\"measure\": \"reach\", \"event_table\": "
                      "\"events\"}.");
    Datum value = PG_GETARG_DATUM(index);
    const char* text =
        pg_call([&] { return DatumGetCString(DirectFunctionCall1(jsonb_out, value)); });
    return text;
}

std::optional<std::string> optional_text(FunctionCallInfo fcinfo, int index) {
    if (PG_NARGS() <= index || PG_ARGISNULL(index)) return std::nullopt;
    return text_argument(fcinfo, index);
}

// The dimension mappings from the settings (mappings.<name>: {"value": "merged value"}).
Mappings load_mappings() {
    Mappings mappings;
    for (const spi::Row& row : spi::query("SELECT substr(key, 10), value::text FROM mcp.settings() "
                                          "WHERE key LIKE 'mappings.%' ORDER BY key",
                                          {}, true)) {
        Mapping mapping;
        mapping.name = row[0].value_or("");
        rapidjson::Document value;
        value.Parse(row[1].value_or("null").c_str());
        if (!value.IsObject())
            throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                          "setting mappings." + mapping.name + " is not a JSON object", {},
                          "Set it to {\"value\": \"merged value\", ...} with mcp.set_setting.");
        for (auto it = value.MemberBegin(); it != value.MemberEnd(); ++it) {
            if (!it->value.IsString())
                throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                              "setting mappings." + mapping.name + " maps \"" +
                                  it->name.GetString() + "\" to something other than text",
                              {}, "Every merged value must be a JSON string.");
            mapping.pairs.emplace_back(it->name.GetString(), it->value.GetString());
        }
        mappings[mapping.name] = std::move(mapping);
    }
    return mappings;
}

CompiledQuery compile(FunctionCallInfo fcinfo, const DesignDefaults& defaults) {
    return compile_weighted_query(spec_argument(fcinfo, 0), defaults, load_mappings(),
                                  weighting_min_base());
}

DesignDefaults defaults_from_arguments(FunctionCallInfo fcinfo) {
    DesignDefaults defaults;
    defaults.user_table = optional_text(fcinfo, 1);
    defaults.user_id_column = optional_text(fcinfo, 2);
    defaults.weight_column = optional_text(fcinfo, 3);
    return defaults;
}

// An error of the compiled statement, with what usually causes it said in the hint.
PgError explained(int sqlstate, const std::string& message, const std::string& detail,
                  const std::string& hint) {
    std::string advice = hint;
    if (sqlstate == ERRCODE_UNDEFINED_COLUMN)
        advice =
            "Columns in user_filter, universe, a per-user metric or condition and unqualified "
            "group_by entries are read from the user table; event_filter, aggregated metrics "
            "(e.g. sum(spend)) and group_by entries written table.column or "
            "{\"column\": ..., \"table\": \"event\"} from the event table.";
    else if (sqlstate == ERRCODE_GROUPING_ERROR)
        advice =
            "A metric or condition over events must aggregate them per user, e.g. "
            "sum(spend) or count(*) > 2.";
    return PgError(sqlstate, "weighted_query: " + message, detail, advice);
}

Datum weighted_query_sql(FunctionCallInfo fcinfo) {
    return text_datum(compile(fcinfo, defaults_from_arguments(fcinfo)).sql);
}

Datum weighted_query_local(FunctionCallInfo fcinfo) {
    CompiledQuery query = compile(fcinfo, defaults_from_arguments(fcinfo));
    std::vector<spi::Row> rows;
    try {
        rows = spi::query(query.sql, {}, true);
    } catch (const PgError& error) {
        const ErrorData* original = error.original();
        throw explained(error.sqlstate(), error.what(),
                        original && original->detail ? original->detail : error.detail(),
                        original && original->hint ? original->hint : error.hint());
    }
    return jsonb_datum(finish_weighted_rows(query, rows));
}

// ---- on a registered dataset -------------------------------------------------------------

// The dataset's one event-level table, from its profile, for specs that need events but name
// no event_table.
std::optional<std::string> profiled_event_table(int dataset_id, const DatasetRecord& dataset) {
    auto rows = spi::query(
        "SELECT CASE WHEN schema_name = 'public' THEN table_name "
        "            ELSE schema_name || '.' || table_name END "
        "  FROM mcp.dataset_schemas WHERE dataset_id = $1::integer AND granularity = 'event_level'",
        {std::to_string(dataset_id)}, true);
    std::vector<std::string> tables;
    for (const spi::Row& row : rows)
        if (row[0] && (!dataset.user_table || *row[0] != *dataset.user_table))
            tables.push_back(*row[0]);
    if (tables.size() != 1) return std::nullopt;
    return tables.front();
}

// Adds the profiled event table to a spec that needs events and names none.
std::string with_default_event_table(const std::string& spec_text,
                                     const std::optional<std::string>& event_table) {
    if (!event_table) return spec_text;
    rapidjson::Document spec;
    if (spec.Parse(spec_text.c_str()).HasParseError() || !spec.IsObject()) return spec_text;
    if (spec.HasMember("event_table")) return spec_text;
    auto text_member = [&](const char* name) -> std::string {
        auto found = spec.FindMember(name);
        return found != spec.MemberEnd() && found->value.IsString() ? found->value.GetString() : "";
    };
    const std::string measure = text_member("measure");
    bool needs = measure == "reach" || measure == "reach_pct" || measure == "avg_frequency" ||
                 measure == "projected_events" || spec.HasMember("event_filter");
    for (const char* field : {"metric", "condition"}) {
        const std::string expression = text_member(field);
        if (!expression.empty() && guard::check_expression(expression, field).aggregating)
            needs = true;
    }
    if (!needs) return spec_text;
    auto& allocator = spec.GetAllocator();
    spec.AddMember("event_table", rapidjson::Value(event_table->c_str(), allocator), allocator);
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    spec.Accept(writer);
    return buffer.GetString();
}

std::string sqlstate_text(int sqlstate) {
    std::string state(5, '0');
    for (int i = 0; i < 5; ++i) state[i] = PGUNSIXBIT(sqlstate >> (6 * i));
    return state;
}

// A call refused before it reaches the dataset (no such or ungranted dataset, not live, no
// role for the caller, a bad spec, the guard) is logged like a failed query: the log shows
// every call. Its text is the spec, as no statement was compiled.
// The log entry of a weighted_query call on a dataset (its text: the statement, or the spec).
query_log::Entry weighted_entry(int dataset_id, std::string text) {
    query_log::Entry entry;
    entry.query_text = std::move(text);
    entry.query_type = "weighted";
    entry.datasets_used = {dataset_id};
    entry.response_format = "json";
    return entry;
}

// Logs a failed call in a transaction of its own (the error that follows cannot undo it).
void log_failure(query_log::Entry entry, const std::string& message, int sqlstate, const std::string& context) {
    entry.success = false;
    entry.error_message = message;
    entry.error_sqlstate = sqlstate_text(sqlstate);
    query_log::write_autonomously(query_log::to_json(entry, context));
}

void log_refusal(int dataset_id, FunctionCallInfo fcinfo, const PgError& error,
                 const std::string& context) {
    log_failure(weighted_entry(dataset_id, PG_ARGISNULL(1) ? std::string("(no spec)") : spec_argument(fcinfo, 1)),
                error.what(), error.sqlstate(), context);
}

Datum weighted_query(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0))
        throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "weighted_query: dataset_id is NULL", {},
                      "List the datasets with the list_datasets tool or mcp.datasets().");
    const int dataset_id = PG_GETARG_INT32(0);
    const std::string context = query_log::request_context("weighted_query");
    const bool log_may_queue = query_log::transaction_wrote_nothing();
    executor::Job job;
    CompiledQuery query;
    try {
        job.dataset = load_dataset(dataset_id);
        if (!job.dataset.is_live())
            throw PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                          "dataset " + std::to_string(dataset_id) + " (\"" + job.dataset.name +
                              "\") is " + job.dataset.status + ", not approved or active",
                          {}, "Only approved datasets can be queried; list them with list_datasets.");
        dataset_role::require_allowed(job.dataset);
        DesignDefaults defaults;
        defaults.user_table = job.dataset.user_table;
        defaults.user_id_column = job.dataset.user_id_column;
        defaults.weight_column = job.dataset.weight_column;
        const std::string spec = with_default_event_table(
            spec_argument(fcinfo, 1), profiled_event_table(dataset_id, job.dataset));
        query = compile_weighted_query(spec, defaults, load_mappings(), weighting_min_base());
        guard::check_query(query.sql);  // ours, but it runs where client queries run
    } catch (const PgError& error) {
        log_refusal(dataset_id, fcinfo, error, context);
        throw;
    }
    job.sql = query.sql;
    job.row_limit = executor_settings::max_rows;

    std::vector<executor::Job*> jobs{&job};
    executor::run(jobs, 1);

    query_log::Entry entry = weighted_entry(dataset_id, query.sql);
    entry.execution_time_ms = job.elapsed_ms;
    if (!job.ok) {
        dataset_role::explain(job.dataset, job.failure);
        log_failure(entry, job.failure.message, job.failure.sqlstate, context);
        throw explained(job.failure.sqlstate, job.failure.message, job.failure.detail,
                        job.failure.hint);
    }
    std::string answer = finish_weighted_rows(query, job.rows);
    if (job.more_rows || job.byte_capped) {
        rapidjson::Document document;
        document.Parse(answer.c_str());
        auto& allocator = document.GetAllocator();
        const std::string warning =
            "Only the first " + std::to_string(job.rows.size()) +
            " groups are shown (mcp_analytics.max_rows / max_result_bytes); group by fewer "
            "columns.";
        document["warnings"].PushBack(rapidjson::Value(warning.c_str(), allocator), allocator);
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
        document.Accept(writer);
        answer = buffer.GetString();
    }
    entry.rows_returned = static_cast<long>(job.rows.size());
    entry.response_size_bytes = static_cast<long>(answer.size());
    query_log::write({query_log::to_json(entry, context)}, log_may_queue);
    return jsonb_datum(answer);
}

}  // namespace

}  // namespace mcp::ext::weighting

extern "C" {
PG_FUNCTION_INFO_V1(mcp_weighted_query_sql);
PG_FUNCTION_INFO_V1(mcp_weighted_query_local);
PG_FUNCTION_INFO_V1(mcp_weighted_query);

Datum mcp_weighted_query_sql(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::weighting::weighted_query_sql(fcinfo); });
}
Datum mcp_weighted_query_local(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::weighting::weighted_query_local(fcinfo); });
}
Datum mcp_weighted_query(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::weighting::weighted_query(fcinfo); });
}
}
