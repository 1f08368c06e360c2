// mcp.execute_query, mcp.execute_multi_query and mcp.check_query: arguments checked, the SQL
// guarded, the cache consulted, the dataset queried, the result formatted and every query
// logged.
#include "dataset_access.hpp"
#include "dataset_role.hpp"
#include "executor.hpp"
#include "executor_settings.hpp"
#include "house_rules.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"
#include "query_functions.hpp"
#include "phase_timings.hpp"
#include "query_cache.hpp"
#include "query_guard.hpp"
#include "query_log.hpp"
#include "result_format.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
}

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <chrono>

namespace mcp::ext {

namespace {

using Clock = std::chrono::steady_clock;
using executor::Failure;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr int kMaxMultiQueries = 30;

[[noreturn]] void bad_argument(const std::string& message, const std::string& hint = {}) {
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, message, {}, hint);
}

std::string jsonb_argument_text(FunctionCallInfo fcinfo, int index) {
    Datum value = PG_GETARG_DATUM(index);
    char* text = pg_call([&] { return DatumGetCString(DirectFunctionCall1(jsonb_out, value)); });
    return text;
}

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

double rounded_ms(double ms) { return static_cast<double>(static_cast<long>(ms * 100)) / 100; }

struct Request {
    int dataset_id = 0;
    std::string sql;
    std::string label;
    int max_rows = 1000;
    format::Kind format = format::Kind::Markdown;
};

// Everything one query produced, ready for the answer and the log.
struct Outcome {
    bool ok = false;
    bool cached = false;
    std::string result_json;  // the answer object (ok) — without "cached"
    Failure failure;
    std::string query_type = "raw";
    std::string house_rule;  // the rule that cut, held back or refused rows, if any
    long held_back = 0;
    long rows = 0;
    double elapsed_ms = 0;
};

void write_failure(JsonWriter& out, const Failure& failure) {
    char state[6];
    for (int i = 0; i < 5; ++i) state[i] = PGUNSIXBIT(failure.sqlstate >> (6 * i));
    state[5] = '\0';
    out.StartObject();
    out.Key("sqlstate");
    out.String(state);
    out.Key("message");
    out.String(failure.message.c_str());
    if (!failure.detail.empty()) {
        out.Key("detail");
        out.String(failure.detail.c_str());
    }
    if (!failure.hint.empty()) {
        out.Key("hint");
        out.String(failure.hint.c_str());
    }
    out.EndObject();
}

std::string sqlstate_text(int sqlstate) {
    std::string state(5, '0');
    for (int i = 0; i < 5; ++i) state[i] = PGUNSIXBIT(sqlstate >> (6 * i));
    return state;
}

std::vector<std::string> warnings_for(const Request& request, const executor::Job& job,
                                      const guard::QueryShape& shape,
                                      const house_rules::Applied& applied) {
    std::vector<std::string> warnings = applied.warnings;
    if (job.more_rows && applied.rule != house_rules::kRawRows)
        warnings.push_back("Only the first " + std::to_string(job.row_limit) +
                           " rows are shown; raise max_rows or aggregate further.");
    if (job.byte_capped)
        warnings.push_back("Rows were cut at mcp_analytics.max_result_bytes (" +
                           std::to_string(executor_settings::max_result_bytes) +
                           " bytes); select fewer or narrower columns.");
    const auto& weight = job.dataset.weight_column;
    if (weight && !weight->empty() && shape.aggregating && !shape.column_names.count(lower(*weight)))
        warnings.push_back(
            "These figures are unweighted panel counts: this dataset weighs each user by column "
            "\"" + *weight + "\", which the query does not use. For projected figures, weigh "
            "users (sum of " + *weight + " over distinct users), or use the weighted_query tool.");
    (void)request;
    return warnings;
}

// The answer object without its timing and cache flag (added per call by with_fields), so
// that cached answers are stored once and numbers pass through as PostgreSQL wrote them.
std::string result_json(const Request& request, const executor::Job& job,
                        const std::vector<std::string>& warnings,
                        const house_rules::Applied& applied) {
    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    out.StartObject();
    out.Key("dataset_id");
    out.Int(request.dataset_id);
    out.Key("columns");
    out.StartArray();
    for (const auto& column : job.columns) {
        out.StartObject();
        out.Key("name");
        out.String(column.name.c_str());
        out.Key("type");
        out.String(format::type_name(column.type_oid).c_str());
        out.EndObject();
    }
    out.EndArray();
    out.Key("format");
    out.String(format::kind_name(request.format));
    if (request.format == format::Kind::Json) {
        out.Key("rows");
        format::json_rows(job.columns, job.rows, out);
    } else {
        std::string text = request.format == format::Kind::Markdown
                               ? format::markdown(job.columns, job.rows)
                               : format::csv(job.columns, job.rows);
        out.Key("text");
        out.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    }
    out.Key("row_count");
    out.Int64(static_cast<int64_t>(job.rows.size()));
    out.Key("truncated");
    out.Bool(job.more_rows || job.byte_capped);
    out.Key("warnings");
    out.StartArray();
    for (const auto& warning : warnings) out.String(warning.c_str());
    out.EndArray();
    out.Key("house_rule");
    if (applied.rule.empty())
        out.Null();
    else
        out.String(applied.rule.c_str());
    out.Key("rows_held_back");
    out.Int64(applied.held_back);
    out.EndObject();
    return buffer.GetString();
}

// The rule a cached answer was cut by, for the log.
void cached_rule(Outcome& outcome) {
    rapidjson::Document cached;
    if (cached.Parse(outcome.result_json.c_str()).HasParseError() || !cached.IsObject()) return;
    auto rule = cached.FindMember("house_rule");
    if (rule != cached.MemberEnd() && rule->value.IsString()) outcome.house_rule = rule->value.GetString();
}

// Guards, looks up the cache, and prepares the job; or fails the outcome.
struct Prepared {
    executor::Job job;
    guard::QueryShape shape;
    house_rules::Plan plan;
    std::string cache_key;
    bool runnable = false;
};

Prepared prepare(const Request& request, Outcome& outcome) {
    Prepared prepared;
    try {
        {
            phase_timings::Scope timing(phase_timings::dataset_lookup);
            prepared.job.dataset = load_dataset(request.dataset_id);
        }
        if (!prepared.job.dataset.is_live())
            throw PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                          "dataset " + std::to_string(request.dataset_id) + " (\"" +
                              prepared.job.dataset.name + "\") is " + prepared.job.dataset.status +
                              ", not approved or active",
                          {}, "Only approved datasets can be queried; list them with list_datasets.");
        dataset_role::require_allowed(prepared.job.dataset);
        phase_timings::Scope timing(phase_timings::guard);
        prepared.shape = guard::check_query(request.sql);
        prepared.plan = house_rules::plan(prepared.job.dataset, request.sql, request.max_rows);
    } catch (const house_rules::Refusal& error) {
        outcome.house_rule = house_rules::kRawRows;
        outcome.failure = Failure{error.sqlstate(), error.what(), error.detail(), error.hint()};
        return prepared;
    } catch (const PgError& error) {
        outcome.failure = Failure{error.sqlstate(), error.what(), error.detail(), error.hint()};
        return prepared;
    }
    outcome.query_type = prepared.plan.raw ? "raw" : "aggregated";
    prepared.job.sql = prepared.plan.sql;
    prepared.job.row_limit = prepared.plan.row_limit;
    // The rules in force are part of the key: a cached answer obeys the rules of today.
    const std::string format_and_rules =
        std::string(format::kind_name(request.format)) + "|" + prepared.plan.cache_tag +
        dataset_role::cache_tag(prepared.job.dataset);
    prepared.cache_key = query_cache::key(prepared.job.dataset, request.sql,
                                          prepared.job.row_limit, format_and_rules.c_str());
    std::optional<query_cache::Hit> hit;
    {
        phase_timings::Scope timing(phase_timings::cache_lookup);
        hit = query_cache::lookup(prepared.cache_key);
    }
    if (hit) {
        outcome.ok = true;
        outcome.cached = true;
        outcome.result_json = hit->result_json;
        outcome.rows = hit->row_count;
        cached_rule(outcome);
        return prepared;
    }
    prepared.runnable = true;
    return prepared;
}

void complete(const Request& request, Prepared& prepared, Outcome& outcome) {
    executor::Job& job = prepared.job;
    outcome.elapsed_ms = job.elapsed_ms;
    if (!job.ok) {
        dataset_role::explain(job.dataset, job.failure);
        outcome.failure = job.failure;
        return;
    }
    house_rules::Applied applied = house_rules::apply(prepared.plan, job);
    outcome.ok = true;
    outcome.rows = static_cast<long>(job.rows.size());
    outcome.house_rule = applied.rule;
    outcome.held_back = applied.held_back;
    {
        phase_timings::Scope timing(phase_timings::format);
        outcome.result_json =
            result_json(request, job, warnings_for(request, job, prepared.shape, applied), applied);
    }
    phase_timings::Scope timing(phase_timings::cache_store);
    query_cache::store(prepared.cache_key, request.dataset_id, outcome.result_json, outcome.rows);
}

std::string log_entry(const Request& request, const Outcome& outcome, const std::string& context) {
    query_log::Entry entry;
    entry.query_text = request.sql;
    entry.query_type = outcome.query_type;
    entry.datasets_used = {request.dataset_id};
    entry.execution_time_ms = rounded_ms(outcome.elapsed_ms);
    entry.rows_returned = outcome.rows;
    entry.success = outcome.ok;
    if (!outcome.ok) {
        entry.error_message = outcome.failure.message;
        entry.error_sqlstate = sqlstate_text(outcome.failure.sqlstate);
    }
    entry.response_format = format::kind_name(request.format);
    entry.response_size_bytes = static_cast<long>(outcome.result_json.size());
    entry.was_cached = outcome.cached;
    entry.house_rule = outcome.house_rule;
    return query_log::to_json(entry, context);
}

// Appends members to a JSON object's text (re-parsing would turn numerics into doubles).
std::string with_fields(const std::string& object_json, const std::string& members_json) {
    return object_json.substr(0, object_json.rfind('}')) + "," + members_json + "}";
}

std::string timing_fields(const Outcome& outcome, double elapsed_ms) {
    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    out.StartObject();
    out.Key("execution_time_ms");
    out.Double(rounded_ms(elapsed_ms));
    out.Key("cached");
    out.Bool(outcome.cached);
    out.EndObject();
    std::string object = buffer.GetString();
    return object.substr(1, object.size() - 2);
}

std::string answer_json(const Outcome& outcome, double elapsed_ms) {
    return with_fields(outcome.result_json, timing_fields(outcome, elapsed_ms));
}

format::Kind parse_format(const std::string& name) {
    auto kind = format::parse_kind(name);
    if (!kind) bad_argument("format must be markdown, csv or json, not \"" + name + "\"");
    return *kind;
}

int checked_max_rows(long value) {
    if (value < 1 || value > executor_settings::max_rows)
        bad_argument("max_rows must be between 1 and " + std::to_string(executor_settings::max_rows) +
                         ", not " + std::to_string(value),
                     "The ceiling is mcp_analytics.max_rows.");
    return static_cast<int>(value);
}

// execute_query's work once its arguments are read: the JSON answer, or PgError (logged).
std::string run_query(const Request& request, const std::string& context, Clock::time_point started,
                      bool log_may_queue) {
    Outcome outcome;
    Prepared prepared = prepare(request, outcome);
    if (prepared.runnable) {
        std::vector<executor::Job*> jobs{&prepared.job};
        executor::run(jobs, 1);
        complete(request, prepared, outcome);
    }
    outcome.elapsed_ms = outcome.cached ? ms_since(started) : outcome.elapsed_ms;
    if (!outcome.ok) {
        query_log::write_autonomously(log_entry(request, outcome, context));
        throw PgError(outcome.failure.sqlstate, outcome.failure.message, outcome.failure.detail,
                      outcome.failure.hint);
    }
    {
        phase_timings::Scope timing(phase_timings::log_write);
        query_log::write({log_entry(request, outcome, context)}, log_may_queue);
    }
    return answer_json(outcome, ms_since(started));
}

Datum execute_query(FunctionCallInfo fcinfo) {
    for (int i = 0; i < 5; ++i)
        if (PG_ARGISNULL(i))
            throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                          "execute_query does not take NULL arguments", {},
                          "Give dataset_id, sql, and optionally max_rows, format and context.");
    return jsonb_datum(query_functions::execute_query_answer(PG_GETARG_INT32(0), text_argument(fcinfo, 1),
                                                            PG_GETARG_INT32(2), text_argument(fcinfo, 3),
                                                            jsonb_argument_text(fcinfo, 4)));
}

std::vector<Request> parse_multi_requests(const std::string& queries_text) {
    rapidjson::Document queries;
    if (queries.Parse(queries_text.c_str()).HasParseError() || !queries.IsArray())
        bad_argument("queries must be a JSON array of {\"dataset_id\", \"sql\", \"label\"?, "
                     "\"max_rows\"?, \"format\"?} objects");
    const auto count = queries.Size();
    if (count == 0) bad_argument("queries is empty", "Give between 1 and 30 queries.");
    if (count > kMaxMultiQueries)
        bad_argument("at most 30 queries per call, got " + std::to_string(count),
                     "Split them into several calls of at most 30; nothing was run.");
    std::vector<Request> requests;
    for (rapidjson::SizeType i = 0; i < count; ++i) {
        const auto& item = queries[i];
        std::string where = "queries[" + std::to_string(i) + "]";
        if (!item.IsObject()) bad_argument(where + " must be an object");
        Request request;
        auto id = item.FindMember("dataset_id");
        if (id == item.MemberEnd() || !id->value.IsInt())
            bad_argument(where + ".dataset_id must be an integer");
        request.dataset_id = id->value.GetInt();
        auto sql = item.FindMember("sql");
        if (sql == item.MemberEnd() || !sql->value.IsString())
            bad_argument(where + ".sql must be a string");
        request.sql.assign(sql->value.GetString(), sql->value.GetStringLength());
        auto label = item.FindMember("label");
        if (label != item.MemberEnd() && !label->value.IsNull()) {
            if (!label->value.IsString()) bad_argument(where + ".label must be a string");
            request.label = label->value.GetString();
        }
        auto max_rows = item.FindMember("max_rows");
        if (max_rows != item.MemberEnd() && !max_rows->value.IsNull()) {
            if (!max_rows->value.IsInt64()) bad_argument(where + ".max_rows must be an integer");
            request.max_rows = checked_max_rows(static_cast<long>(max_rows->value.GetInt64()));
        }
        auto format = item.FindMember("format");
        if (format != item.MemberEnd() && !format->value.IsNull()) {
            if (!format->value.IsString()) bad_argument(where + ".format must be a string");
            request.format = parse_format(format->value.GetString());
        }
        if (request.label.empty()) request.label = "Query " + std::to_string(i + 1);
        requests.push_back(std::move(request));
    }
    return requests;
}

Datum execute_multi_query(FunctionCallInfo fcinfo) {
    for (int i = 0; i < 3; ++i)
        if (PG_ARGISNULL(i))
            throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                          "execute_multi_query does not take NULL arguments");
    auto started = Clock::now();
    std::vector<Request> requests = parse_multi_requests(jsonb_argument_text(fcinfo, 0));
    int concurrency = PG_GETARG_INT32(1);
    if (concurrency < 1 || concurrency > kMaxMultiQueries)
        bad_argument("max_concurrency must be between 1 and 30, not " + std::to_string(concurrency));
    std::string context = query_log::normalize_context(jsonb_argument_text(fcinfo, 2));
    const bool log_may_queue = query_log::transaction_wrote_nothing();

    std::vector<Outcome> outcomes(requests.size());
    std::vector<Prepared> prepared;
    prepared.reserve(requests.size());
    std::vector<executor::Job*> jobs;
    for (size_t i = 0; i < requests.size(); ++i) {
        prepared.push_back(prepare(requests[i], outcomes[i]));
        if (prepared.back().runnable) jobs.push_back(&prepared.back().job);
    }
    executor::run(jobs, concurrency);
    for (size_t i = 0; i < requests.size(); ++i)
        if (prepared[i].runnable) complete(requests[i], prepared[i], outcomes[i]);

    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    std::vector<std::string> log_entries;
    int succeeded = 0;
    out.StartObject();
    out.Key("results");
    out.StartArray();
    for (size_t i = 0; i < requests.size(); ++i) {
        const Outcome& outcome = outcomes[i];
        log_entries.push_back(log_entry(requests[i], outcome, context));
        if (outcome.ok) {
            ++succeeded;
            rapidjson::StringBuffer label;
            JsonWriter label_out(label);
            label_out.String(requests[i].label.c_str());
            std::string answer = with_fields(answer_json(outcome, outcome.elapsed_ms),
                                             std::string("\"label\":") + label.GetString() +
                                                 ",\"ok\":true");
            out.RawValue(answer.c_str(), answer.size(), rapidjson::kObjectType);
        } else {
            out.StartObject();
            out.Key("label");
            out.String(requests[i].label.c_str());
            out.Key("dataset_id");
            out.Int(requests[i].dataset_id);
            out.Key("ok");
            out.Bool(false);
            out.Key("error");
            write_failure(out, outcome.failure);
            out.EndObject();
        }
    }
    out.EndArray();
    out.Key("succeeded");
    out.Int(succeeded);
    out.Key("failed");
    out.Int(static_cast<int>(requests.size()) - succeeded);
    out.Key("execution_time_ms");
    out.Double(rounded_ms(ms_since(started)));
    out.EndObject();
    query_log::write(log_entries, log_may_queue);
    return jsonb_datum(buffer.GetString());
}

Datum check_query(FunctionCallInfo fcinfo) {
    guard::QueryShape shape = guard::check_query(text_argument(fcinfo, 0));
    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    out.StartObject();
    out.Key("ok");
    out.Bool(true);
    out.Key("aggregating");
    out.Bool(shape.aggregating);
    out.Key("row_cap");
    out.Int(shape.aggregating ? executor_settings::max_rows : executor_settings::max_raw_rows);
    out.Key("columns_referenced");
    out.StartArray();
    for (const auto& name : shape.column_names) out.String(name.c_str());
    out.EndArray();
    out.EndObject();
    return jsonb_datum(buffer.GetString());
}

}  // namespace

namespace query_functions {

std::string execute_query_answer(int dataset_id, const std::string& sql, long max_rows,
                                 const std::string& format, const std::string& context_json) {
    auto started = Clock::now();
    phase_timings::Scope whole_call(phase_timings::total);
    std::optional<phase_timings::Scope> arguments_timing(phase_timings::arguments);
    Request request;
    request.dataset_id = dataset_id;
    request.sql = sql;
    request.max_rows = checked_max_rows(max_rows);
    request.format = parse_format(format);
    std::string context = query_log::normalize_context(context_json);
    const bool log_may_queue = query_log::transaction_wrote_nothing();
    arguments_timing.reset();
    return run_query(request, context, started, log_may_queue);
}

}  // namespace query_functions

}  // namespace mcp::ext

extern "C" {
PG_FUNCTION_INFO_V1(mcp_execute_query);
PG_FUNCTION_INFO_V1(mcp_execute_multi_query);
PG_FUNCTION_INFO_V1(mcp_check_query);

Datum mcp_execute_query(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::execute_query(fcinfo); });
}
Datum mcp_execute_multi_query(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::execute_multi_query(fcinfo); });
}
Datum mcp_check_query(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::check_query(fcinfo); });
}
}
