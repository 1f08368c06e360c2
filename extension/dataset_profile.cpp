#include "dataset_profile.hpp"

#include "executor_settings.hpp"
#include "profiler_model.hpp"
#include "spi.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>

namespace mcp::ext::profile {

namespace {

std::set<std::string> names_of(const rapidjson::Value& array) {
    std::set<std::string> names;
    if (!array.IsArray()) return names;
    for (const auto& item : array.GetArray())
        if (item.IsString()) names.insert(item.GetString());
    return names;
}

// A column is identifying when one of its values points at one record: a single-column key,
// the user id, or a column with about as many distinct values as the table has rows. Keys of
// lookup tables without users (apps, regions) name things, not people or events.
void add_table(DatasetFacts& facts, const spi::Row& row) {
    TableFacts table;
    table.schema = row[0].value_or("public");
    table.name = row[1].value_or("");
    const std::string granularity = row[2].value_or("");
    const double row_count = row[3] ? std::atof(row[3]->c_str()) : -1;
    table.aggregated_table = granularity == "aggregated";
    rapidjson::Document columns, stats;
    columns.Parse(row[4].value_or("[]").c_str());
    stats.Parse(row[5].value_or("{}").c_str());
    if (stats.IsObject()) {
        auto user = stats.FindMember("user_id_column");
        if (user != stats.MemberEnd() && user->value.IsString())
            table.user_id_column = user->value.GetString();
        auto primary = stats.FindMember("primary_key");
        if (primary != stats.MemberEnd()) {
            auto key = names_of(primary->value);
            if (!key.empty()) table.unique_keys.push_back(key);
        }
        auto unique = stats.FindMember("unique_keys");
        if (unique != stats.MemberEnd() && unique->value.IsArray())
            for (const auto& key : unique->value.GetArray()) {
                auto names = names_of(key);
                if (!names.empty()) table.unique_keys.push_back(names);
            }
    }
    const bool about_people = table.user_id_column.has_value() || granularity != "reference";
    if (columns.IsArray()) {
        for (const auto& column : columns.GetArray()) {
            if (!column.IsObject() || !column.HasMember("name") || !column["name"].IsString())
                continue;
            std::string name = column["name"].GetString();
            table.columns.insert(name);
            bool user_role = false;
            if (column.HasMember("roles") && column["roles"].IsArray())
                for (const auto& role : column["roles"].GetArray())
                    if (role.IsString() && std::string(role.GetString()) == "user_id") user_role = true;
            if (user_role && !table.user_id_column) table.user_id_column = name;
            bool near_unique = false;
            if (column.HasMember("distinct_count") && column["distinct_count"].IsNumber() &&
                row_count > 0)
                near_unique = column["distinct_count"].GetDouble() * 2 > row_count;
            if (about_people && (user_role || near_unique)) table.identifying.insert(name);
        }
    }
    if (table.user_id_column) table.identifying.insert(*table.user_id_column);
    if (about_people)
        for (const auto& key : table.unique_keys)
            if (key.size() == 1) table.identifying.insert(*key.begin());
    facts.tables.push_back(std::move(table));
}

}  // namespace

const TableFacts* DatasetFacts::find(const char* schema, const char* name) const {
    const TableFacts* found = nullptr;
    for (const auto& table : tables) {
        if (table.name != name) continue;
        if (schema != nullptr) {
            if (table.schema == schema) return &table;
            continue;
        }
        if (table.schema == "public") return &table;
        if (found == nullptr) found = &table;
    }
    return found;
}

DatasetFacts load(int dataset_id) {
    DatasetFacts facts;
    const std::string id = std::to_string(dataset_id);
    auto rows = spi::query(
        "SELECT s.schema_name, s.table_name, s.granularity, s.row_count::text, s.columns::text, "
        "s.stats::text FROM mcp.dataset_schemas s WHERE s.dataset_id = $1::integer "
        "ORDER BY s.schema_name, s.table_name",
        {id}, true);
    for (const auto& row : rows) add_table(facts, row);
    facts.profiled = !facts.tables.empty();
    auto dataset = spi::query(
        "SELECT d.user_id_column_name, d.min_cell_users::text FROM mcp.datasets d "
        "WHERE d.id = $1::integer",
        {id}, true);
    facts.min_cell_users = executor_settings::min_cell_users;
    if (!dataset.empty()) {
        if (dataset[0][0]) facts.dataset_user_id_column = *dataset[0][0];
        if (dataset[0][1]) facts.min_cell_users = std::max(1, std::atoi(dataset[0][1]->c_str()));
    }
    return facts;
}

bool name_looks_identifying(const std::string& lower_name) {
    if (profiler::looks_like_user_id(lower_name)) return true;
    static const char* const kWords[] = {"id", "uuid", "guid", "email", "phone", "mobile",
                                         "name", "ip", "key", "ts", "timestamp"};
    std::string word;
    size_t cut = lower_name.find_last_of("_.- ");
    word = cut == std::string::npos ? lower_name : lower_name.substr(cut + 1);
    for (const char* known : kWords)
        if (word == known) return true;
    return false;
}

}  // namespace mcp::ext::profile
