// The prompts of the metadata request: the system prompt carries the house rules from
// mcp.settings and the answer's JSON contract; the user prompt is the profile, shortened
// step by step until it fits the token budget.
#include "context_tokens.hpp"
#include "llm.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <string>
#include <vector>

namespace mcp::ext::llm {

namespace {

std::string str(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject()) return "";
    auto found = object.FindMember(name);
    if (found == object.MemberEnd()) return "";
    if (found->value.IsString()) return found->value.GetString();
    if (found->value.IsInt64()) return std::to_string(found->value.GetInt64());
    if (found->value.IsNumber()) return std::to_string(found->value.GetDouble());
    return "";
}

std::string compact(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> json(buffer);
    value.Accept(json);
    return buffer.GetString();
}

std::string rule_text(const rapidjson::Value& value) {
    return value.IsString() ? std::string(value.GetString()) : compact(value);
}

// How much detail the profile gets: 0 everything, 3 names and types only.
std::string describe_tables(const rapidjson::Value& tables, int detail) {
    std::string text;
    for (const auto& table : tables.GetArray()) {
        text += "\nTable " + str(table, "schema") + "." + str(table, "name") + " (" +
                str(table, "kind") + ", " + str(table, "granularity") + ", " +
                str(table, "row_count") + " rows" +
                (table["row_count_is_estimate"].IsTrue() ? " estimated" : "") + ")\n";
        const rapidjson::Value& stats = table["stats"];
        if (std::string comment = str(stats, "comment"); !comment.empty() && detail < 3)
            text += "Comment: " + comment + "\n";
        for (const auto& column : table["columns"].GetArray()) {
            text += "- " + str(column, "name") + " " + str(column, "type");
            if (detail < 3) {
                if (column["roles"].IsArray() && !column["roles"].Empty()) {
                    text += " [";
                    bool first = true;
                    for (const auto& role : column["roles"].GetArray()) {
                        text += (first ? "" : ", ") + std::string(role.GetString());
                        first = false;
                    }
                    text += "]";
                }
                if (std::string ref = str(column, "references"); !ref.empty()) text += " -> " + ref;
                if (column["null_fraction"].IsNumber() && column["null_fraction"].GetDouble() > 0)
                    text += ", nulls " +
                            std::to_string(std::lround(column["null_fraction"].GetDouble() * 1000) /
                                           10.0)
                                .substr(0, 5) +
                            "%";
                if (column["distinct_count"].IsInt64())
                    text += ", distinct " + std::to_string(column["distinct_count"].GetInt64());
                if (column["min"].IsString())
                    text += ", range " + std::string(column["min"].GetString()) + " .. " +
                            str(column, "max");
            }
            if (detail < 2 && column["top_values"].IsArray() && !column["top_values"].Empty()) {
                text += ", values:";
                int shown = 0;
                for (const auto& top : column["top_values"].GetArray()) {
                    if (shown++ == 6) break;
                    text += " " + str(top, "value");
                }
            }
            if (detail < 2) {
                if (std::string comment = str(column, "comment"); !comment.empty())
                    text += " -- " + comment.substr(0, 160);
            }
            text += "\n";
        }
        if (detail < 3 && stats["issues"].IsArray())
            for (const auto& issue : stats["issues"].GetArray())
                text += "Issue: " + std::string(issue.GetString()) + "\n";
        if (detail < 1 && table["sample"].IsArray() && !table["sample"].Empty()) {
            text += "Sample rows:\n";
            int shown = 0;
            for (const auto& row : table["sample"].GetArray()) {
                if (shown++ == 2) break;
                text += compact(row) + "\n";
            }
        }
    }
    return text;
}

}  // namespace

std::string system_prompt(const rapidjson::Value& input) {
    std::string text =
        "You write the metadata of a dataset that analysts and LLM clients will query through "
        "mcp_analytics. The data comes from a consumer panel: users measured on smartphones and "
        "connected TVs, each user carrying a projection weight.\n\nHouse rules of this server:\n";
    if (input.HasMember("rules") && input["rules"].IsObject())
        for (const auto& rule : input["rules"].GetObject())
            text += "- " + std::string(rule.name.GetString()) + ": " + rule_text(rule.value) + "\n";
    text +=
        "\nAnswer with one JSON object and nothing else, with exactly these keys:\n"
        "{\"description\": \"one or two sentences: what the data is, its grain, period and "
        "weighting\",\n"
        " \"data_dictionary\": {\"<table>\": \"what one row is\", \"<table>.<column>\": \"meaning, "
        "unit, caveats\"},\n"
        " \"quality_observations\": [\"...\"],\n"
        " \"improvement_suggestions\": [\"...\"],\n"
        " \"recommended_use_cases\": [\"...\"],\n"
        " \"data_category\": \"ctv, mobile, ecommerce, ads, mixed or other\",\n"
        " \"date_range\": {\"start\": \"YYYY-MM-DD\", \"end\": \"YYYY-MM-DD\"}}\n"
        "Cover every table and column. Base quality observations on the statistics given; do not "
        "invent values.";
    return text;
}

std::string user_prompt(const rapidjson::Value& input, int token_budget) {
    const rapidjson::Value& dataset = input["dataset"];
    std::string head = "Dataset \"" + str(dataset, "name") + "\"";
    if (std::string description = str(dataset, "description"); !description.empty())
        head += ", registered as: " + description;
    head += "\nSource: " + str(dataset, "data_source") + "; type: " + str(dataset, "dataset_type") +
            "; about " + str(dataset, "estimated_row_count") + " rows.\n";
    if (std::string weight = str(dataset, "weight_column_name"); !weight.empty())
        head += "Detected weight column: " + str(dataset, "user_table_name") + "." + weight +
                "; user id: " + str(dataset, "user_id_column_name") + ".\n";
    else
        head += "No weight column was detected.\n";
    if (std::string start = str(dataset, "date_range_start"); !start.empty())
        head += "Dates: " + start + " to " + str(dataset, "date_range_end") + ".\n";

    const rapidjson::Value& tables = input["tables"];
    std::string text;
    for (int detail = 0; detail <= 3; ++detail) {
        text = head + describe_tables(tables, detail);
        if (count_tokens(text) <= token_budget) return text;
    }
    // Still too long: keep whole lines up to the budget and say so.
    std::string kept;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        std::string line =
            text.substr(start, end == std::string::npos ? std::string::npos : end - start + 1);
        if (count_tokens(kept + line) > token_budget - 40) break;
        kept += line;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return kept + "\n[The profile was cut to fit " + std::to_string(token_budget) + " tokens.]\n";
}

}  // namespace mcp::ext::llm
