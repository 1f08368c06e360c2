#include "weighted_query_compiler.hpp"

#include "pg_guard.hpp"
#include "query_guard.hpp"

extern "C" {
#include "utils/builtins.h"
}

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

namespace mcp::ext::weighting {

namespace {

const char* const kMeasureList =
    "reach, reach_pct, avg_frequency, mean, share, projected_events, quantile";
const char* const kFieldList =
    "measure, metric, condition, q, user_table, event_table, event_filter, user_filter, "
    "universe, group_by, user_id_column, weight_column, event_user_id_column";
const char* const kOutputFields[] = {"value",  "se",      "base",    "n_eff",
                                     "ci_low", "ci_high", "low_base"};
constexpr std::size_t kMaxGroups = 8;

// ---- errors and quoting ------------------------------------------------------------------

[[noreturn]] void spec_error(const std::string& field, const std::string& problem,
                             const std::string& detail = {}, const std::string& hint = {}) {
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "weighted_query: \"" + field + "\" " + problem,
                  detail, hint);
}

std::string json_type_name(const rapidjson::Value& value) {
    if (value.IsNull()) return "null";
    if (value.IsBool()) return "a boolean";
    if (value.IsNumber()) return "a number";
    if (value.IsString()) return "a string";
    if (value.IsArray()) return "an array";
    return "an object";
}

std::string quote_ident(const std::string& name) {
    const char* quoted = pg_call([&] { return quote_identifier(name.c_str()); });
    return quoted;
}

std::string quote_literal(const std::string& text) {
    const char* quoted = pg_call([&] { return quote_literal_cstr(text.c_str()); });
    return quoted;
}

std::vector<std::string> split_name(const std::string& name) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        std::size_t dot = name.find('.', start);
        parts.push_back(name.substr(start, dot == std::string::npos ? dot : dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return parts;
}

// A table ("name" or "schema.name") or column name as given, checked and quoted.
std::string quoted_name(const std::string& name, const std::string& field, bool qualified_ok) {
    std::vector<std::string> parts = split_name(name);
    const bool shape_ok = parts.size() <= (qualified_ok ? 2u : 1u);
    for (const std::string& part : parts) {
        const bool part_ok = !part.empty() && part.size() <= 63 &&
                             std::none_of(part.begin(), part.end(), [](unsigned char c) {
                                 return c < 0x20 || c == '"' || c == 0x7f;
                             });
        if (!shape_ok || !part_ok)
            spec_error(field, "is not a valid name", "Got \"" + name + "\".",
                       qualified_ok ? "Give a table name, optionally with its schema: events or "
                                      "public.events."
                                    : "Give one column name, e.g. user_id.");
    }
    std::string quoted;
    for (const std::string& part : parts) quoted += (quoted.empty() ? "" : ".") + quote_ident(part);
    return quoted;
}

// ---- the spec ----------------------------------------------------------------------------

struct Expression {
    std::string sql;  // parenthesized: it keeps its own meaning wherever it is placed
    bool aggregating = false;
};

struct Group {
    std::string output;  // output column name
    std::string sql;     // over u (user table) or e (event table)
    bool from_events = false;
    // A merged column (a mapping): the column as text before merging, and the merge, which
    // sums of users may take after grouping by the column itself.
    std::string unmerged_sql;
    std::optional<Mapping> mapping;
};

struct Spec {
    Measure measure = Measure::reach;
    std::optional<Expression> metric, condition, event_filter, user_filter, universe;
    double q = 0.5;
    std::string user_table, user_id, weight;                // quoted
    std::optional<std::string> event_table, event_user_id;  // quoted
    std::string user_table_raw, event_table_raw;
    std::vector<Group> groups;
};

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
    auto found = object.FindMember(name);
    if (found == object.MemberEnd() || found->value.IsNull()) return nullptr;
    return &found->value;
}

std::optional<std::string> string_field(const rapidjson::Value& spec, const char* field) {
    const rapidjson::Value* value = member(spec, field);
    if (value == nullptr) return std::nullopt;
    if (!value->IsString())
        spec_error(field, "must be a string", "Got " + json_type_name(*value) + ".");
    return std::string(value->GetString(), value->GetStringLength());
}

std::optional<Expression> expression_field(const rapidjson::Value& spec, const char* field) {
    std::optional<std::string> text = string_field(spec, field);
    if (!text) return std::nullopt;
    guard::QueryShape shape = guard::check_expression(*text, field);
    // Placed exactly as the guard parsed it ("(" text "\n)"), in one more pair of parentheses;
    // the line break only matters after a trailing -- comment.
    const bool line_comment = text->find("--") != std::string::npos;
    return Expression{"((" + *text + (line_comment ? "\n))" : "))"), shape.aggregating};
}

Measure parse_measure(const rapidjson::Value& spec) {
    std::optional<std::string> name = string_field(spec, "measure");
    if (!name)
        spec_error("measure", "is missing", {}, std::string("Give one of ") + kMeasureList + ".");
    static const std::pair<const char*, Measure> kNames[] = {
        {"reach", Measure::reach},
        {"reach_pct", Measure::reach_pct},
        {"avg_frequency", Measure::avg_frequency},
        {"mean", Measure::mean},
        {"share", Measure::share},
        {"projected_events", Measure::projected_events},
        {"quantile", Measure::quantile}};
    for (const auto& [text, measure] : kNames)
        if (*name == text) return measure;
    spec_error("measure", std::string("must be one of ") + kMeasureList, "Got \"" + *name + "\".",
               "reach counts people reached (each user once); projected_events counts events.");
}

bool uses_events_as_domain(Measure measure) {  // the universe is the domain, events give x
    return measure == Measure::reach || measure == Measure::reach_pct ||
           measure == Measure::projected_events;
}

// A text value merged by a mapping (the values it does not name stay as they are).
std::string merged(const std::string& text_sql, const Mapping& mapping) {
    if (mapping.pairs.empty()) return text_sql;
    std::string sql = "CASE " + text_sql;
    for (const auto& [from, to] : mapping.pairs)
        sql += " WHEN " + quote_literal(from) + " THEN " + quote_literal(to);
    return sql + " ELSE " + text_sql + " END";
}


bool names_table(const std::string& qualifier, const std::string& table_raw) {
    if (table_raw.empty()) return false;
    return qualifier == table_raw || qualifier == split_name(table_raw).back();
}

Group parse_group(const rapidjson::Value& entry, std::size_t index, const Spec& spec,
                  const Mappings& mappings) {
    const std::string field = "group_by[" + std::to_string(index) + "]";
    std::string column, table, output;
    std::optional<std::string> mapping_name;
    bool mapping_given = false;
    if (entry.IsString()) {
        const std::string text = entry.GetString();
        const std::size_t dot = text.rfind('.');
        column = dot == std::string::npos ? text : text.substr(dot + 1);
        if (dot != std::string::npos) table = text.substr(0, dot);  // [schema.]table
    } else if (entry.IsObject()) {
        for (auto it = entry.MemberBegin(); it != entry.MemberEnd(); ++it) {
            const std::string key = it->name.GetString();
            if (key != "column" && key != "table" && key != "mapping" && key != "as")
                spec_error(field, "has an unknown key \"" + key + "\"", {},
                           "Use column, table (user or event), mapping and as.");
        }
        const rapidjson::Value* value = member(entry, "column");
        if (value == nullptr || !value->IsString())
            spec_error(field + ".column", "must be a string (a column name)");
        column = value->GetString();
        if (const rapidjson::Value* t = member(entry, "table")) {
            if (!t->IsString()) spec_error(field + ".table", "must be \"user\" or \"event\"");
            table = t->GetString();
        }
        auto found = entry.FindMember("mapping");
        if (found != entry.MemberEnd()) {
            mapping_given = true;
            if (found->value.IsString())
                mapping_name = found->value.GetString();
            else if (!found->value.IsNull())
                spec_error(field + ".mapping", "must be a mapping name or null");
        }
        if (const rapidjson::Value* as = member(entry, "as")) {
            if (!as->IsString()) spec_error(field + ".as", "must be a string");
            output = as->GetString();
        }
    } else {
        spec_error(field,
                   "must be a column name or an object {\"column\", \"table\", \"mapping\", "
                   "\"as\"}",
                   "Got " + json_type_name(entry) + ".");
    }

    Group group;
    if (table.empty() || table == "user" || names_table(table, spec.user_table_raw)) {
        group.from_events = false;
    } else if (table == "event" || names_table(table, spec.event_table_raw)) {
        if (!spec.event_table)
            spec_error(field, "names an event-table column but the spec has no event_table");
        group.from_events = true;
    } else {
        spec_error(field, "names an unknown table \"" + table + "\"", {},
                   "Qualify a column with the user table (" + spec.user_table_raw +
                       ") or the event table" +
                       (spec.event_table ? " (" + spec.event_table_raw + ")" : std::string()) +
                       ", or use {\"column\": ..., \"table\": \"user\" | \"event\"}.");
    }
    const std::string column_sql =
        (group.from_events ? "e." : "u.") + quoted_name(column, field, false);
    group.output = output.empty() ? column : output;
    if (!mapping_given && mappings.count(column)) mapping_name = column;  // merged by default
    if (mapping_name) {
        auto found = mappings.find(*mapping_name);
        if (found == mappings.end()) {
            std::string known;
            for (const auto& [name, unused] : mappings) known += (known.empty() ? "" : ", ") + name;
            spec_error(field + ".mapping", "names an unknown mapping \"" + *mapping_name + "\"", {},
                       "Known mappings (settings mappings.*): " +
                           (known.empty() ? std::string("none") : known) + ".");
        }
        group.unmerged_sql = "(" + column_sql + ")::text";
        group.sql = merged(group.unmerged_sql, found->second);
        group.mapping = found->second;
    } else {
        group.sql = column_sql;
    }
    return group;
}

void check_fields(const rapidjson::Value& spec) {
    static const std::set<std::string> kFields = {
        "measure",        "metric",        "condition",           "q",        "user_table",
        "event_table",    "event_filter",  "user_filter",         "universe", "group_by",
        "user_id_column", "weight_column", "event_user_id_column"};
    for (auto it = spec.MemberBegin(); it != spec.MemberEnd(); ++it) {
        const std::string key(it->name.GetString(), it->name.GetStringLength());
        if (!kFields.count(key))
            spec_error(key, "is not a field of a weighted_query spec", {},
                       std::string("The fields are: ") + kFieldList + ".");
    }
}

void require(bool present, const char* field, Measure measure, const char* why) {
    if (!present)
        spec_error(field, std::string("is required for measure ") + measure_name(measure), {}, why);
}

void forbid(bool present, const char* field, Measure measure, const char* allowed) {
    if (present)
        spec_error(field, std::string("does not apply to measure ") + measure_name(measure), {},
                   std::string("It is used by: ") + allowed + ". Remove it.");
}

// The tables and key columns: the spec's own, else the dataset's.
void parse_design(const rapidjson::Value& document, const DesignDefaults& defaults, Spec& spec) {
    auto pick = [&](const char* field, const std::optional<std::string>& registered) {
        std::optional<std::string> given = string_field(document, field);
        if (!given) given = registered;
        if (!given)
            spec_error(field, "is not known", {},
                       "The dataset has none registered: give it in the spec, or have an admin "
                       "set it (mcp.update_dataset).");
        return *given;
    };
    spec.user_table_raw = pick("user_table", defaults.user_table);
    spec.user_table = quoted_name(spec.user_table_raw, "user_table", true);
    const std::string user_id = pick("user_id_column", defaults.user_id_column);
    spec.user_id = quoted_name(user_id, "user_id_column", false);
    spec.weight =
        quoted_name(pick("weight_column", defaults.weight_column), "weight_column", false);
    if (auto event_table = string_field(document, "event_table")) {
        spec.event_table_raw = *event_table;
        spec.event_table = quoted_name(*event_table, "event_table", true);
        std::optional<std::string> event_user_id = string_field(document, "event_user_id_column");
        spec.event_user_id =
            quoted_name(event_user_id.value_or(user_id), "event_user_id_column", false);
    } else if (member(document, "event_user_id_column")) {
        spec_error("event_user_id_column", "needs an event_table");
    }
}

// Filters, metric and condition, each through the query guard.
void parse_expressions(const rapidjson::Value& document, Spec& spec) {
    spec.metric = expression_field(document, "metric");
    spec.condition = expression_field(document, "condition");
    const std::pair<const char*, std::optional<Expression>*> filters[] = {
        {"event_filter", &spec.event_filter},
        {"user_filter", &spec.user_filter},
        {"universe", &spec.universe}};
    for (const auto& [field, filter] : filters) {
        *filter = expression_field(document, field);
        if (*filter && (*filter)->aggregating)
            spec_error(field,
                       "must be a condition on one row; it uses an aggregate or window "
                       "function",
                       {}, "Filter rows, e.g. event_type = 'purchase' or age >= 18.");
    }
    if (spec.event_filter && !spec.event_table)
        spec_error("event_filter", "needs an event_table", {},
                   "Name the table the events are in, e.g. \"event_table\": \"events\".");
    for (const auto& [field, expression] :
         {std::make_pair("metric", &spec.metric), std::make_pair("condition", &spec.condition)}) {
        if (*expression && (*expression)->aggregating && !spec.event_table)
            spec_error(field, "aggregates events but the spec has no event_table", {},
                       "Name the event table, or give a per-user expression over the user table.");
    }
    if (const rapidjson::Value* q = member(document, "q")) {
        if (!q->IsNumber() || !(q->GetDouble() >= 0.0 && q->GetDouble() <= 1.0))
            spec_error("q", "must be a number between 0 and 1", "Got " + json_type_name(*q) + ".",
                       "For the median give 0.5.");
        spec.q = q->GetDouble();
    }
}

// Each measure's required fields, and no field it would silently ignore.
void check_measure_fields(const rapidjson::Value& document, const Spec& spec) {
    const Measure measure = spec.measure;
    const bool has_q = member(document, "q") != nullptr;
    switch (measure) {
        case Measure::reach:
        case Measure::reach_pct:
        case Measure::projected_events:
        case Measure::avg_frequency:
            require(spec.event_table.has_value(), "event_table", measure,
                    "It counts users by their events: name the event table.");
            forbid(spec.metric.has_value(), "metric", measure, "mean, quantile");
            forbid(spec.condition.has_value(), "condition", measure, "share");
            forbid(has_q, "q", measure, "quantile");
            break;
        case Measure::mean:
        case Measure::quantile:
            require(spec.metric.has_value(), "metric", measure,
                    "Give the per-user figure, e.g. \"age\" or \"sum(spend)\" over the user's "
                    "events.");
            forbid(spec.condition.has_value(), "condition", measure, "share");
            if (measure == Measure::mean) forbid(has_q, "q", measure, "quantile");
            break;
        case Measure::share:
            require(spec.condition.has_value(), "condition", measure,
                    "Give the per-user condition, e.g. \"age >= 30\".");
            forbid(spec.metric.has_value(), "metric", measure, "mean, quantile");
            forbid(has_q, "q", measure, "quantile");
            break;
    }
}

void parse_groups(const rapidjson::Value& document, const Mappings& mappings, Spec& spec) {
    if (const rapidjson::Value* group_by = member(document, "group_by")) {
        if (group_by->IsString()) {
            spec.groups.push_back(parse_group(*group_by, 0, spec, mappings));
        } else if (group_by->IsArray()) {
            if (group_by->Size() > kMaxGroups)
                spec_error("group_by", "has too many columns",
                           "Got " + std::to_string(group_by->Size()) + ".",
                           "Group by at most " + std::to_string(kMaxGroups) + " columns.");
            for (rapidjson::SizeType i = 0; i < group_by->Size(); ++i)
                spec.groups.push_back(parse_group((*group_by)[i], i, spec, mappings));
        } else {
            spec_error("group_by", "must be an array of columns",
                       "Got " + json_type_name(*group_by) + ".", "For example [\"gender\"].");
        }
    }
    std::set<std::string> names;
    for (const Group& group : spec.groups) {
        const bool reserved = std::find(std::begin(kOutputFields), std::end(kOutputFields),
                                        group.output) != std::end(kOutputFields) ||
                              group.output.empty() || group.output[0] == '_';
        if (reserved || !names.insert(group.output).second)
            spec_error("group_by",
                       "gives two output columns the name \"" + group.output +
                           "\", or a name the answer uses",
                       {}, "Rename one with {\"column\": ..., \"as\": \"other_name\"}.");
    }
}

Spec parse_spec(const std::string& json, const DesignDefaults& defaults, const Mappings& mappings) {
    rapidjson::Document document;
    document.Parse(json.c_str(), json.size());
    if (document.HasParseError() || !document.IsObject())
        spec_error("spec", "must be a JSON object", {},
                   "For example {\"measure\": \"reach\", \"event_table\": \"events\"}.");
    check_fields(document);
    Spec spec;
    spec.measure = parse_measure(document);
    parse_design(document, defaults, spec);
    parse_expressions(document, spec);
    check_measure_fields(document, spec);
    parse_groups(document, mappings, spec);
    return spec;
}

// ---- the SQL -----------------------------------------------------------------------------

// `sql` with every line after the first indented by `margin`, to nest it in another statement.
std::string indented(const std::string& sql, const std::string& margin) {
    std::string out;
    for (char c : sql) {
        out += c;
        if (c == '\n') out += margin;
    }
    return out;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
    return out;
}

std::string number_literal(double value) {
    char buffer[64];
    snprintf(buffer, sizeof buffer, "%.17g", value);
    return buffer;
}

class SqlBuilder {
  public:
    SqlBuilder(const Spec& spec, std::int64_t min_base) : spec_(spec), min_base_(min_base) {
        for (const Group& group : spec.groups) {
            if (group.from_events) {
                event_keys_.push_back("h" + std::to_string(event_keys_.size() + 1));
                event_sql_.push_back(group.sql);
            } else {
                user_keys_.push_back("g" + std::to_string(user_keys_.size() + 1));
                user_groups_.push_back(group);
            }
        }
        all_keys_ = user_keys_;
        all_keys_.insert(all_keys_.end(), event_keys_.begin(), event_keys_.end());
        const Measure m = spec.measure;
        universe_domain_ = uses_events_as_domain(m);
        event_groups_ = !event_keys_.empty();
        const std::optional<Expression>& x = m == Measure::share ? spec.condition : spec.metric;
        x_from_events_ = x && x->aggregating;
        x_from_users_ = x && !x->aggregating;
        // The plan shape per measure. Reach without event groups: the reached users are the
        // universe users WHERE EXISTS a matching event, a semi-join PostgreSQL may run as a
        // hash join on the pre-aggregated events or as index probes that stop at the first
        // match, never reading all of a user's events. Measures whose per-user figure is a
        // count (reach by event group, avg_frequency, projected_events) pre-aggregate events
        // per user, then collapse users with the same count before centring, so the window
        // that centres the squares runs over a few rows per group, not one per user.
        semi_join_ = (m == Measure::reach || m == Measure::reach_pct) && !event_groups_;
        counts_ = universe_domain_ || m == Measure::avg_frequency;
        // The design's n (users with a usable weight) without a second pass converting every
        // weight: for reach the pass that sums the universe counts them too; for the other
        // universe measures without filters the universe is exactly those users.
        design_from_stats_ = semi_join_ || (universe_domain_ && !spec.universe && !spec.user_filter);
    }

    std::string build() const {
        std::string sql =
            "-- mcp_analytics weighted_query: " + std::string(measure_name(spec_.measure)) +
            ". Weigh users, not events: one row per user first, then the "
            "estimators (R survey definitions) as sums.\n";
        // Read twice by the reach and event-group shapes: inlined, so each reading keeps the
        // table's statistics and may run in parallel.
        auto universe_cte = [&] {
            return "universe AS " +
                   std::string(semi_join_ || (universe_domain_ && event_groups_) ? "NOT MATERIALIZED " : "") +
                   "(\n" + universe() + "\n)";
        };
        if (semi_join_ && spec_.event_filter)  // the reached users are read apart (tallies)
            sql += "WITH usable AS (\n" + universe(true) + "\n)";
        else if (semi_join_)
            sql += "WITH usable AS (\n" + universe(true) + "\n), " + universe_cte();
        else
            sql += design_from_stats_ ? "WITH " + universe_cte()
                                  : "WITH design AS (\n" + design() + "\n), " + universe_cte();
        if (semi_join_) {
            sql += ", tallies AS (\n" + tallies() + "\n), stats AS (\n" + reach_stats() + "\n)";
        } else {
            if (spec_.event_table) sql += ", matched AS (\n" + matched() + "\n)";
            sql += ", units AS (\n" + units() + "\n)";
            if (spec_.measure == Measure::quantile)
                return sql + ", quantiles AS (\n" + quantiles() + "\n)\n" + quantile_select();
            if (counts_) sql += ", collapsed AS (\n" + collapsed() + "\n)";
            sql += ", stats AS (\n" + stats() + "\n)";
        }
        if (design_from_stats_) sql += ", design AS (\n" + design() + "\n)";
        sql += ", estimates AS (\n" + estimates() + "\n), errors AS (\n" + errors() + "\n)\n";
        return sql + final_select();
    }

  private:
    // Positive and finite (NULL, NaN, ±Infinity, zero and negative weights are left out).
    // Written so the planner estimates it as keeping nearly every user: the range
    // w > 0 AND w < 'Infinity' on an expression is estimated at 0.5% of the rows, which
    // turns the joins to events into nested loops over a "tiny" universe.
    static std::string weight_ok(const std::string& w) {
        return "greatest(" + w + ", 0) <> 0 AND " + w + " <> 'Infinity' AND " + w + " <> 'NaN'";
    }

    // The weight as float8, converted once per user (numeric to float8 is not cheap): the
    // sub-query is kept apart (OFFSET 0) so its output column is not expanded into every use.
    // The name has a space, so no column of the user table can take it.
    static constexpr const char* kWeight = "\"mcp_analytics weight\"";

    std::string design() const {
        if (semi_join_)  // the pass over every user that sums the universe counts them all
            return "    SELECT n, total - n AS excluded\n      FROM (SELECT coalesce(sum(n), 0) AS n, "
                   "coalesce(sum(total), 0) AS total FROM tallies) AS counted";
        if (design_from_stats_)
            return "    SELECT n, total - n AS excluded\n      FROM (SELECT coalesce(sum(k), 0) AS n FROM " +
                   std::string(event_groups_ ? "collapsed WHERE part = 0" : "stats") +
                   ") AS universe_count,\n           (SELECT count(*) AS total FROM " +
                   spec_.user_table + ") AS all_users";
        const std::string usable = "count(*) FILTER (WHERE " + weight_ok("w") + ")";
        return "    SELECT " + usable + " AS n,\n           count(*) - " + usable +
               " AS excluded\n      FROM (SELECT (u." + spec_.weight + ")::float8 AS w FROM " +
               spec_.user_table + " AS u OFFSET 0) AS all_users";
    }

    std::string x_over_users() const {
        if (spec_.measure == Measure::share)
            return "CASE WHEN " + spec_.condition->sql + " THEN 1.0 ELSE 0.0 END";
        return "(" + spec_.metric->sql + ")::float8";
    }

    bool user_filters() const { return spec_.universe || spec_.user_filter; }

    std::string user_conditions() const {
        std::vector<std::string> conditions;
        if (spec_.universe) conditions.push_back(spec_.universe->sql + " IS TRUE");
        if (spec_.user_filter) conditions.push_back(spec_.user_filter->sql + " IS TRUE");
        return join(conditions, "\n       AND ");
    }

    // Reach sums users per group: a merged column (NCCS grades) is grouped by its own values,
    // a few, and merged once per group in tallies rather than once per user.
    bool merge_after_sums(std::size_t i) const { return semi_join_ && user_groups_[i].mapping.has_value(); }

    std::string user_key_sql(std::size_t i) const {
        return merge_after_sums(i) ? user_groups_[i].unmerged_sql : user_groups_[i].sql;
    }

    // The users with a usable weight, those inside universe and user_filter. With flags: every
    // user, flagged ok (a usable weight) and inside (one pass gives the design's counts and
    // the universe's sums). With `semi_join` (reach with an event filter): the users it keeps,
    // chosen with the filters before their weight is converted, so only those pay for it.
    std::string universe(bool flags = false, const std::string& semi_join = "") const {
        const std::string w = std::string("u.") + kWeight;
        std::vector<std::string> columns = {"u." + spec_.user_id + " AS uid", w + " AS w"};
        for (std::size_t i = 0; i < user_keys_.size(); ++i)
            columns.push_back(user_key_sql(i) + " AS " + user_keys_[i]);
        if (x_from_users_) columns.push_back(x_over_users() + " AS ux");
        std::string where = weight_ok(w);
        std::vector<std::string> before_conversion;
        if (flags) {
            columns.push_back("(" + where + ") AS ok");
            if (user_filters()) columns.push_back("(" + user_conditions() + ") AS inside");
        } else if (user_filters()) {
            if (semi_join.empty())
                where += "\n       AND " + user_conditions();
            else
                before_conversion.push_back(user_conditions());
        }
        if (!semi_join.empty()) before_conversion.push_back(semi_join);
        return "    SELECT " + join(columns, ",\n           ") + "\n      FROM (SELECT u.*, (u." +
               spec_.weight + ")::float8 AS " + kWeight + " FROM " + spec_.user_table + " AS u" +
               (before_conversion.empty()
                    ? ""
                    : "\n             WHERE " + join(before_conversion, "\n               AND ") + "\n            ") +
               " OFFSET 0) AS u" + (flags ? "" : "\n     WHERE " + where);
    }

    // Reach without event groups: the universe's sums per group, and the reached users' sums,
    // each aggregated on its own (each may run in parallel), then side by side. A user is
    // reached through an EXISTS semi-join (PostgreSQL picks index probes that stop at the
    // first matching event, or a hash join); without an event_filter every user with any
    // event is reached, and a pre-aggregated GROUP BY of the events' user ids (a parallel
    // partial aggregate) is faster than the semi-join's serial de-duplication.
    std::string tallies() const {
        const std::string keys = user_keys_.empty() ? "" : join(user_keys_, ", ") + ", ";
        const std::string by =
            user_keys_.empty() ? "" : "\n             GROUP BY " + join(user_keys_, ", ");
        std::string reached;
        if (spec_.event_filter) {
            std::string users = universe(false, "EXISTS (SELECT 1 FROM " + *spec_.event_table + " AS e WHERE e." +
                                                    *spec_.event_user_id + " = u." + spec_.user_id +
                                                    "\n                           AND " + spec_.event_filter->sql + ")");
            users.erase(0, users.find_first_not_of(' '));  // it opens the parenthesis
            reached = "(" + indented(users, std::string(17, ' ')) + ") AS un";
        } else {
            reached = "universe AS un\n              JOIN (SELECT e." + *spec_.event_user_id +
                      " AS uid FROM " + *spec_.event_table +
                      " AS e GROUP BY 1) AS m ON m.uid = un.uid";
        }
        std::vector<std::string> columns, positions;
        for (std::size_t i = 0; i < user_keys_.size(); ++i) {
            columns.push_back(merge_after_sums(i) ? merged(user_keys_[i], *user_groups_[i].mapping) + " AS " + user_keys_[i]
                                                  : user_keys_[i]);
            positions.push_back(std::to_string(i + 1));
        }
        columns.insert(columns.end(), {"sum(k)::bigint AS k", "sum(sw) AS sw", "sum(sv) AS sv",
                                       "sum(k1)::bigint AS k1", "sum(sw1) AS sw1",
                                       "sum(sv1) AS sv1", "sum(n)::bigint AS n",
                                       "sum(total)::bigint AS total"});
        // One pass over every user gives the universe's sums and, for the design, n (users
        // with a usable weight) and total (every user).
        const std::string inside = user_filters() ? " FILTER (WHERE ok AND inside)" : " FILTER (WHERE ok)";
        return "    SELECT " + join(columns, ", ") + "\n      FROM (SELECT " + keys + "count(*)" +
               inside + " AS k, sum(w)" + inside + " AS sw, sum(w * w)" + inside +
               " AS sv, 0 AS k1,\n                   NULL::float8 AS sw1, NULL::float8 AS sv1, "
               "count(*) FILTER (WHERE ok) AS n, count(*) AS total\n              FROM usable" + by +
               "\n            UNION ALL\n            SELECT " + keys +
               "0, NULL, NULL, count(*), sum(w), sum(w * w), 0, 0\n              FROM " + reached +
               by + ") AS sides" +
               (user_keys_.empty() ? "" : "\n     GROUP BY " + join(positions, ", "));
    }

    std::string reach_stats() const {
        // x is 1 for reached users, 0 for the others: Σw²(x − mv)² = sv1·(1 − mv)² + sv0·mv²
        // with sv0 = sv − sv1. When every user is reached the universe's own sums are used,
        // so p = 1 and the SE = 0 exactly.
        std::vector<std::string> columns = user_keys_;
        columns.insert(columns.end(), {"k", "sw", "sv", "swx", "mv",
                                       "sv1 * (1 - mv) * (1 - mv) + sv0 * mv * mv AS cv"});
        std::vector<std::string> inner = user_keys_;
        inner.insert(inner.end(),
                     {"k", "sw", "sv", "CASE WHEN k1 = k THEN sw ELSE coalesce(sw1, 0.0) END AS swx",
                      "CASE WHEN k1 = k THEN 1.0 ELSE coalesce(sv1, 0.0) / sv END AS mv",
                      "CASE WHEN k1 = k THEN sv ELSE coalesce(sv1, 0.0) END AS sv1",
                      "CASE WHEN k1 = k THEN 0.0 ELSE greatest(sv - coalesce(sv1, 0.0), 0.0) END "
                      "AS sv0"});
        return "    SELECT " + join(columns, ", ") + "\n      FROM (SELECT " +
               join(inner, ",\n                   ") + "\n              FROM tallies" +
               std::string(!user_keys_.empty()
                               ? "\n             WHERE k > 0"  // groups outside the universe
                               : "") +
               ") AS tallied";
    }

    std::string matched() const {
        std::vector<std::string> columns = {"e." + *spec_.event_user_id + " AS uid"};
        std::vector<std::string> by = {"1"};
        for (std::size_t i = 0; i < event_keys_.size(); ++i) {
            columns.push_back(event_sql_[i] + " AS " + event_keys_[i]);
            by.push_back(std::to_string(i + 2));
        }
        columns.push_back("count(*)::float8 AS n_events");
        if (x_from_events_) columns.push_back(x_over_users() + " AS ex");
        std::string sql = "    SELECT " + join(columns, ",\n           ") + "\n      FROM " +
                          *spec_.event_table + " AS e";
        if (spec_.event_filter) sql += "\n     WHERE " + spec_.event_filter->sql;
        return sql + "\n     GROUP BY " + join(by, ", ");
    }

    std::string units() const {
        std::vector<std::string> columns;
        for (const std::string& key : user_keys_) columns.push_back("un." + key);
        for (const std::string& key : event_keys_) columns.push_back("m." + key);
        columns.push_back("un.w");
        std::string x, from, where;
        const Measure m = spec_.measure;
        if (universe_domain_ && !event_groups_) {
            // Every universe user once, reached or not (x = 0 when not).
            x = m == Measure::projected_events ? "coalesce(m.n_events, 0.0)"
                                               : "CASE WHEN m.uid IS NULL THEN 0.0 ELSE 1.0 END";
            from = "universe AS un LEFT JOIN matched AS m ON m.uid = un.uid";
        } else if (universe_domain_) {
            // Users with events in each event group (the universe of their user group joins
            // in collapsed).
            x = m == Measure::projected_events ? "m.n_events" : "1.0::float8";
            from = "universe AS un JOIN matched AS m ON m.uid = un.uid";
        } else {
            if (m == Measure::avg_frequency)
                x = "m.n_events";
            else
                x = x_from_events_ ? "m.ex" : "un.ux";
            from = spec_.event_table ? "universe AS un JOIN matched AS m ON m.uid = un.uid"
                                     : "universe AS un";
            if (m == Measure::mean || m == Measure::quantile) where = x + " IS NOT NULL";
        }
        columns.push_back(x + " AS x");
        std::string sql = "    SELECT " + join(columns, ", ") + "\n      FROM " + from;
        if (!where.empty()) sql += "\n     WHERE " + where;
        return sql;
    }

    std::string partition() const {
        return all_keys_.empty() ? "()" : "(PARTITION BY " + join(all_keys_, ", ") + ")";
    }

    std::string group_by_clause() const {
        return all_keys_.empty() ? "" : "\n     GROUP BY " + join(all_keys_, ", ");
    }

    std::string collapsed() const {
        // Users with the same count in a group: their sums, one row.
        std::vector<std::string> columns = all_keys_;
        columns.insert(columns.end(),
                       {"x", "count(*) AS k", "sum(w) AS sw", "sum(w * w) AS sv"});
        const bool universe_rows = universe_domain_ && event_groups_;
        if (universe_rows) columns.push_back("1 AS part");
        std::vector<std::string> by = all_keys_;
        by.push_back("x");
        std::string sql = "    SELECT " + join(columns, ", ") + "\n      FROM units\n     GROUP BY " +
                          join(by, ", ");
        if (!universe_rows) return sql;
        // Event groups of a universe measure: part 1 are the users with events in the group;
        // part 0 (no event group, no x) the whole universe of each user group, for the
        // denominators and the non-reached users' share of S.
        std::vector<std::string> whole = user_keys_;
        for (std::size_t i = 0; i < event_keys_.size(); ++i) whole.push_back("NULL");
        whole.insert(whole.end(), {"NULL", "count(*)", "sum(w)", "sum(w * w)", "0"});
        return sql + "\n     UNION ALL\n    SELECT " + join(whole, ", ") + "\n      FROM universe" +
               (user_keys_.empty() ? "" : "\n     GROUP BY " + join(user_keys_, ", "));
    }

    std::string stats() const {
        std::vector<std::string> columns = all_keys_;
        if (counts_)
            columns.insert(columns.end(),
                           {"sum(k)::bigint AS k", "sum(sw) AS sw", "sum(sv) AS sv",
                            "sum(sw * x) AS swx", "min(mv) AS mv",
                            "sum(sv * (x - mv) * (x - mv)) AS cv"});
        else
            columns.insert(columns.end(), {"count(*) AS k", "sum(w) AS sw", "sum(w * w) AS sv",
                                           "sum(w * x) AS swx", "min(mv) AS mv",
                                           "sum(w * w * (x - mv) * (x - mv)) AS cv"});
        if (!counts_)
            return "    SELECT " + join(columns, ", ") +
                   "\n      FROM (SELECT units.*, sum(w * w * x) OVER grp / sum(w * w) OVER grp AS mv"
                   "\n              FROM units WINDOW grp AS " +
                   partition() + ") AS centred" + group_by_clause();
        if (!(universe_domain_ && event_groups_))
            return "    SELECT " + join(columns, ", ") +
                   "\n      FROM (SELECT collapsed.*, sum(sv * x) OVER grp / sum(sv) OVER grp AS mv"
                   "\n              FROM collapsed WINDOW grp AS " +
                   partition() + ") AS centred" + group_by_clause();
        // Event groups of a universe measure: the user group's universe sums (part 0) ride
        // along to every event group of that user group.
        columns.insert(columns.end(),
                       {"min(base_u)::bigint AS base_u", "min(w_u) AS w_u", "min(v_u) AS v_u"});
        std::vector<std::string> by_part = all_keys_;
        by_part.push_back("part");
        const std::string users =
            user_keys_.empty() ? "()" : "(PARTITION BY " + join(user_keys_, ", ") + ")";
        return "    SELECT " + join(columns, ", ") +
               "\n      FROM (SELECT collapsed.*, sum(sv * x) OVER grp / sum(sv) OVER grp AS mv,"
               "\n                   sum(k) FILTER (WHERE part = 0) OVER users AS base_u,"
               "\n                   sum(sw) FILTER (WHERE part = 0) OVER users AS w_u,"
               "\n                   sum(sv) FILTER (WHERE part = 0) OVER users AS v_u"
               "\n              FROM collapsed WINDOW grp AS (PARTITION BY " +
               join(by_part, ", ") + "), users AS " + users +
               ") AS centred\n     WHERE part = 1" + group_by_clause();
    }

    std::string estimates() const {
        // W of the domain; for an event group of a universe measure, the user group's universe.
        std::string base = "k", total_w = "sw", outside_v = "0.0";
        std::string n_eff = "sw * sw / NULLIF(sv, 0)";
        if (universe_domain_ && event_groups_) {
            // When every universe user is in the group, use the same sums (exact p = 1).
            base = "base_u";
            total_w = "CASE WHEN k = base_u THEN sw ELSE w_u END";
            outside_v = "CASE WHEN k = base_u THEN 0.0 ELSE greatest(v_u - sv, 0.0) END";
            n_eff = "w_u * w_u / NULLIF(v_u, 0)";
        }
        return "    SELECT stats.*, design.n AS design_n, design.excluded, " + base +
               " AS base,\n"
               "           " +
               total_w + " AS total_w, " + outside_v +
               " AS outside_v,\n"
               "           " +
               n_eff + " AS n_eff, swx / NULLIF(" + total_w +
               ", 0) AS m\n"
               "      FROM stats CROSS JOIN design";
    }

    std::string errors() const {
        // S = Σ w²(x − m)² = cv + sv·(mv − m)² + m²·(Σw² of universe users outside the units)
        return "    SELECT estimates.*,\n"
               "           sqrt(design_n::float8 / NULLIF(design_n - 1, 0)\n"
               "                * (cv + sv * (mv - m) * (mv - m) + m * m * outside_v))\n"
               "           / NULLIF(total_w, 0) AS se_m\n"
               "      FROM estimates";
    }

    std::vector<std::string> group_outputs() const {
        std::vector<std::string> out;
        std::size_t user = 0, event = 0;
        for (const Group& group : spec_.groups)
            out.push_back((group.from_events ? event_keys_[event++] : user_keys_[user++]) + " AS " +
                          quote_ident(group.output));
        return out;
    }

    std::string groups_json() const {
        if (spec_.groups.empty()) return "'{}'::jsonb";
        std::vector<std::string> pairs;
        std::size_t user = 0, event = 0;
        for (const Group& group : spec_.groups)
            pairs.push_back(quote_literal(group.output) + ", " +
                            (group.from_events ? event_keys_[event++] : user_keys_[user++]));
        return "jsonb_build_object(" + join(pairs, ", ") + ")";
    }

    std::string order_by() const {
        std::vector<std::string> positions;
        for (std::size_t i = 0; i < spec_.groups.size(); ++i)
            positions.push_back(std::to_string(i + 1));
        return positions.empty() ? "" : "\n ORDER BY " + join(positions, ", ");
    }

    std::string final_select() const {
        const Measure m = spec_.measure;
        const std::string z = number_literal(kZ95);
        const bool proportion =
            m == Measure::reach || m == Measure::reach_pct || m == Measure::share;
        const bool total = m == Measure::reach || m == Measure::projected_events;
        std::string value = total ? "swx" : "m";
        std::string se = total ? "se_m * total_w" : "se_m";
        std::string ci_low = "NULL::float8", ci_high = "NULL::float8";
        std::string kg_p = "NULL::float8", kg_n = "NULL::float8", kg_scale = "NULL::float8";
        if (proportion) {
            kg_p = "m";
            kg_n =
                "CASE WHEN se_m > 0 THEN least(base::float8, m * (1 - m) / (se_m * se_m))"
                " ELSE base::float8 END";
            kg_scale = total ? "total_w" : "1.0::float8";
        } else if (total) {
            ci_low = "(m - " + z + " * se_m) * total_w";
            ci_high = "(m + " + z + " * se_m) * total_w";
        } else {
            ci_low = "m - " + z + " * se_m";
            ci_high = "m + " + z + " * se_m";
        }
        std::vector<std::string> columns = group_outputs();
        columns.insert(
            columns.end(),
            {value + " AS value", se + " AS se", "base", "n_eff", ci_low + " AS ci_low",
             ci_high + " AS ci_high", "base < " + std::to_string(min_base_) + " AS low_base",
             kg_p + " AS _kg_p", kg_n + " AS _kg_n", kg_scale + " AS _kg_scale",
             "excluded AS _excluded", groups_json() + " AS _groups"});
        return "SELECT " + join(columns, ",\n       ") + "\n  FROM errors" + order_by();
    }

    std::string quantiles() const {
        // Smallest x whose cumulative weight (ties together) reaches q·W.
        std::vector<std::string> columns = all_keys_;
        columns.insert(
            columns.end(),
            {"count(*) AS base", "sum(w) * sum(w) / NULLIF(sum(w * w), 0) AS n_eff",
             "min(x) FILTER (WHERE cum >= " + number_literal(spec_.q) + " * total * (1 - " +
                 number_literal(kQuantileTolerance) + ")) AS value"});
        const std::string by = all_keys_.empty() ? "" : "PARTITION BY " + join(all_keys_, ", ");
        return "    SELECT " + join(columns, ", ") + "\n      FROM (SELECT units.*, sum(w) OVER (" +
               by + (by.empty() ? "" : " ") +
               "ORDER BY x) AS cum,\n                   sum(w) OVER (" + by +
               ") AS total\n              FROM units) AS ranked" + group_by_clause();
    }

    std::string quantile_select() const {
        std::vector<std::string> outputs = group_outputs();
        outputs.insert(
            outputs.end(),
            {"value", "NULL::float8 AS se", "base", "n_eff", "NULL::float8 AS ci_low",
             "NULL::float8 AS ci_high", "base < " + std::to_string(min_base_) + " AS low_base",
             "NULL::float8 AS _kg_p", "NULL::float8 AS _kg_n", "NULL::float8 AS _kg_scale",
             "excluded AS _excluded", groups_json() + " AS _groups"});
        return "SELECT " + join(outputs, ",\n       ") + "\n  FROM quantiles CROSS JOIN design" +
               order_by();
    }

    const Spec& spec_;
    std::int64_t min_base_;
    std::vector<std::string> user_keys_, event_keys_, all_keys_, event_sql_;
    std::vector<Group> user_groups_;
    bool universe_domain_ = false, event_groups_ = false;
    bool x_from_events_ = false, x_from_users_ = false;
    bool semi_join_ = false, counts_ = false, design_from_stats_ = false;
};

}  // namespace

const char* measure_name(Measure measure) {
    switch (measure) {
        case Measure::reach:
            return "reach";
        case Measure::reach_pct:
            return "reach_pct";
        case Measure::avg_frequency:
            return "avg_frequency";
        case Measure::mean:
            return "mean";
        case Measure::share:
            return "share";
        case Measure::projected_events:
            return "projected_events";
        case Measure::quantile:
            return "quantile";
    }
    return "unknown";
}

CompiledQuery compile_weighted_query(const std::string& spec_json, const DesignDefaults& defaults,
                                     const Mappings& mappings, std::int64_t min_base) {
    Spec spec = parse_spec(spec_json, defaults, mappings);
    CompiledQuery query;
    query.measure = spec.measure;
    query.min_base = min_base;
    for (const Group& group : spec.groups) {
        query.group_names.push_back(group.output);
        if (group.from_events) query.event_group_names.push_back(group.output);
    }
    query.sql = SqlBuilder(spec, min_base).build();
    return query;
}

namespace {

std::optional<double> parse_double(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    char* end = nullptr;
    const double value = std::strtod(text->c_str(), &end);
    if (end == text->c_str() || !std::isfinite(value)) return std::nullopt;
    return value;
}

void write_number(rapidjson::Writer<rapidjson::StringBuffer>& json,
                  const std::optional<double>& value) {
    if (value && std::isfinite(*value))
        json.Double(*value);
    else
        json.Null();
}

}  // namespace

std::string finish_weighted_rows(const CompiledQuery& query,
                                 const std::vector<std::vector<std::optional<std::string>>>& rows) {
    const std::size_t groups = query.group_names.size();
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> json(buffer);
    json.StartObject();
    json.Key("measure");
    json.String(measure_name(query.measure));
    json.Key("rows");
    json.StartArray();
    std::int64_t excluded = 0, low_base_rows = 0, users_seen = 0;
    for (const auto& row : rows) {
        if (row.size() != groups + kResultColumns)
            throw PgError(ERRCODE_INTERNAL_ERROR, "weighted_query: unexpected result shape",
                          std::to_string(row.size()) + " columns.");
        auto column = [&](int offset) -> const std::optional<std::string>& {
            return row[groups + offset];
        };
        json.StartObject();
        rapidjson::Document group_values;
        group_values.Parse(column(11).value_or("{}").c_str());
        for (const std::string& name : query.group_names) {
            json.Key(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
            auto found = group_values.IsObject() ? group_values.FindMember(name.c_str())
                                                 : group_values.MemberEnd();
            if (group_values.IsObject() && found != group_values.MemberEnd())
                found->value.Accept(json);
            else
                json.Null();
        }
        std::optional<double> ci_low = parse_double(column(4)), ci_high = parse_double(column(5));
        const std::optional<double> kg_p = parse_double(column(7)), kg_n = parse_double(column(8));
        if (kg_p && kg_n) {  // a proportion: Korn–Graubard at the size the SQL worked out
            const double scale = parse_double(column(9)).value_or(1.0);
            if (auto interval = korn_graubard_interval(*kg_p, *kg_n)) {
                ci_low = interval->first * scale;
                ci_high = interval->second * scale;
            }
        }
        const std::int64_t base = static_cast<std::int64_t>(parse_double(column(2)).value_or(0.0));
        users_seen += base;
        const bool low_base = column(6).value_or("f") == "t";
        low_base_rows += low_base ? 1 : 0;
        excluded = static_cast<std::int64_t>(parse_double(column(10)).value_or(0.0));
        json.Key("value");
        write_number(json, parse_double(column(0)));
        json.Key("se");
        write_number(json, parse_double(column(1)));
        json.Key("base");
        json.Int64(base);
        json.Key("n_eff");
        write_number(json, parse_double(column(3)));
        json.Key("ci_low");
        write_number(json, ci_low);
        json.Key("ci_high");
        write_number(json, ci_high);
        json.Key("low_base");
        json.Bool(low_base);
        json.EndObject();
    }
    json.EndArray();
    json.Key("sql");
    json.String(query.sql.c_str(), static_cast<rapidjson::SizeType>(query.sql.size()));
    json.Key("warnings");
    json.StartArray();
    auto warn = [&](const std::string& text) {
        json.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    };
    if (excluded > 0)
        warn(std::to_string(excluded) + (excluded == 1 ? " user" : " users") +
             " without a positive weight (NULL, zero or negative) left out of every figure.");
    if (low_base_rows > 0)
        warn(std::to_string(low_base_rows) + " of " + std::to_string(rows.size()) +
             (rows.size() == 1 ? " row has" : " rows have") + " an unweighted base under " +
             std::to_string(query.min_base) + " users (low_base): report them with a caveat.");
    if (users_seen == 0) warn("No users matched: check the filters and the universe.");
    if (!query.event_group_names.empty() && uses_events_as_domain(query.measure))
        warn(
            "Grouped by event columns: a user counts in every group where they have a matching "
            "event, so groups overlap; percentages keep the whole universe as denominator.");
    json.EndArray();
    json.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace mcp::ext::weighting
