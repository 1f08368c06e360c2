#include "dataset_profile.hpp"

#include "executor_settings.hpp"
#include "profiler_model.hpp"
#include "registry_generation.hpp"
#include "spi.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <unordered_map>

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

namespace {

// What identifies one version of a dataset's profile: its row in mcp.datasets and every row of
// mcp.dataset_schemas, by (xmin, ctid) (every write makes a new tuple, in the same transaction
// too), and the minimum cell size in force. Reading it touches no profile JSON, so it costs an index scan, not a parse.
const char* const kProfileStamp =
    "SELECT d.xmin::text || d.ctid::text || '/' || coalesce((SELECT pg_catalog.string_agg("
    "           s.xmin::text || s.ctid::text, ',' ORDER BY s.ctid)"
    "      FROM mcp.dataset_schemas s WHERE s.dataset_id = d.id), '')"
    "  FROM mcp.datasets d WHERE d.id = $1::integer";

const char* const kProfileTables =
    "SELECT s.schema_name, s.table_name, s.granularity, s.row_count::text, s.columns::text, "
    "s.stats::text FROM mcp.dataset_schemas s WHERE s.dataset_id = $1::integer "
    "ORDER BY s.schema_name, s.table_name";

const char* const kDatasetFacts =
    "SELECT d.user_id_column_name, d.min_cell_users::text FROM mcp.datasets d "
    "WHERE d.id = $1::integer";

DatasetFacts read_facts(const std::string& id) {
    DatasetFacts facts;
    for (const auto& row : spi::query_saved(kProfileTables, {id}, true)) add_table(facts, row);
    facts.profiled = !facts.tables.empty();
    auto dataset = spi::query_saved(kDatasetFacts, {id}, true);
    facts.min_cell_users = executor_settings::min_cell_users;
    if (!dataset.empty()) {
        if (dataset[0][0]) facts.dataset_user_id_column = *dataset[0][0];
        if (dataset[0][1]) facts.min_cell_users = std::max(1, std::atoi(dataset[0][1]->c_str()));
    }
    return facts;
}

struct CachedFacts {
    std::string stamp;
    std::shared_ptr<const DatasetFacts> facts;
    std::optional<std::uint64_t> generation;  // the registry's, when the stamp was last read
    int min_cell_users;                       // the setting then
};

}  // namespace

std::shared_ptr<const DatasetFacts> load(int dataset_id) {
    // Every query consults the profile (the house rules); parsing its JSON on each call cost
    // more than the rest of the guard, so each backend keeps the facts until the stamp moves.
    // Reading the stamp is skipped too while the registry's generation has not moved.
    static std::unordered_map<int, CachedFacts> cache;
    const std::optional<std::uint64_t> generation = registry_generation::current();
    auto found = cache.find(dataset_id);
    if (generation && found != cache.end() && found->second.generation == generation &&
        found->second.min_cell_users == executor_settings::min_cell_users)
        return found->second.facts;
    const std::string id = std::to_string(dataset_id);
    auto stamp_rows = spi::query_saved(kProfileStamp, {id}, true);
    std::string stamp = stamp_rows.empty() || !stamp_rows[0][0] ? "" : *stamp_rows[0][0];
    stamp += "|" + std::to_string(executor_settings::min_cell_users);
    if (found != cache.end() && found->second.stamp == stamp) {
        found->second.generation = generation;
        found->second.min_cell_users = executor_settings::min_cell_users;
        return found->second.facts;
    }
    DatasetFacts read = read_facts(id);
    read.stamp = stamp;
    auto facts = std::make_shared<const DatasetFacts>(std::move(read));
    if (stamp_rows.empty()) return facts;  // no such dataset: nothing worth keeping
    if (cache.size() > 256) cache.clear();  // bounded: a backend rarely serves that many
    cache[dataset_id] = CachedFacts{std::move(stamp), facts, generation, executor_settings::min_cell_users};
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
