// mcp.context(level, dataset_id, table_name): markdown for an LLM client, within the level's
// token budget. Each level is rendered in decreasing detail until one fits; if even the
// leanest does not, whole lines are cut and a note says so. Results are cached in
// mcp.context_cache (dropped by triggers when what they show changes).
#include "number_text.hpp"
#include "context_tokens.hpp"
#include "executor_settings.hpp"
#include "jobs_settings.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"
#include "spi.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "funcapi.h"
#include "utils/tuplestore.h"
}

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

namespace mcp::ext::context {

namespace {

using spi::Value;

struct Request {
    int level = 0;
    std::optional<int> dataset_id;
    std::optional<std::string> table_name;
};

struct Rendered {
    std::string text;
    int tokens = 0;
    int budget = 0;
    bool trimmed = false;
    bool cached = false;
};

struct Variant {
    std::string text;
    std::string note;  // empty for the full rendering
};

std::string or_empty(const Value& value) { return value ? *value : ""; }

std::string first_sentence(const std::string& text, size_t max_chars) {
    std::string out = text;
    size_t end = out.find(". ");
    if (end != std::string::npos) out = out.substr(0, end + 1);
    if (out.size() > max_chars) out = out.substr(0, max_chars - 3) + "...";
    return out;
}

std::string label(const std::string& key) {
    std::string name = key.substr(key.find('.') + 1);
    for (char& c : name)
        if (c == '_') c = ' ';
    if (key.rfind("mappings.", 0) == 0) {
        for (char& c : name) c = static_cast<char>(std::toupper((unsigned char)c));
        return name;
    }
    if (!name.empty()) name[0] = static_cast<char>(std::toupper((unsigned char)name[0]));
    return name;
}

std::string json_text(const rapidjson::Value& value) {
    if (value.IsString()) return value.GetString();
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> json(buffer);
    value.Accept(json);
    return buffer.GetString();
}

// {"A1": "A", "A2": "A", ...} as "A1, A2 → A; ..."
std::string mapping_text(const std::string& json) {
    rapidjson::Document document;
    document.Parse(json.c_str());
    if (document.HasParseError()) return json;
    if (!document.IsObject()) return json_text(document);
    std::vector<std::pair<std::string, std::string>> groups;
    for (const auto& entry : document.GetObject()) {
        std::string target = json_text(entry.value);
        auto found = std::find_if(groups.begin(), groups.end(),
                                  [&](const auto& g) { return g.first == target; });
        if (found == groups.end())
            groups.emplace_back(target, entry.name.GetString());
        else
            found->second += std::string(", ") + entry.name.GetString();
    }
    std::string out;
    for (const auto& [target, sources] : groups)
        out += (out.empty() ? "" : "; ") + sources + " → " + target;
    return out;
}

// ---------------------------------------------------------------------------------------
// Level 0: the house rules, from mcp.settings
// ---------------------------------------------------------------------------------------

std::vector<Variant> level0() {
    auto rows = spi::query(
        "SELECT key, value::text, description FROM mcp.settings() "
        " WHERE key LIKE 'rules.%' OR key LIKE 'mappings.%' ORDER BY key LIKE 'mappings.%', key");
    std::string rules = "# Rules for these datasets\n", mappings;
    std::string lean = rules;
    for (const spi::Row& row : rows) {
        const std::string key = *row[0];
        if (key.rfind("mappings.", 0) == 0) {
            mappings += "- **" + label(key) + "**: " + mapping_text(*row[1]) + "\n";
            continue;
        }
        rapidjson::Document value;
        value.Parse(row[1]->c_str());
        std::string text = value.HasParseError() ? *row[1] : json_text(value);
        rules += "- **" + label(key) + "**: " + text + "\n";
        lean += "- " + first_sentence(text, 160) + "\n";
    }
    std::string tail =
        "\nMore: level 1 lists the live datasets, level 2 describes one dataset, level 3 one "
        "table.\n";
    std::string full = rules + (mappings.empty() ? "" : "\n## Mappings\n" + mappings) + tail;
    return {{full, ""},
            {lean + (mappings.empty() ? "" : "\n## Mappings\n" + mappings),
             "rules shortened to their first sentence"}};
}

// ---------------------------------------------------------------------------------------
// Level 1: the live datasets
// ---------------------------------------------------------------------------------------

std::vector<Variant> level1() {
    auto rows = spi::query(R"SQL(
        SELECT d.id, d.name, coalesce(m.description, d.description), d.dataset_type,
               coalesce(d.data_category, m.data_category), d.date_range_start, d.date_range_end,
               d.estimated_row_count, d.weight_column_name, d.user_table_name,
               array_to_string(CASE WHEN cardinality(d.use_cases) > 0 THEN d.use_cases ELSE m.recommended_use_cases END, '; '),
               (SELECT string_agg(s.table_name || ' (' || coalesce(s.granularity, 'table') || ', ' ||
                                  CASE WHEN s.row_count_is_estimate THEN '~' ELSE '' END ||
                                  to_char(coalesce(s.row_count, 0), 'FM999,999,999,999') || ' rows)', ', ' ORDER BY s.table_name)
                  FROM mcp.dataset_schemas s WHERE s.dataset_id = d.id)
          FROM mcp.datasets d LEFT JOIN mcp.llm_metadata m ON m.dataset_id = d.id
         WHERE d.status IN ('approved', 'active') AND mcp._may_use_dataset(d.id)
         ORDER BY d.id)SQL");
    std::string head = "# Live datasets (" + std::to_string(rows.size()) + ")\n";
    if (rows.empty())
        return {{head + "No dataset is live yet: an admin approves one with mcp.approve_dataset.\n",
                 ""}};
    std::string full = head, lean = head;
    for (const spi::Row& r : rows) {
        std::string title = "\n## " + *r[1] + " (id " + *r[0] + ")\n";
        std::string facts;
        if (r[3]) facts += "type " + *r[3];
        if (r[4]) facts += std::string(facts.empty() ? "" : "; ") + "category " + *r[4];
        if (r[5])
            facts +=
                std::string(facts.empty() ? "" : "; ") + "dates " + *r[5] + " to " + or_empty(r[6]);
        if (r[7])
            facts += std::string(facts.empty() ? "" : "; ") + "about " +
                     with_commas(std::atoll(r[7]->c_str())) + " rows";
        full += title + or_empty(r[2]) + "\n";
        lean += title + first_sentence(or_empty(r[2]), 200) + "\n";
        if (!facts.empty()) {
            full += "- " + facts + "\n";
            lean += "- " + facts + "\n";
        }
        if (r[11]) full += "- Tables: " + *r[11] + "\n";
        if (r[8])
            full += "- Weight: " + or_empty(r[9]) + "." + *r[8] + " (weigh users, not events)\n";
        if (r[10] && !r[10]->empty()) full += "- Use cases: " + *r[10] + "\n";
    }
    std::string more = "\nFor a dataset's tables and columns, ask for level 2 with its id.\n";
    return {{full + more, ""},
            {lean + more, "datasets shown by name, first sentence and facts only"}};
}

// ---------------------------------------------------------------------------------------
// Levels 2 and 3: one dataset, one table
// ---------------------------------------------------------------------------------------

struct DatasetFacts {
    std::string name, status, description, weight, user_table, user_id, dates, type;
    rapidjson::Document dictionary;
    std::vector<std::string> quality;
};

DatasetFacts load_dataset_facts(int dataset_id) {
    auto rows = spi::query(R"SQL(
        SELECT d.name, d.status, coalesce(m.description, d.description), d.weight_column_name,
               d.user_table_name, d.user_id_column_name,
               CASE WHEN d.date_range_start IS NOT NULL THEN d.date_range_start || ' to ' || d.date_range_end END,
               d.dataset_type, coalesce(m.data_dictionary, '{}')::text,
               array_to_string(m.quality_observations, E'\n')
          FROM mcp.datasets d LEFT JOIN mcp.llm_metadata m ON m.dataset_id = d.id
         WHERE d.id = $1::integer AND mcp._may_use_dataset(d.id))SQL",
                           {std::to_string(dataset_id)});
    if (rows.empty())
        throw PgError(ERRCODE_NO_DATA_FOUND,
                      "dataset " + std::to_string(dataset_id) + " does not exist", {},
                      "Level 1 lists the live datasets with their ids.");
    const spi::Row& r = rows[0];
    DatasetFacts facts;
    facts.name = *r[0];
    facts.status = *r[1];
    if (facts.status != "approved" && facts.status != "active")
        throw PgError(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "dataset " + std::to_string(dataset_id) + " (" + facts.name + ") is not live",
            "Its status is " + facts.status + "; clients see approved and active datasets only.",
            "An admin reviews it and runs mcp.approve_dataset(" + std::to_string(dataset_id) +
                ").");
    facts.description = or_empty(r[2]);
    facts.weight = or_empty(r[3]);
    facts.user_table = or_empty(r[4]);
    facts.user_id = or_empty(r[5]);
    facts.dates = or_empty(r[6]);
    facts.type = or_empty(r[7]);
    facts.dictionary.Parse(r[8]->c_str());
    std::string quality = or_empty(r[9]);
    size_t start = 0;
    while (start < quality.size()) {
        size_t end = quality.find('\n', start);
        facts.quality.push_back(
            quality.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return facts;
}

std::string dictionary_entry(const DatasetFacts& facts, const std::string& schema,
                             const std::string& table, const std::string& column,
                             const std::string& fallback) {
    if (facts.dictionary.IsObject()) {
        std::vector<std::string> keys;
        if (column.empty())
            keys = {table, schema + "." + table};
        else
            keys = {table + "." + column, schema + "." + table + "." + column};
        for (const std::string& key : keys) {
            auto found = facts.dictionary.FindMember(key.c_str());
            if (found != facts.dictionary.MemberEnd() && found->value.IsString())
                return found->value.GetString();
        }
    }
    return fallback;
}

std::string roles_text(const rapidjson::Value& column) {
    std::string out;
    if (column.HasMember("roles") && column["roles"].IsArray())
        for (const auto& role : column["roles"].GetArray())
            out += (out.empty() ? "" : ", ") + std::string(role.GetString());
    return out.empty() ? "" : " [" + out + "]";
}

std::string str(const rapidjson::Value& object, const char* name) {
    auto found = object.FindMember(name);
    if (found == object.MemberEnd() || found->value.IsNull()) return "";
    if (found->value.IsString()) return found->value.GetString();
    if (found->value.IsInt64()) return std::to_string(found->value.GetInt64());
    if (found->value.IsBool()) return found->value.GetBool() ? "true" : "false";
    return json_text(found->value);
}

std::string dataset_header(const DatasetFacts& facts, int dataset_id) {
    std::string out = "# Dataset " + facts.name + " (id " + std::to_string(dataset_id) + ")\n" +
                      facts.description + "\n";
    if (!facts.weight.empty())
        out += "- Weighting: users carry weights in " + facts.user_table + "." + facts.weight +
               (facts.user_id.empty() ? "" : " (user id " + facts.user_id + ")") +
               "; weigh users, not events.\n";
    else
        out += "- Weighting: no weight column; figures are unweighted.\n";
    if (!facts.dates.empty()) out += "- Dates: " + facts.dates + "\n";
    if (!facts.type.empty()) out += "- Type: " + facts.type + "\n";
    return out;
}

std::vector<Variant> level2(int dataset_id) {
    DatasetFacts facts = load_dataset_facts(dataset_id);
    auto rows = spi::query(
        "SELECT schema_name, table_name, coalesce(granularity, 'table'), row_count, "
        "row_count_is_estimate, "
        "       columns::text, stats ->> 'comment' "
        "  FROM mcp.dataset_schemas WHERE dataset_id = $1::integer ORDER BY schema_name, "
        "table_name",
        {std::to_string(dataset_id)});
    std::string header = dataset_header(facts, dataset_id);
    std::string quality;
    for (const std::string& note : facts.quality) quality += "- " + note + "\n";
    std::vector<Variant> variants;
    for (int detail = 0; detail < 3; ++detail) {
        std::string out = header;
        if (detail == 0 && !quality.empty()) out += "\n## Quality notes\n" + quality;
        for (const spi::Row& r : rows) {
            std::string schema = *r[0], table = *r[1];
            out += "\n## Table " + (schema == "public" ? table : schema + "." + table) + " (" +
                   *r[2] + ", " + (r[4] && *r[4] == "t" ? "~" : "") +
                   with_commas(std::atoll(or_empty(r[3]).c_str())) + " rows)\n";
            std::string about = dictionary_entry(facts, schema, table, "", or_empty(r[6]));
            if (!about.empty() && detail < 2)
                out += (detail == 0 ? about : first_sentence(about, 120)) + "\n";
            rapidjson::Document columns;
            columns.Parse(r[5]->c_str());
            if (!columns.IsArray()) continue;
            for (const auto& column : columns.GetArray()) {
                std::string name = str(column, "name");
                out += "- " + name + " (" + str(column, "type") + ")" + roles_text(column);
                if (detail < 2) {
                    std::string meaning =
                        dictionary_entry(facts, schema, table, name, str(column, "comment"));
                    if (!meaning.empty())
                        out += ": " + (detail == 0 ? meaning : first_sentence(meaning, 90));
                }
                out += "\n";
            }
        }
        out += "\nFor a table's statistics and sample rows, ask for level 3 with the table name.\n";
        variants.push_back({out, detail == 0   ? ""
                                 : detail == 1 ? "descriptions shortened, quality notes left out"
                                               : "column descriptions left out"});
    }
    return variants;
}

std::string percent(double fraction) {
    char text[32];
    snprintf(text, sizeof text, fraction > 0 && fraction < 0.001 ? "%.2f%%" : "%.1f%%",
             fraction * 100);
    return text;
}

std::string cell(const rapidjson::Value& value) {
    std::string text = value.IsNull() ? "" : json_text(value);
    for (char& c : text)
        if (c == '|' || c == '\n' || c == '\r') c = ' ';
    return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

// Rows in the table's column order (the stored JSON objects do not keep it).
std::string sample_table(const rapidjson::Value& sample, const rapidjson::Value& columns,
                         int rows) {
    if (!sample.IsArray() || sample.Empty() || rows <= 0 || !columns.IsArray()) return "";
    std::vector<std::string> names;
    for (const auto& column : columns.GetArray()) names.push_back(str(column, "name"));
    std::string out = "|", rule = "|";
    for (const std::string& name : names) {
        out += " " + name + " |";
        rule += "---|";
    }
    out += "\n" + rule + "\n";
    int shown = 0;
    for (const auto& row : sample.GetArray()) {
        if (shown++ == rows || !row.IsObject()) break;
        out += "|";
        for (const std::string& name : names) {
            auto found = row.FindMember(name.c_str());
            out += " " + (found == row.MemberEnd() ? std::string() : cell(found->value)) + " |";
        }
        out += "\n";
    }
    return out;
}

std::vector<Variant> level3(int dataset_id, const std::string& wanted) {
    DatasetFacts facts = load_dataset_facts(dataset_id);
    auto rows = spi::query(
        "SELECT schema_name, table_name, coalesce(granularity, 'table'), row_count, "
        "row_count_is_estimate, "
        "       columns::text, coalesce(sample, '[]')::text, stats::text "
        "  FROM mcp.dataset_schemas WHERE dataset_id = $1::integer "
        "   AND (table_name = $2 OR schema_name || '.' || table_name = $2) ORDER BY schema_name = "
        "'public' DESC LIMIT 1",
        {std::to_string(dataset_id), wanted});
    if (rows.empty()) {
        auto names = spi::query_value(
            "SELECT string_agg(table_name, ', ' ORDER BY table_name) FROM mcp.dataset_schemas "
            "WHERE dataset_id = $1::integer",
            {std::to_string(dataset_id)});
        throw PgError(
            ERRCODE_UNDEFINED_TABLE, "dataset " + facts.name + " has no table \"" + wanted + "\"",
            "Its tables: " + or_empty(names) + ".", "Level 2 lists its tables and columns.");
    }
    const spi::Row& r = rows[0];
    const std::string schema = *r[0], table = *r[1];
    rapidjson::Document columns, sample, stats;
    columns.Parse(r[5]->c_str());
    sample.Parse(r[6]->c_str());
    stats.Parse(r[7]->c_str());
    const bool estimated = r[4] && *r[4] == "t";
    const long long row_count = std::atoll(or_empty(r[3]).c_str());
    const int max_rows =
        std::clamp(executor_settings::max_raw_rows, 0, 5);  // the five-raw-rows rule

    std::string head = "# Table " + (schema == "public" ? table : schema + "." + table) +
                       " of dataset " + facts.name + " (" + *r[2] + ")\n";
    std::string about =
        dictionary_entry(facts, schema, table, "", stats.IsObject() ? str(stats, "comment") : "");
    if (!about.empty()) head += about + "\n";
    head += "- Rows: " + with_commas(row_count) +
            (estimated ? " (estimate from the database's statistics)" : " (exact count)") + "\n";
    if (stats.IsObject() && stats.HasMember("primary_key") && stats["primary_key"].IsArray() &&
        !stats["primary_key"].Empty())
        head += "- Primary key: " + json_text(stats["primary_key"]) + "\n";
    if (!facts.weight.empty())
        head += "- Weighting: weights in " + facts.user_table + "." + facts.weight +
                "; weigh users, not events.\n";

    std::vector<Variant> variants;
    const int sample_steps[] = {max_rows, std::min(max_rows, 3), std::min(max_rows, 1), 0};
    for (int step = 0; step < 4; ++step) {
        const int top_limit = step == 0 ? 10 : 3;
        std::string out = head + "\n## Columns\n";
        if (columns.IsArray()) {
            for (const auto& column : columns.GetArray()) {
                std::string name = str(column, "name");
                out += "- " + name + " (" + str(column, "type") + ")" + roles_text(column);
                if (std::string ref = str(column, "references"); !ref.empty()) out += " → " + ref;
                std::string meaning =
                    dictionary_entry(facts, schema, table, name, str(column, "comment"));
                if (!meaning.empty())
                    out += ": " + (step == 0 ? meaning : first_sentence(meaning, 100));
                std::string figures;
                if (column.HasMember("null_fraction") && column["null_fraction"].IsNumber() &&
                    column["null_fraction"].GetDouble() > 0)
                    figures += "nulls " + percent(column["null_fraction"].GetDouble());
                if (column.HasMember("distinct_count") && column["distinct_count"].IsInt64())
                    figures += std::string(figures.empty() ? "" : "; ") + "distinct " +
                               (column["distinct_is_estimate"].IsTrue() ? "~" : "") +
                               with_commas(column["distinct_count"].GetInt64());
                if (!str(column, "min").empty())
                    figures += std::string(figures.empty() ? "" : "; ") + "range " +
                               str(column, "min") + " .. " + str(column, "max") +
                               (column["minmax_is_estimate"].IsTrue() ? " (approx.)" : "");
                if (column.HasMember("top_values") && column["top_values"].IsArray() &&
                    !column["top_values"].Empty()) {
                    std::string values;
                    int shown = 0;
                    for (const auto& top : column["top_values"].GetArray()) {
                        if (shown++ == top_limit) break;
                        std::string share =
                            top.HasMember("fraction") && top["fraction"].IsNumber()
                                ? percent(top["fraction"].GetDouble())
                            : row_count > 0 && top.HasMember("count") && top["count"].IsNumber()
                                ? percent(top["count"].GetDouble() / static_cast<double>(row_count))
                                : "";
                        values += (values.empty() ? "" : ", ") + str(top, "value") +
                                  (share.empty() ? "" : " " + share);
                    }
                    figures += std::string(figures.empty() ? "" : "; ") + "top values " + values;
                }
                if (!figures.empty()) out += "\n  " + figures;
                out += "\n";
            }
        }
        if (stats.IsObject() && stats.HasMember("issues") && stats["issues"].IsArray() &&
            !stats["issues"].Empty()) {
            out += "\n## Quality\n";
            for (const auto& issue : stats["issues"].GetArray())
                out += "- " + std::string(issue.GetString()) + "\n";
        }
        int shown = std::min<int>(sample_steps[step],
                                  sample.IsArray() ? static_cast<int>(sample.Size()) : 0);
        if (shown > 0)
            out += "\n## Sample rows (" + std::to_string(shown) + "; never more than " +
                   std::to_string(max_rows) + " raw rows)\n" + sample_table(sample, columns, shown);
        variants.push_back({out, step == 0
                                     ? ""
                                     : "sample rows cut to " + std::to_string(shown) +
                                           ", top values to 3, descriptions to one sentence"});
    }
    return variants;
}

// ---------------------------------------------------------------------------------------
// Fitting, caching
// ---------------------------------------------------------------------------------------

std::string note_text(const std::string& what, int budget, int level) {
    return "\n[Trimmed to fit the " + with_commas(budget) + "-token budget of level " +
           std::to_string(level) + ": " + what + ".]\n";
}

Rendered fit(const std::vector<Variant>& variants, int budget, int level) {
    Rendered result;
    result.budget = budget;
    for (const Variant& variant : variants) {
        std::string text = variant.note.empty()
                               ? variant.text
                               : variant.text + note_text(variant.note, budget, level);
        int tokens = count_tokens(text);
        if (tokens <= budget) {
            result.text = text;
            result.tokens = tokens;
            result.trimmed = !variant.note.empty();
            return result;
        }
    }
    // Even the leanest form is too long: keep whole lines while they fit.
    const std::string& source = variants.back().text;
    std::string kept;
    size_t start = 0, omitted = 0, total_lines = 0;
    for (char c : source) total_lines += c == '\n';
    for (;;) {
        size_t end = source.find('\n', start);
        if (end == std::string::npos) break;
        std::string line = source.substr(start, end - start + 1);
        std::string candidate = kept + line;
        std::string note = note_text(
            "cut after " + std::to_string(std::count(candidate.begin(), candidate.end(), '\n')) +
                " of " + std::to_string(total_lines) + " lines; ask for a narrower level",
            budget, level);
        if (count_tokens(candidate + note) > budget) break;
        kept = candidate;
        start = end + 1;
    }
    omitted = total_lines - static_cast<size_t>(std::count(kept.begin(), kept.end(), '\n'));
    result.text =
        kept + note_text("cut after " + std::to_string(total_lines - omitted) + " of " +
                             std::to_string(total_lines) + " lines; ask for a narrower level",
                         budget, level);
    result.tokens = count_tokens(result.text);
    result.trimmed = true;
    return result;
}

std::string cache_key(const Request& request, int budget) {
    return "v1|L" + std::to_string(request.level) + "|d" +
           (request.dataset_id ? std::to_string(*request.dataset_id) : "-") + "|t" +
           request.table_name.value_or("-") + "|b" + std::to_string(budget) + "|c" +
           token_counter_name() + "|r" + std::to_string(executor_settings::max_raw_rows);
}

Request read_request(FunctionCallInfo fcinfo) {
    if (argument_is_null(fcinfo, 0))
        throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "level is required (0, 1, 2 or 3)");
    Request request;
    request.level = PG_GETARG_INT32(0);
    if (!argument_is_null(fcinfo, 1)) request.dataset_id = PG_GETARG_INT32(1);
    if (!argument_is_null(fcinfo, 2)) request.table_name = text_argument(fcinfo, 2);
    if (request.level < 0 || request.level > 3)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                      "context level must be 0, 1, 2 or 3, not " + std::to_string(request.level),
                      {},
                      "0 the rules, 1 the live datasets, 2 one dataset (dataset_id), 3 one table "
                      "(dataset_id, table_name).");
    if (request.level >= 2 && !request.dataset_id)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                      "context level " + std::to_string(request.level) + " needs a dataset_id", {},
                      "Level 1 lists the live datasets with their ids.");
    if (request.level == 3 && !request.table_name)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "context level 3 needs a table_name", {},
                      "Level 2 lists the dataset's tables.");
    return request;
}

// Who is asking decides what levels 1-3 show (mcp._may_use_dataset): level 1 is cached per
// caller, and levels 2 and 3 are checked before the cache is consulted.
std::string caller_scope(const Request& request) {
    if (request.dataset_id) {
        auto allowed = spi::query("SELECT mcp._may_use_dataset($1::integer)",
                                  {std::to_string(*request.dataset_id)});
        if (allowed.empty() || !allowed[0][0] || *allowed[0][0] != "t")
            throw PgError(ERRCODE_NO_DATA_FOUND,
                          "dataset " + std::to_string(*request.dataset_id) + " does not exist", {},
                          "Level 1 lists the live datasets with their ids.");
    }
    if (request.level != 1) return "";
    auto caller = spi::query("SELECT mcp._caller_api_key()");
    return "|k" + (caller.empty() || !caller[0][0] ? std::string("-") : *caller[0][0]);
}

Rendered render(const Request& request) {
    const int budget = jobs_settings::context_tokens[request.level];
    const std::string key = cache_key(request, budget) + caller_scope(request);
    auto cached = spi::query(
        "SELECT context_text, token_count FROM mcp.context_cache "
        " WHERE cache_key = $1 AND (expires_at IS NULL OR expires_at > now())",
        {key});
    if (!cached.empty()) {
        Rendered result;
        result.text = *cached[0][0];
        result.tokens = std::atoi(cached[0][1]->c_str());
        result.budget = budget;
        result.cached = true;
        result.trimmed = result.text.find("\n[Trimmed to fit") != std::string::npos;
        return result;
    }
    std::vector<Variant> variants;
    switch (request.level) {
        case 0:
            variants = level0();
            break;
        case 1:
            variants = level1();
            break;
        case 2:
            variants = level2(*request.dataset_id);
            break;
        default:
            variants = level3(*request.dataset_id, *request.table_name);
            break;
    }
    Rendered result = fit(variants, budget, request.level);
    // A read-only transaction (or a standby) answers without caching.
    bool writable = pg_call([] { return !XactReadOnly && !RecoveryInProgress(); });
    if (writable) {
        spi::query(
            "INSERT INTO mcp.context_cache (cache_key, context_level, dataset_id, context_text, "
            "token_count, expires_at) "
            "VALUES ($1, $2::integer, $3::integer, $4, $5::integer, "
            "        CASE WHEN $6::integer > 0 THEN now() + make_interval(secs => $6::integer) "
            "END) "
            "ON CONFLICT (cache_key) DO UPDATE SET context_text = EXCLUDED.context_text, "
            "   token_count = EXCLUDED.token_count, expires_at = EXCLUDED.expires_at, created_at = "
            "now()",
            {key, std::to_string(request.level),
             request.level >= 2 ? Value(std::to_string(*request.dataset_id)) : Value(), result.text,
             std::to_string(result.tokens), std::to_string(jobs_settings::context_cache_ttl_s)});
    }
    return result;
}

Datum context_sql(FunctionCallInfo fcinfo) {
    Request request = read_request(fcinfo);
    return text_datum(render(request).text);
}

Datum context_info_sql(FunctionCallInfo fcinfo) {
    Request request = read_request(fcinfo);
    Rendered rendered = render(request);
    std::string counter = token_counter_name();
    pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
    ReturnSetInfo* result = (ReturnSetInfo*)fcinfo->resultinfo;
    Datum values[6] = {Int32GetDatum(request.level),   Int32GetDatum(rendered.tokens),
                       Int32GetDatum(rendered.budget), text_datum(counter),
                       BoolGetDatum(rendered.trimmed), BoolGetDatum(rendered.cached)};
    bool nulls[6] = {false, false, false, false, false, false};
    pg_call([&] { tuplestore_putvalues(result->setResult, result->setDesc, values, nulls); });
    return (Datum)0;
}

}  // namespace

}  // namespace mcp::ext::context

extern "C" {
PG_FUNCTION_INFO_V1(mcp_context);
PG_FUNCTION_INFO_V1(mcp_context_info);

Datum mcp_context(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::context::context_sql(fcinfo); });
}
Datum mcp_context_info(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::context::context_info_sql(fcinfo); });
}
}
