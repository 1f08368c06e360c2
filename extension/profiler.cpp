#include "profiler.hpp"

#include "connection_pool.hpp"
#include "crypto.hpp"
#include "dataset_access.hpp"
#include "jobs_settings.hpp"
#include "pg_guard.hpp"
#include "profiler_model.hpp"
#include "profiler_runner.hpp"
#include "spi.hpp"


#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace mcp::ext::profiler {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTopValues = 10;       // top values kept per column
constexpr int kLowCardinality = 50;  // text columns with at most this many values get them
constexpr int kSampleRows = 10;
constexpr int kSampleScanRows = 100000;  // rows a sample scan aims to read when stats are missing
// Rows to scan exactly per extra connection: below this, a second connection's setup (a few
// milliseconds of both servers' time, though it overlaps the first connection's queries)
// costs more than running the queries one after another saves.
constexpr double kRowsPerExtraConnection = 10000;
// Room for the distinct counts' sorts and the grouped pass's hash tables: in memory rather
// than on the dataset's disk.
const std::string kSessionSettings = "SET work_mem = '64MB'; ";

const char* const kDateLikePattern =
    "'^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4})([ T].*)?$'";

std::string quote_ident(const std::string& name) {
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    return quoted + "\"";
}

std::string quote_literal(RemoteConnection& connection, const std::string& value) {
    char* escaped = PQescapeLiteral(connection.raw(), value.c_str(), value.size());
    if (escaped == nullptr)
        throw PgError(ERRCODE_INTERNAL_ERROR, "could not quote a literal for the dataset");
    std::string result(escaped);
    PQfreemem(escaped);
    return result;
}

std::optional<std::string> value_at(const PGresult* result, int row, int column) {
    if (PQgetisnull(result, row, column)) return std::nullopt;
    return std::string(PQgetvalue(result, row, column));
}

std::vector<std::string> string_array(const rapidjson::Value& value) {
    std::vector<std::string> items;
    if (!value.IsArray()) return items;
    for (const auto& item : value.GetArray())
        if (item.IsString()) items.emplace_back(item.GetString());
    return items;
}

std::string string_member(const rapidjson::Value& object, const char* name) {
    auto found = object.FindMember(name);
    return found != object.MemberEnd() && found->value.IsString() ? found->value.GetString() : "";
}

// ---------------------------------------------------------------------------------------
// Catalog: every readable table and view in one query
// ---------------------------------------------------------------------------------------

std::string catalog_sql(RemoteConnection& connection, const std::vector<std::string>& schemas) {
    std::string schema_filter = "true";
    if (!schemas.empty()) {
        schema_filter = "n.nspname IN (";
        for (size_t i = 0; i < schemas.size(); ++i)
            schema_filter += (i ? ", " : "") + quote_literal(connection, schemas[i]);
        schema_filter += ")";
    }
    return R"SQL(
SELECT coalesce(json_agg(r ORDER BY r.schema, r.name), '[]')::text FROM (
  SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
         CASE WHEN c.relkind = 'p' THEN
              (SELECT coalesce(sum(greatest(p.reltuples, 0)), -1)
                 FROM pg_catalog.pg_partition_tree(c.oid::regclass) t
                 JOIN pg_catalog.pg_class p ON p.oid = t.relid WHERE t.isleaf)
              ELSE c.reltuples END AS reltuples,
         pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
         (SELECT json_agg(json_build_object(
                     'name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                     'category', t.typcategory::text, 'base', bt.typname, 'not_null', a.attnotnull,
                     'comment', pg_catalog.col_description(c.oid, a.attnum),
                     'indexed', EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                                         WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum))
                 ORDER BY a.attnum)
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT')) AS columns,
         (SELECT json_agg(json_build_object(
                     'type', co.contype::text,
                     'columns', (SELECT json_agg(a.attname ORDER BY k.i)
                                   FROM unnest(co.conkey) WITH ORDINALITY k(num, i)
                                   JOIN pg_catalog.pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.num),
                     'ref_schema', fn.nspname, 'ref_table', fc.relname,
                     'ref_columns', (SELECT json_agg(a.attname ORDER BY k.i)
                                       FROM unnest(co.confkey) WITH ORDINALITY k(num, i)
                                       JOIN pg_catalog.pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.num)))
            FROM pg_catalog.pg_constraint co
            LEFT JOIN pg_catalog.pg_class fc ON fc.oid = co.confrelid
            LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
           WHERE co.conrelid = c.oid AND co.contype IN ('p', 'u', 'f')) AS keys
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
     AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
     AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
     AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     AND )SQL" +
           schema_filter + ") r";
}

// The catalog query's answer (with the session settings, it is the first query sent).
std::vector<TableProfile> parse_catalog(const char* json) {
    rapidjson::Document document;
    document.Parse(json);
    if (document.HasParseError() || !document.IsArray())
        throw PgError(ERRCODE_INTERNAL_ERROR, "could not read the dataset's catalog");
    std::vector<TableProfile> tables;
    for (const auto& item : document.GetArray()) {
        TableProfile table;
        table.schema = string_member(item, "schema");
        table.name = string_member(item, "name");
        table.relkind = string_member(item, "kind").c_str()[0];
        table.comment = string_member(item, "comment");
        table.reltuples = item["reltuples"].IsNumber() ? item["reltuples"].GetDouble() : -1;
        if (item["columns"].IsArray()) {
            for (const auto& c : item["columns"].GetArray()) {
                ColumnProfile column;
                column.name = string_member(c, "name");
                column.type = string_member(c, "type");
                std::string category = string_member(c, "category");
                column.category = category.empty() ? 'X' : category[0];
                column.base_type = string_member(c, "base");
                column.comment = string_member(c, "comment");
                column.not_null = c["not_null"].IsBool() && c["not_null"].GetBool();
                column.indexed = c["indexed"].IsBool() && c["indexed"].GetBool();
                table.columns.push_back(std::move(column));
            }
        }
        if (item["keys"].IsArray()) {
            for (const auto& key : item["keys"].GetArray()) {
                std::string type = string_member(key, "type");
                std::vector<std::string> columns = string_array(key["columns"]);
                if (type == "p") {
                    table.primary_key = columns;
                } else if (type == "u") {
                    table.unique_keys.push_back(columns);
                } else if (type == "f") {
                    table.foreign_keys.push_back(ForeignKey{
                        columns, string_member(key, "ref_schema"), string_member(key, "ref_table"),
                        string_array(key["ref_columns"])});
                }
            }
        }
        if (!table.columns.empty()) tables.push_back(std::move(table));
    }
    return tables;
}

// ---------------------------------------------------------------------------------------
// Statistics: one aggregate scan (small tables, views) or pg_stats (big tables)
// ---------------------------------------------------------------------------------------

bool distinct_countable(const ColumnProfile& column) {
    return std::strchr("NDTSBEI", column.category) != nullptr || column.base_type == "uuid";
}

bool has_min_max(const ColumnProfile& column) {
    return std::strchr("NDT", column.category) != nullptr;
}

bool wants_top_values(const ColumnProfile& column) {
    return std::strchr("SBE", column.category) != nullptr;
}

std::string relation_sql(const TableProfile& table) {
    return quote_ident(table.schema) + "." + quote_ident(table.name);
}

long long to_ll(const std::optional<std::string>& text) {
    return text ? std::atoll(text->c_str()) : 0;
}

// A single-column primary or unique key: its distinct count is its non-null count, no sort.
bool unique_column(const TableProfile& table, const std::string& name) {
    if (table.primary_key.size() == 1 && table.primary_key[0] == name) return true;
    for (const auto& key : table.unique_keys)
        if (key.size() == 1 && key[0] == name) return true;
    return false;
}

// Text-like columns (text, boolean, enum) get their distinct count and top values from the
// hashed grouped pass (query B); the others from the aggregate scan (query A).
bool grouped(const ColumnProfile& column) { return wants_top_values(column); }


// Query A: count(*), and per column count(c), min, max, weight checks, and the distinct count
// of columns that are not text-like (a sort each) — all in one pass over `source`.
RemoteQuery aggregate_query(TableProfile& table, const std::string& source) {
    struct Slot {
        int column;
        enum Kind { kNonNull, kDistinct, kMin, kMax, kZeros, kNegatives, kPairs } kind;
    };
    std::vector<std::string> expressions = {"count(*)"};
    std::vector<Slot> slots;
    const ColumnProfile* user_column = nullptr;
    const ColumnProfile* weight_column = nullptr;
    for (size_t i = 0; i < table.columns.size(); ++i) {
        const ColumnProfile& column = table.columns[i];
        const std::string c = quote_ident(column.name);
        const int index = static_cast<int>(i);
        expressions.push_back("count(" + c + ")");
        slots.push_back({index, Slot::kNonNull});
        if (distinct_countable(column) && !grouped(column) && !unique_column(table, column.name)) {
            expressions.push_back("count(DISTINCT " + c + ")");
            slots.push_back({index, Slot::kDistinct});
        }
        if (has_min_max(column)) {
            expressions.push_back("min(" + c + ")::text");
            slots.push_back({index, Slot::kMin});
            expressions.push_back("max(" + c + ")::text");
            slots.push_back({index, Slot::kMax});
        }
        if (looks_like_weight(column)) {
            expressions.push_back("count(*) FILTER (WHERE " + c + " = 0)");
            slots.push_back({index, Slot::kZeros});
            expressions.push_back("count(*) FILTER (WHERE " + c + " < 0)");
            slots.push_back({index, Slot::kNegatives});
            if (weight_column == nullptr) weight_column = &column;
        }
        if (user_column == nullptr && looks_like_user_id(column.name)) user_column = &column;
    }
    if (user_column != nullptr && weight_column != nullptr) {
        expressions.push_back("count(DISTINCT (" + quote_ident(user_column->name) + ", " +
                              quote_ident(weight_column->name) + "))");
        slots.push_back({-1, Slot::kPairs});
    }
    std::string sql = "SELECT ";
    for (size_t i = 0; i < expressions.size(); ++i) sql += (i ? ", " : "") + expressions[i];
    sql += " FROM " + source;
    RemoteQuery query;
    query.sql = std::move(sql);
    query.phase = "aggregate_scans";
    query.use = [&table, slots](const PGresult* r) {
        ++table.remote_queries;
        const long long rows = to_ll(value_at(r, 0, 0));
        table.row_count = rows;
        for (size_t s = 0; s < slots.size(); ++s) {
            std::optional<std::string> value = value_at(r, 0, static_cast<int>(s) + 1);
            if (slots[s].kind == Slot::kPairs) {
                table.user_weight_pairs = to_ll(value);
                continue;
            }
            ColumnProfile& column = table.columns[slots[s].column];
            switch (slots[s].kind) {
                case Slot::kNonNull:
                    column.null_count = rows - to_ll(value);
                    column.null_fraction =
                        rows > 0 ? static_cast<double>(*column.null_count) / rows : 0;
                    if (unique_column(table, column.name))
                        column.distinct = static_cast<double>(to_ll(value));
                    break;
                case Slot::kDistinct:
                    column.distinct = static_cast<double>(to_ll(value));
                    break;
                case Slot::kMin:
                    column.min = value;
                    break;
                case Slot::kMax:
                    column.max = value;
                    break;
                case Slot::kZeros:
                    column.zeros = to_ll(value);
                    break;
                case Slot::kNegatives:
                    column.negatives = to_ll(value);
                    break;
                case Slot::kPairs:
                    break;
            }
        }
    };
    return query;
}

// Query B: text-like columns in one hashed pass (GROUPING SETS, one set per column): per
// column its distinct count, the rows whose value looks like a date (the pattern runs once
// per distinct value, not per row) and, for low-cardinality ones, the most frequent values.
// Hashing beats the sort of count(DISTINCT) for text, whose comparisons go through the
// collation. Independent of query A, so the two can run at once.
RemoteQuery grouped_query(TableProfile& table, const std::string& source) {
    std::vector<int> wanted;
    for (size_t i = 0; i < table.columns.size(); ++i)
        if (grouped(table.columns[i])) wanted.push_back(static_cast<int>(i));
    RemoteQuery query;
    if (wanted.empty()) return query;
    std::string key = "CASE", value = "CASE", sets;
    for (size_t k = 0; k < wanted.size(); ++k) {
        const std::string c = quote_ident(table.columns[wanted[k]].name);
        key += " WHEN GROUPING(" + c + ") = 0 THEN " + std::to_string(k);
        value += " WHEN GROUPING(" + c + ") = 0 THEN " + c + "::text COLLATE \"default\"";
        sets += (k ? ", (" : "(") + c + ")";
    }
    query.sql = "WITH g AS MATERIALIZED (SELECT " + key + " END AS k, " + value +
                " END AS v, count(*) AS n FROM " + source + " GROUP BY GROUPING SETS (" + sets +
                ")) SELECT d.k, d.distinct_values, d.date_like, CASE WHEN d.distinct_values "
                "BETWEEN 1 AND " + std::to_string(kLowCardinality) +
                " THEN (SELECT json_agg(json_build_array(t.v, t.n) ORDER BY t.n DESC, t.v)::text "
                "FROM (SELECT g.v, g.n FROM g WHERE g.k = d.k AND g.v IS NOT NULL "
                "ORDER BY g.n DESC, g.v LIMIT " + std::to_string(kTopValues) +
                ") t) END FROM (SELECT g.k, count(g.v) AS distinct_values, "
                "coalesce(sum(g.n) FILTER (WHERE g.v ~ " + kDateLikePattern +
                "), 0) AS date_like FROM g GROUP BY g.k) d ORDER BY d.k";
    query.phase = "grouped_scans";
    query.use = [&table, wanted](const PGresult* r) {
        ++table.remote_queries;
        for (int column : wanted) {
            table.columns[column].distinct = 0;  // an empty table has no group
            if (table.columns[column].is_textual()) table.columns[column].date_like = 0;
        }
        for (int row = 0; row < PQntuples(r); ++row) {
            size_t k = static_cast<size_t>(std::atoi(PQgetvalue(r, row, 0)));
            if (k >= wanted.size()) continue;
            ColumnProfile& column = table.columns[wanted[k]];
            column.distinct = std::atof(PQgetvalue(r, row, 1));
            if (column.is_textual()) column.date_like = std::atoll(PQgetvalue(r, row, 2));
            if (PQgetisnull(r, row, 3)) continue;
            rapidjson::Document top;
            top.Parse(PQgetvalue(r, row, 3));
            if (top.HasParseError() || !top.IsArray()) continue;
            for (const auto& pair : top.GetArray())
                if (pair.IsArray() && pair.Size() == 2 && pair[0].IsString() && pair[1].IsNumber() &&
                    column.top_values.size() < static_cast<size_t>(kTopValues))
                    column.top_values.emplace_back(pair[0].GetString(), pair[1].GetDouble());
        }
    };
    return query;
}

// Big tables: the planner's statistics, which ANALYZE keeps (from a 30,000-row sample).
bool read_pg_stats(RemoteConnection& connection, TableProfile& table) {
    std::string sql =
        "SELECT coalesce(json_agg(json_build_object('name', s.attname, 'null_frac', s.null_frac, "
        "'n_distinct', s.n_distinct, 'mcv', s.most_common_vals::text::text[], "
        "'mcf', s.most_common_freqs, 'hist', s.histogram_bounds::text::text[])), '[]')::text "
        "FROM pg_catalog.pg_stats s WHERE s.schemaname = " +
        quote_literal(connection, table.schema) +
        " AND s.tablename = " + quote_literal(connection, table.name) +
        " AND s.inherited = " + (table.relkind == 'p' ? "true" : "false");
    ResultPtr result = connection.query(sql, jobs_settings::profile_statement_timeout_ms);
    ++table.remote_queries;
    rapidjson::Document document;
    document.Parse(PQgetvalue(result.get(), 0, 0));
    if (document.HasParseError() || !document.IsArray() || document.Empty()) return false;
    const double rows = std::max(table.reltuples, 0.0);
    table.row_count = static_cast<long long>(std::llround(rows));
    for (const auto& s : document.GetArray()) {
        ColumnProfile* column = table.column(string_member(s, "name"));
        if (column == nullptr) continue;
        double null_frac = s["null_frac"].IsNumber() ? s["null_frac"].GetDouble() : 0;
        column->null_fraction = null_frac;
        column->null_count = static_cast<long long>(std::llround(null_frac * rows));
        if (s["n_distinct"].IsNumber()) {
            double n = s["n_distinct"].GetDouble();
            column->distinct = n >= 0 ? n : std::round(-n * rows);
            column->distinct_is_estimate = true;
        }
        std::vector<std::string> mcv = string_array(s["mcv"]);
        std::vector<std::string> hist = string_array(s["hist"]);
        if (wants_top_values(*column) && column->distinct && *column->distinct <= kLowCardinality &&
            s["mcf"].IsArray()) {
            const auto& freqs = s["mcf"];
            for (size_t i = 0;
                 i < mcv.size() && i < freqs.Size() && i < static_cast<size_t>(kTopValues); ++i)
                column->top_values.emplace_back(
                    mcv[i], freqs[static_cast<rapidjson::SizeType>(i)].GetDouble());
            column->top_are_fractions = true;
        }
        if (column->is_textual()) {
            // Dates stored as text: judged on the values the statistics hold.
            long long seen = 0, like = 0;
            for (const auto* values : {&mcv, &hist})
                for (const std::string& v : *values) {
                    ++seen;
                    like +=
                        v.size() >= 8 && std::isdigit((unsigned char)v[0]) &&
                        (v.find('-') != std::string::npos || v.find('/') != std::string::npos) &&
                        std::count_if(v.begin(), v.end(), ::isdigit) >= 6;
                }
            column->date_like = seen > 0 && like * 10 >= seen * 9 ? rows * (1 - null_frac) : 0;
        }
        if (has_min_max(*column)) {
            std::vector<std::string> all = mcv;
            all.insert(all.end(), hist.begin(), hist.end());
            if (!all.empty()) {
                auto less = [&](const std::string& a, const std::string& b) {
                    return column->is_numeric() ? std::atof(a.c_str()) < std::atof(b.c_str())
                                                : a < b;
                };
                column->min = *std::min_element(all.begin(), all.end(), less);
                column->max = *std::max_element(all.begin(), all.end(), less);
                column->minmax_is_estimate = true;
            }
        }
    }
    return true;
}

// Exact min/max of indexed number and date columns: one query the planner answers from the
// indexes' ends, not by scanning.
RemoteQuery indexed_min_max_query(TableProfile& table) {
    std::vector<ColumnProfile*> indexed;
    for (ColumnProfile& column : table.columns)
        if (column.indexed && (column.is_numeric() || column.is_datetime()))
            indexed.push_back(&column);
    RemoteQuery query;
    if (indexed.empty()) return query;
    std::string sql = "SELECT ";
    for (size_t i = 0; i < indexed.size(); ++i) {
        const std::string c = quote_ident(indexed[i]->name);
        sql += (i ? ", " : "") + std::string("min(") + c + ")::text, max(" + c + ")::text";
    }
    query.sql = sql + " FROM " + relation_sql(table);
    query.phase = "index_min_max";
    query.use = [&table, indexed](const PGresult* r) {
        ++table.remote_queries;
        for (size_t i = 0; i < indexed.size(); ++i) {
            indexed[i]->min = value_at(r, 0, static_cast<int>(2 * i));
            indexed[i]->max = value_at(r, 0, static_cast<int>(2 * i + 1));
            indexed[i]->minmax_is_estimate = false;
        }
    };
    return query;
}

// The sample rows; `fallback` is read instead when `source` gave none (a TABLESAMPLE of a
// table whose catalog figures are stale).
RemoteQuery sample_query(TableProfile& table, const std::string& source, QueryRunner& runner,
                         const std::string& fallback = "") {
    RemoteQuery query;
    query.sql = "SELECT coalesce(json_agg(s), '[]')::text FROM (SELECT * FROM " + source +
                " LIMIT " + std::to_string(kSampleRows) + ") s";
    query.phase = "samples";
    query.use = [&table, &runner, fallback](const PGresult* r) {
        ++table.remote_queries;
        table.sample_json = PQgetvalue(r, 0, 0);
        if (table.sample_json == "[]" && !fallback.empty()) {
            RemoteQuery again = sample_query(table, fallback, runner);
            again.also_ms = &table.duration_ms;
            runner.add(std::move(again));
        }
    };
    return query;
}

std::string sampled_source(const TableProfile& table, double target_rows) {
    double percent = table.reltuples > 0 ? 100.0 * target_rows / table.reltuples : 100.0;
    percent = std::clamp(percent, 0.0001, 100.0);
    char text[64];
    snprintf(text, sizeof text, "%.4f", percent);
    return relation_sql(table) + " TABLESAMPLE SYSTEM (" + text + ") REPEATABLE (7)";
}

// Decides how a table is profiled and queues its queries (all independent of each other).
// Big tables first read pg_stats here, on `first` (a few milliseconds), to know whether a
// sample scan is needed.
void plan_table(RemoteConnection& first, QueryRunner& runner, TableProfile& table, int index,
                PhaseTimes& times) {
    const long long limit = jobs_settings::profile_exact_row_limit;
    const bool is_view = table.relkind == 'v' || table.relkind == 'f';
    const bool big = !is_view && table.reltuples > static_cast<double>(limit);
    std::vector<RemoteQuery> queries;
    if (is_view) {
        // A view can be anything: read at most limit + 1 of its rows.
        std::string source = "(SELECT * FROM " + relation_sql(table) + " LIMIT " +
                             std::to_string(limit + 1) + ") AS v";
        queries.push_back(aggregate_query(table, source));
        queries.back().use = [&table, limit, use = queries.back().use](const PGresult* r) {
            use(r);
            table.row_count_is_estimate = table.row_count > limit;
        };
        queries.push_back(grouped_query(table, source));
        queries.push_back(sample_query(table, relation_sql(table), runner));
        table.method = "view_scan";
    } else if (!big) {
        queries.push_back(aggregate_query(table, relation_sql(table)));
        queries.push_back(grouped_query(table, relation_sql(table)));
        queries.push_back(sample_query(table, relation_sql(table), runner));
        table.method = "exact_scan";
    } else {
        auto started = Clock::now();
        bool have_stats = times.time("pg_stats", [&] {
            // No rows in pg_stats: never analyzed (asking is cheaper than the catalog query
            // joining pg_stats for every table).
            bool found = read_pg_stats(first, table);
            if (!found) {
                // Statistics missing: ANALYZE works if the dataset role owns the table; else
                // sample.
                try {
                    first.query("ANALYZE " + relation_sql(table),
                                jobs_settings::profile_statement_timeout_ms);
                    ++table.remote_queries;
                    found = read_pg_stats(first, table);
                } catch (const PgError&) {
                    found = false;
                }
            }
            return found;
        });
        table.duration_ms += std::chrono::duration<double, std::milli>(Clock::now() - started).count();
        if (have_stats) {
            table.method = "pg_stats";
            queries.push_back(indexed_min_max_query(table));
        } else {
            std::string source = sampled_source(table, kSampleScanRows);
            for (ColumnProfile& column : table.columns) {
                column.distinct_is_estimate = true;
                column.minmax_is_estimate = true;
            }
            queries.push_back(aggregate_query(table, source));
            queries.back().use = [&table, use = queries.back().use](const PGresult* r) {
                use(r);
                table.row_count = static_cast<long long>(std::llround(table.reltuples));
            };
            queries.push_back(grouped_query(table, source));
            table.method = "sample_scan";
        }
        table.row_count_is_estimate = true;
        queries.push_back(sample_query(table, sampled_source(table, 1000), runner, relation_sql(table)));
    }
    for (RemoteQuery& query : queries) {
        if (query.sql.empty()) continue;
        query.table = index;
        query.also_ms = &table.duration_ms;
        runner.add(std::move(query));
    }
}

std::vector<std::string> requested_schemas(const std::string& payload) {
    rapidjson::Document document;
    document.Parse(payload.c_str());
    if (document.HasParseError() || !document.IsObject() || !document.HasMember("schemas"))
        return {};
    return string_array(document["schemas"]);
}

std::string progress_json(const std::string& step, size_t table, size_t of,
                          const std::string& current) {
    std::string json = "{\"step\": \"" + step + "\", \"table\": " + std::to_string(table) +
                       ", \"of\": " + std::to_string(of);
    if (!current.empty()) {
        json += ", \"current\": \"";
        for (char c : current) {
            if (c == '"' || c == '\\') json += '\\';
            if (static_cast<unsigned char>(c) >= 0x20) json += c;
        }
        json += "\"";
    }
    return json + "}";
}

}  // namespace

bool ColumnProfile::has_role(const std::string& role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
}

ColumnProfile* TableProfile::column(const std::string& column_name) {
    for (ColumnProfile& c : columns)
        if (c.name == column_name) return &c;
    return nullptr;
}

namespace {

// The profile's first connection comes from this backend's pool of dataset connections and
// goes back to it, its settings reset: a worker that stays for the next job profiles the
// dataset again, or runs its queries, without connecting and authenticating anew.
RemoteConnection first_link(const DatasetRecord& dataset) {
    if (auto pooled = pool::take(dataset)) return std::move(*pooled);
    return connect_dataset(dataset);
}

void keep_link(const DatasetRecord& dataset, RemoteConnection connection) {
    if (PQstatus(connection.raw()) != CONNECTION_OK || PQtransactionStatus(connection.raw()) != PQTRANS_IDLE)
        return;
    try {
        connection.query("RESET ALL", 5000);  // work_mem and whatever else the profile set
    } catch (const PgError&) {
        return;  // closes it
    }
    pool::give_back(dataset, std::move(connection));
}

}  // namespace

void run_profile_job(jobs::JobContext& context) {
    auto started = Clock::now();
    PhaseTimes times;
    const std::string job_id = std::to_string(context.job.id);
    const std::string attempt = std::to_string(context.job.attempt);
    // The dataset's row, its size at the last profile, and the first progress step: one
    // transaction.
    double last_rows = -1;
    DatasetRecord dataset = times.time("load_dataset", [&] {
        context.tx.begin();
        DatasetRecord record = load_dataset(context.job.dataset_id);
        last_rows = record.estimated_rows;
        jobs::skip_flush_wait();
        spi::query("SELECT mcp._job_progress($1::bigint, $2::integer, $3::jsonb)",
                   {job_id, attempt, progress_json("connecting", 0, 0, "")});
        context.tx.commit();
        return record;
    });
    std::vector<std::string> schemas = requested_schemas(context.job.payload);

    // Independent queries over up to mcp_analytics.profile_connections connections, when
    // there is enough to scan that more connections pay: they are opened while the first
    // one works (from the start when the last profile found enough rows, else once the
    // catalog says so), and take queries as soon as they are ready.
    std::vector<RemoteConnection> links;
    times.time("connect", [&] { links.push_back(first_link(dataset)); });
    QueryRunner runner(links, jobs_settings::profile_statement_timeout_ms, times, kSessionSettings);
    int extra_started = 0;
    auto open_extra = [&](double rows) {
        const int wanted = std::min<int>(jobs_settings::profile_connections,
                                         1 + static_cast<int>(rows / kRowsPerExtraConnection));
        while (1 + extra_started < wanted) {
            ++extra_started;
            if (!runner.add_connection(std::make_unique<ConnectionParams>(dataset_params(dataset)), dataset.name)) break;
        }
    };
    if (last_rows >= kRowsPerExtraConnection) open_extra(last_rows);

    std::vector<TableProfile> tables;
    RemoteQuery catalog;
    catalog.sql = kSessionSettings + catalog_sql(links[0], schemas);
    catalog.phase = "catalog";
    catalog.use = [&](const PGresult* r) { tables = parse_catalog(PQgetvalue(r, 0, 0)); };
    runner.add(std::move(catalog));
    runner.run([](int) {});

    double rows_to_scan = 0;
    for (size_t i = 0; i < tables.size(); ++i) {
        plan_table(links[0], runner, tables[i], static_cast<int>(i), times);
        if (tables[i].method == "exact_scan" || tables[i].method == "view_scan")
            rows_to_scan += std::max(tables[i].reltuples, 0.0);
    }
    if (rows_to_scan >= kRowsPerExtraConnection) open_extra(rows_to_scan);
    times.time("remote_queries_wall", [&] {
        runner.run([&](int table) {
            times.time("progress", [&] {
                context.progress(progress_json("profiling", static_cast<size_t>(table) + 1,
                                               tables.size(), tables[table].qualified()));
            });
        });
    });
    const int used_links = static_cast<int>(links.size());
    runner.drop_connecting();
    RemoteConnection first = std::move(links[0]);
    links.clear();  // disconnects the others
    times.time("keep_connection", [&] { keep_link(dataset, std::move(first)); });
    times.time("detect", [&] { detect(tables); });
    double duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    std::string profile = to_json(tables, duration_ms, used_links, times.json());

    // Stored without waiting for the disk flush: the job's claim was flushed, so a crash
    // that loses this commit finds the job running with its process gone and runs it again;
    // and the worker's next flushed commit (the metadata job's claim) makes it durable.
    context.tx.begin();
    jobs::skip_flush_wait();
    spi::query("SELECT mcp._store_profile($1::bigint, $2::integer, $3::jsonb)",
               {job_id, attempt, profile});
    context.tx.commit();
}

}  // namespace mcp::ext::profiler
