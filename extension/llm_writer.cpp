// The deterministic metadata writer: the same fields an LLM would write, derived from the
// profile alone (column comments, detected roles, statistics), so a dataset can be reviewed
// and approved with no LLM endpoint at all. Same profile in, same text out.
#include "number_text.hpp"
#include "llm.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace mcp::ext::llm {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string str(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject()) return "";
    auto found = object.FindMember(name);
    if (found == object.MemberEnd()) return "";
    if (found->value.IsString()) return found->value.GetString();
    if (found->value.IsInt64()) return std::to_string(found->value.GetInt64());
    return "";
}

bool has_role(const rapidjson::Value& column, const char* role) {
    if (!column["roles"].IsArray()) return false;
    for (const auto& r : column["roles"].GetArray())
        if (r.IsString() && std::string(r.GetString()) == role) return true;
    return false;
}

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower((unsigned char)c));
    return text;
}

std::string first_sentence(const std::string& text) {
    size_t end = text.find(". ");
    return end == std::string::npos ? text : text.substr(0, end + 1);
}

std::string granularity_phrase(const std::string& granularity) {
    if (granularity == "event_level") return "event-level";
    if (granularity == "aggregated") return "aggregated";
    return "reference";
}

std::string table_entry(const rapidjson::Value& table) {
    const rapidjson::Value& stats = table["stats"];
    std::string comment = str(stats, "comment");
    if (!comment.empty()) return comment;
    std::string granularity = str(table, "granularity");
    std::string rows = with_commas(table["row_count"].GetInt64());
    if (granularity == "reference" && !str(stats, "user_id_column").empty())
        return "One row per user (" + rows + " users)" +
               (str(stats, "weight_column").empty()
                    ? ""
                    : ", with the projection weight " + str(stats, "weight_column")) +
               ".";
    if (granularity == "event_level")
        return "Event-level data: one row per event (" + rows + " rows).";
    if (granularity == "aggregated")
        return "Aggregated data (" + rows + " rows): pre-computed totals per group.";
    return "Reference data (" + rows + " rows).";
}

std::string column_entry(const rapidjson::Value& column) {
    std::string comment = str(column, "comment");
    if (!comment.empty()) return comment;
    std::string min = str(column, "min"), max = str(column, "max");
    std::string range = min.empty() ? "" : " from " + min + " to " + max;
    if (has_role(column, "weight"))
        return "Projection weight: how many people in the population this user stands for; "
               "sum it over distinct users (weight > 0) for population estimates.";
    if (has_role(column, "user_id")) {
        std::string ref = str(column, "references");
        return "Identifier of the panel user" +
               (ref.empty() ? std::string() : " (references " + ref + ")") + ".";
    }
    if (has_role(column, "primary_key")) return "Unique identifier of the row.";
    if (has_role(column, "date_as_text")) return "Date stored as text; cast it before comparing.";
    if (has_role(column, "date")) return "Date/time of the row" + range + ".";
    const rapidjson::Value& top = column["top_values"];
    if (top.IsArray() && !top.Empty()) {
        std::string values;
        int shown = 0;
        for (const auto& item : top.GetArray()) {
            if (shown++ == 8) {
                values += ", ...";
                break;
            }
            values += (values.empty() ? "" : ", ") + str(item, "value");
        }
        return "Category: " + values + ".";
    }
    std::string type = str(column, "type");
    if (!min.empty()) return "Number (" + type + ")" + range + ".";
    std::string distinct = str(column, "distinct_count");
    return "Value of type " + type +
           (distinct.empty() ? "" : ", " + with_commas(std::stoll(distinct)) + " distinct") + ".";
}

struct Signals {
    bool ctv = false, mobile = false, shopping = false, ads = false, demographics = false,
         dates = false, apps = false;
};

Signals read_signals(const rapidjson::Value& tables) {
    Signals s;
    for (const auto& table : tables.GetArray()) {
        for (const auto& column : table["columns"].GetArray()) {
            std::string name = lower(str(column, "name"));
            auto has = [&](const char* word) { return name.find(word) != std::string::npos; };
            s.apps = s.apps || has("app");
            s.shopping = s.shopping || has("spend") || has("purchase") || has("order") ||
                         has("price") || has("revenue");
            s.ads =
                s.ads || has("impression") || has("campaign") || has("creative") || has("click");
            s.demographics = s.demographics || has("age") || has("gender") || has("nccs") ||
                             has("state") || has("town");
            s.dates = s.dates || has_role(column, "date");
            if (column["top_values"].IsArray())
                for (const auto& top : column["top_values"].GetArray()) {
                    std::string value = lower(str(top, "value"));
                    s.ctv = s.ctv || value == "ctv" || value.find("_tv") != std::string::npos;
                    s.mobile =
                        s.mobile || value == "mobile" || value == "android" || value == "ios";
                    s.shopping = s.shopping || value == "purchase";
                }
        }
    }
    return s;
}

void write_list(Writer& json, const std::vector<std::string>& items) {
    json.StartArray();
    for (const std::string& item : items) json.String(item.c_str());
    json.EndArray();
}

}  // namespace

std::string write_from_profile(const rapidjson::Value& input) {
    const rapidjson::Value& dataset = input["dataset"];
    const rapidjson::Value& tables = input["tables"];
    rapidjson::StringBuffer buffer;
    Writer json(buffer);
    json.StartObject();

    // Description: what, how big, which period, how to weight.
    std::string description;
    if (std::string given = str(dataset, "description"); !given.empty())
        description = first_sentence(given) + " ";
    std::string list;
    int count = 0;
    for (const auto& table : tables.GetArray()) {
        list += (count++ ? ", " : "") + str(table, "name") + " (" +
                granularity_phrase(str(table, "granularity")) + ", " +
                with_commas(table["row_count"].GetInt64()) + " rows)";
    }
    description += std::to_string(count) + (count == 1 ? " table: " : " tables: ") + list + ".";
    if (std::string start = str(dataset, "date_range_start"); !start.empty())
        description += " Dates from " + start + " to " + str(dataset, "date_range_end") + ".";
    if (std::string weight = str(dataset, "weight_column_name"); !weight.empty())
        description += " Users carry a projection weight (" + str(dataset, "user_table_name") +
                       "." + weight + "): weigh users, not events.";
    json.Key("description");
    json.String(description.c_str());

    json.Key("data_dictionary");
    json.StartObject();
    std::vector<std::string> observations, suggestions;
    int uncommented = 0;
    for (const auto& table : tables.GetArray()) {
        const std::string name = str(table, "name");
        json.Key(name.c_str());
        json.String(table_entry(table).c_str());
        for (const auto& column : table["columns"].GetArray()) {
            std::string key = name + "." + str(column, "name");
            json.Key(key.c_str());
            json.String(column_entry(column).c_str());
            uncommented += str(column, "comment").empty();
            if (has_role(column, "date_as_text"))
                suggestions.push_back("Store " + key + " as date or timestamp instead of text.");
        }
        const rapidjson::Value& stats = table["stats"];
        if (stats["issues"].IsArray())
            for (const auto& issue : stats["issues"].GetArray()) {
                std::string text = issue.GetString();
                observations.push_back(text);
                if (text.find("no primary key") != std::string::npos)
                    suggestions.push_back("Add a primary key to " + name + ".");
                if (text.find("weight(s)") != std::string::npos)
                    suggestions.push_back(
                        "Give every user a positive weight, or drop users without one, in " + name +
                        ".");
            }
        if (table["row_count_is_estimate"].IsTrue())
            observations.push_back(
                name + ": row count and statistics are estimates from the database's statistics (" +
                str(stats, "method") + ").");
    }
    json.EndObject();
    if (str(dataset, "weight_column_name").empty()) {
        observations.push_back(
            "No weight column was found: figures can only be reported unweighted.");
        suggestions.push_back(
            "Add a per-user projection weight so that figures can be projected to the population.");
    }
    if (uncommented > 0)
        suggestions.push_back("Document the " + std::to_string(uncommented) +
                              " column(s) without a description with COMMENT ON COLUMN.");

    Signals signals = read_signals(tables);
    std::vector<std::string> uses;
    if (signals.apps || signals.ctv || signals.mobile)
        uses.push_back("Media planning: weighted reach and frequency by app and platform");
    if (signals.demographics) uses.push_back("Audience profiling by age, gender, NCCS and region");
    if (signals.shopping)
        uses.push_back("E-commerce: weighted purchase incidence and spend per buyer");
    if (signals.ads) uses.push_back("Advertising: campaign reach and engagement");
    if (signals.dates) uses.push_back("Trend analysis by day, week or month");
    if (uses.empty()) uses.push_back("Exploratory analysis");
    std::string category = signals.ctv && signals.mobile ? "mixed"
                           : signals.ctv                 ? "ctv"
                           : signals.mobile              ? "mobile"
                           : signals.ads                 ? "ads"
                           : signals.shopping            ? "ecommerce"
                                                         : "other";
    json.Key("quality_observations");
    write_list(json, observations);
    json.Key("improvement_suggestions");
    write_list(json, suggestions);
    json.Key("recommended_use_cases");
    write_list(json, uses);
    json.Key("data_category");
    json.String(category.c_str());
    json.Key("date_range_start");
    if (std::string start = str(dataset, "date_range_start"); !start.empty())
        json.String(start.c_str());
    else
        json.Null();
    json.Key("date_range_end");
    if (std::string end = str(dataset, "date_range_end"); !end.empty())
        json.String(end.c_str());
    else
        json.Null();
    json.EndObject();
    return buffer.GetString();
}

}  // namespace mcp::ext::llm
