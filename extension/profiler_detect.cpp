// Roles of columns (user id, weight, date, date stored as text), the granularity of each
// table, quality issues, and the JSON handed to mcp._store_profile.
#include "profiler_model.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

namespace mcp::ext::profiler {

namespace {

std::vector<std::string> tokens(const std::string& name) {
    std::vector<std::string> parts;
    std::string current;
    for (size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        bool boundary =
            std::isupper((unsigned char)c) && i > 0 && std::islower((unsigned char)name[i - 1]);
        if (!std::isalnum((unsigned char)c) || boundary) {
            if (!current.empty()) parts.push_back(current);
            current.clear();
            if (!std::isalnum((unsigned char)c)) continue;
        }
        current += static_cast<char>(std::tolower((unsigned char)c));
    }
    if (!current.empty()) parts.push_back(current);
    return parts;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

bool any_of_tokens(const std::vector<std::string>& parts,
                   std::initializer_list<const char*> words) {
    for (const char* word : words)
        if (contains(parts, word)) return true;
    return false;
}

std::string format_count(double value) {
    char text[64];
    std::snprintf(text, sizeof text, "%.0f", value);
    return text;
}

bool is_unique_key(const TableProfile& table, const std::string& column) {
    if (table.primary_key.size() == 1 && table.primary_key[0] == column) return true;
    for (const auto& key : table.unique_keys)
        if (key.size() == 1 && key[0] == column) return true;
    return false;
}

bool measure_like(const ColumnProfile& column) {
    if (!column.is_numeric()) return false;
    return any_of_tokens(
        tokens(column.name),
        {"count",       "counts", "users",    "events",  "total",    "sum",     "avg",
         "average",     "reach",  "weighted", "share",   "sessions", "minutes", "duration",
         "impressions", "views",  "visits",   "revenue", "spend",    "n"});
}

void detect_columns(TableProfile& table) {
    for (ColumnProfile& column : table.columns) {
        if (contains(table.primary_key, column.name)) column.roles.push_back("primary_key");
        for (const ForeignKey& fk : table.foreign_keys)
            for (size_t i = 0; i < fk.columns.size(); ++i)
                if (fk.columns[i] == column.name && i < fk.ref_columns.size())
                    column.references = (fk.ref_schema == "public" ? "" : fk.ref_schema + ".") +
                                        fk.ref_table + "." + fk.ref_columns[i];
        if (looks_like_user_id(column.name) ||
            (!column.references.empty() &&
             looks_like_user_id(column.references.substr(column.references.rfind('.') + 1)))) {
            column.roles.push_back("user_id");
            if (table.user_id_column.empty()) table.user_id_column = column.name;
        }
        if (column.is_datetime())
            column.roles.push_back(
                column.base_type == "time" || column.base_type == "timetz" ? "time" : "date");
        long long non_null = table.row_count - column.null_count.value_or(0);
        if (column.is_textual() && column.date_like > 0 && non_null > 0 &&
            column.date_like * 10 >= non_null * 9) {
            column.roles.push_back("date_as_text");
            table.issues.push_back(
                table.qualified() + "." + column.name + " holds dates as text (e.g. " +
                column.min.value_or(column.top_values.empty()
                                        ? "'2026-07-01'"
                                        : "'" + column.top_values[0].first + "'") +
                "); store them as date or timestamp so they sort, compare and range correctly");
        }
    }
}

void detect_weight(TableProfile& table) {
    for (ColumnProfile& column : table.columns) {
        if (!looks_like_weight(column)) continue;
        if (column.negatives > 0) {
            table.issues.push_back(
                table.qualified() + "." + column.name + " looks like a weight but has " +
                format_count(column.negatives) + " negative values; not used as a weight");
            continue;
        }
        column.roles.push_back("weight");
        if (table.weight_column.empty()) table.weight_column = column.name;
        long long nulls = column.null_count.value_or(0);
        long long zeros = std::max(column.zeros, 0LL);
        if (nulls > 0 || zeros > 0) {
            std::string what;
            if (nulls > 0) what += format_count(nulls) + " NULL";
            if (zeros > 0) what += (what.empty() ? "" : " and ") + format_count(zeros) + " zero";
            table.issues.push_back(table.qualified() + "." + column.name + ": " + what +
                                   " weight(s)" +
                                   (table.row_count_is_estimate ? " (estimated)" : "") +
                                   "; leave those rows out of weighted estimates (weight > 0)");
        }
    }
    if (table.weight_column.empty()) return;
    if (!table.user_id_column.empty() && is_unique_key(table, table.user_id_column)) {
        table.weight_constant_per_user = true;
    } else if (table.user_weight_pairs && !table.user_id_column.empty()) {
        const ColumnProfile* user = table.column(table.user_id_column);
        if (user != nullptr && user->distinct) {
            bool constant = static_cast<double>(*table.user_weight_pairs) <= *user->distinct;
            table.weight_constant_per_user = constant;
            if (!constant)
                table.issues.push_back(
                    table.qualified() + "." + table.weight_column +
                    " varies within a user; a panel weight should be constant per user");
        }
    }
}

void detect_granularity(TableProfile& table) {
    bool has_date = false, has_measure = false;
    for (const ColumnProfile& column : table.columns) {
        has_date = has_date || column.has_role("date") || column.has_role("date_as_text");
        has_measure = has_measure || measure_like(column);
    }
    if (!table.user_id_column.empty()) {
        const ColumnProfile* user = table.column(table.user_id_column);
        bool one_row_per_user = is_unique_key(table, table.user_id_column) ||
                                (user && user->distinct && table.row_count > 0 &&
                                 std::llround(*user->distinct) >= table.row_count);
        table.granularity = one_row_per_user ? "reference" : "event_level";
    } else if (has_measure && (has_date || table.columns.size() > 2)) {
        table.granularity = "aggregated";
    } else {
        table.granularity = "reference";
    }
    if (table.relkind == 'r' && table.primary_key.empty())
        table.issues.push_back(table.qualified() + " has no primary key");
    for (const ColumnProfile& column : table.columns)
        if (column.null_fraction > 0.5 && !column.has_role("weight"))
            table.issues.push_back(table.qualified() + "." + column.name + " is mostly empty (" +
                                   format_count(column.null_fraction * 100) + "% NULL)");
}

// ---------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(Writer& json, const std::string& value) {
    json.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_strings(Writer& json, const std::vector<std::string>& values) {
    json.StartArray();
    for (const std::string& value : values) write_string(json, value);
    json.EndArray();
}

void write_optional(Writer& json, const char* key, const std::optional<std::string>& value) {
    json.Key(key);
    if (value)
        write_string(json, *value);
    else
        json.Null();
}

const char* kind_name(char relkind) {
    switch (relkind) {
        case 'v':
            return "view";
        case 'm':
            return "materialized_view";
        case 'f':
            return "foreign_table";
        case 'p':
            return "partitioned_table";
        default:
            return "table";
    }
}

void write_column(Writer& json, const ColumnProfile& column) {
    json.StartObject();
    json.Key("name");
    write_string(json, column.name);
    json.Key("type");
    write_string(json, column.type);
    json.Key("nullable");
    json.Bool(!column.not_null);
    json.Key("comment");
    if (column.comment.empty())
        json.Null();
    else
        write_string(json, column.comment);
    json.Key("null_count");
    if (column.null_count)
        json.Int64(*column.null_count);
    else
        json.Null();
    json.Key("null_fraction");
    if (column.null_fraction >= 0)
        json.Double(std::round(column.null_fraction * 1e6) / 1e6);
    else
        json.Null();
    json.Key("distinct_count");
    if (column.distinct)
        json.Int64(std::llround(*column.distinct));
    else
        json.Null();
    json.Key("distinct_is_estimate");
    json.Bool(column.distinct_is_estimate);
    write_optional(json, "min", column.min);
    write_optional(json, "max", column.max);
    json.Key("minmax_is_estimate");
    json.Bool(column.minmax_is_estimate && (column.min || column.max));
    json.Key("top_values");
    json.StartArray();
    for (const auto& [value, amount] : column.top_values) {
        json.StartObject();
        json.Key("value");
        write_string(json, value);
        if (column.top_are_fractions) {
            json.Key("fraction");
            json.Double(std::round(amount * 1e6) / 1e6);
        } else {
            json.Key("count");
            json.Int64(std::llround(amount));
        }
        json.EndObject();
    }
    json.EndArray();
    json.Key("roles");
    write_strings(json, column.roles);
    json.Key("references");
    if (column.references.empty())
        json.Null();
    else
        write_string(json, column.references);
    json.EndObject();
}

void write_table(Writer& json, const TableProfile& table) {
    json.StartObject();
    json.Key("schema");
    write_string(json, table.schema);
    json.Key("name");
    write_string(json, table.name);
    json.Key("kind");
    json.String(kind_name(table.relkind));
    json.Key("granularity");
    write_string(json, table.granularity);
    json.Key("row_count");
    json.Int64(table.row_count);
    json.Key("row_count_is_estimate");
    json.Bool(table.row_count_is_estimate);
    json.Key("columns");
    json.StartArray();
    for (const ColumnProfile& column : table.columns) write_column(json, column);
    json.EndArray();
    json.Key("sample");
    json.RawValue(table.sample_json.c_str(), table.sample_json.size(), rapidjson::kArrayType);
    json.Key("stats");
    json.StartObject();
    json.Key("method");
    write_string(json, table.method);
    json.Key("remote_queries");
    json.Int(table.remote_queries);
    json.Key("duration_ms");
    json.Double(std::round(table.duration_ms * 10) / 10);
    json.Key("comment");
    if (table.comment.empty())
        json.Null();
    else
        write_string(json, table.comment);
    json.Key("primary_key");
    write_strings(json, table.primary_key);
    json.Key("unique_keys");
    json.StartArray();
    for (const auto& key : table.unique_keys) write_strings(json, key);
    json.EndArray();
    json.Key("foreign_keys");
    json.StartArray();
    for (const ForeignKey& fk : table.foreign_keys) {
        json.StartObject();
        json.Key("columns");
        write_strings(json, fk.columns);
        json.Key("references");
        write_string(json, (fk.ref_schema == "public" ? "" : fk.ref_schema + ".") + fk.ref_table);
        json.Key("ref_columns");
        write_strings(json, fk.ref_columns);
        json.EndObject();
    }
    json.EndArray();
    json.Key("user_id_column");
    if (table.user_id_column.empty())
        json.Null();
    else
        write_string(json, table.user_id_column);
    json.Key("weight_column");
    if (table.weight_column.empty())
        json.Null();
    else
        write_string(json, table.weight_column);
    json.Key("weight_constant_per_user");
    if (table.weight_constant_per_user)
        json.Bool(*table.weight_constant_per_user);
    else
        json.Null();
    json.Key("issues");
    write_strings(json, table.issues);
    json.EndObject();
    json.EndObject();
}

// The panel's user table: one row per user, with the weight. Else any table with a weight.
const TableProfile* weight_table(const std::vector<TableProfile>& tables) {
    const TableProfile* fallback = nullptr;
    for (const TableProfile& table : tables) {
        if (table.weight_column.empty()) continue;
        if (table.granularity == "reference" && !table.user_id_column.empty()) return &table;
        if (fallback == nullptr) fallback = &table;
    }
    return fallback;
}

void write_dataset(Writer& json, const std::vector<TableProfile>& tables) {
    std::set<std::string> kinds;
    long long rows = 0;
    std::optional<std::string> first, last;
    for (int pass = 0; pass < 2 && !first; ++pass) {
        for (const TableProfile& table : tables) {
            if ((pass == 0) != (table.granularity == "event_level")) continue;
            for (const ColumnProfile& column : table.columns) {
                if (!column.has_role("date") || !column.min || !column.max) continue;
                std::string lo = column.min->substr(0, 10), hi = column.max->substr(0, 10);
                if (!first || lo < *first) first = lo;
                if (!last || hi > *last) last = hi;
            }
        }
    }
    for (const TableProfile& table : tables) {
        rows += table.row_count;
        if (table.granularity != "reference") kinds.insert(table.granularity);
    }
    json.StartObject();
    json.Key("dataset_type");
    if (kinds.empty())
        json.Null();
    else if (kinds.size() > 1)
        json.String("mixed");
    else
        write_string(json, *kinds.begin());
    const TableProfile* weighted = weight_table(tables);
    json.Key("weight_column_name");
    if (weighted)
        write_string(json, weighted->weight_column);
    else
        json.Null();
    json.Key("user_table_name");
    if (weighted && !weighted->user_id_column.empty())
        write_string(json, weighted->qualified());
    else
        json.Null();
    json.Key("user_id_column_name");
    std::string user_id = weighted ? weighted->user_id_column : "";
    for (const TableProfile& table : tables)
        if (user_id.empty() && !table.user_id_column.empty()) user_id = table.user_id_column;
    if (user_id.empty())
        json.Null();
    else
        write_string(json, user_id);
    json.Key("estimated_row_count");
    json.Int64(rows);
    write_optional(json, "date_range_start", first);
    write_optional(json, "date_range_end", last);
    json.EndObject();
}

}  // namespace

bool looks_like_user_id(const std::string& column_name) {
    std::vector<std::string> parts = tokens(column_name);
    if (parts.size() == 1)
        return parts[0] == "uid" || parts[0] == "userid" || parts[0] == "panelistid" ||
               parts[0] == "memberid" || parts[0] == "respondentid";
    if (parts.size() == 2 && (parts[1] == "id" || parts[1] == "key"))
        return any_of_tokens({parts[0]}, {"user", "panelist", "member", "respondent", "person",
                                          "individual", "participant", "panel", "customer"});
    return false;
}

bool looks_like_weight(const ColumnProfile& column) {
    if (!column.is_numeric()) return false;
    std::vector<std::string> parts = tokens(column.name);
    if (any_of_tokens(parts, {"weight", "wt", "wgt", "weighting", "wght"})) return true;
    return contains(parts, "factor") &&
           any_of_tokens(parts, {"projection", "proj", "expansion", "raising"});
}

void detect(std::vector<TableProfile>& tables) {
    for (TableProfile& table : tables) {
        detect_columns(table);
        detect_weight(table);
        detect_granularity(table);
    }
}

std::string to_json(const std::vector<TableProfile>& tables, double duration_ms, int connections,
                    const std::string& phases_json) {
    rapidjson::StringBuffer buffer;
    Writer json(buffer);
    json.StartObject();
    json.Key("tables");
    json.StartArray();
    for (const TableProfile& table : tables) write_table(json, table);
    json.EndArray();
    json.Key("dataset");
    write_dataset(json, tables);
    json.Key("summary");
    json.StartObject();
    int queries = 1;  // the catalog
    long long rows = 0;
    json.Key("methods");
    json.StartObject();
    std::set<std::string> methods;
    for (const TableProfile& table : tables) methods.insert(table.method);
    for (const std::string& method : methods) {
        int count = 0;
        for (const TableProfile& table : tables) count += table.method == method;
        json.Key(method.c_str());
        json.Int(count);
    }
    json.EndObject();
    for (const TableProfile& table : tables) {
        queries += table.remote_queries;
        rows += table.row_count;
    }
    json.Key("tables");
    json.Int(static_cast<int>(tables.size()));
    json.Key("rows");
    json.Int64(rows);
    json.Key("remote_queries");
    json.Int(queries);
    json.Key("duration_ms");
    json.Double(std::round(duration_ms * 10) / 10);
    json.Key("connections");
    json.Int(connections);
    json.Key("phases");
    json.RawValue(phases_json.c_str(), phases_json.size(), rapidjson::kObjectType);
    json.EndObject();
    json.EndObject();
    return buffer.GetString();
}

}  // namespace mcp::ext::profiler
