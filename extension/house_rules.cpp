#include "house_rules.hpp"

#include "dataset_profile.hpp"
#include "executor_settings.hpp"
#include "granularity.hpp"

#include <algorithm>
#include <cstdlib>

namespace mcp::ext::house_rules {

namespace {

const char* const kAggregateHint =
    "Aggregate instead: GROUP BY a category with count(*), count(DISTINCT user_id), sum(), "
    "avg(); use weighted_query for projected figures. To look at a few records, select at "
    "most the allowed number of plain rows.";

std::string cap_words(int cap) {
    return std::to_string(cap) + " raw record" + (cap == 1 ? "" : "s");
}

}  // namespace

Plan plan(const DatasetRecord& dataset, const std::string& sql, int max_rows) {
    Plan plan;
    plan.sql = sql;
    plan.row_limit = max_rows;
    const int cap = executor_settings::max_raw_rows;
    std::shared_ptr<const profile::DatasetFacts> facts = profile::load(dataset.id);
    plan.min_cell_users = facts->min_cell_users;
    // A cached answer was judged against one version of the profile: a new profile (a column
    // found identifying, a user id found) judges again.
    plan.cache_tag = "raw=" + std::to_string(cap) + ";cells=" + std::to_string(plan.min_cell_users) +
                     ";profile=" + facts->stamp;
    granularity::Verdict verdict = granularity::classify(sql, *facts);
    if (verdict.level == granularity::Level::Packed)
        throw Refusal(ERRCODE_INSUFFICIENT_PRIVILEGE,
                      "house rule raw_rows: at most " + cap_words(cap) +
                          " may leave the server per call, however they are packed, and this "
                          "query packs them into cells: " + verdict.reason,
                      "Collections (array_agg, json_agg, jsonb_agg, json_object_agg, string_agg, "
                      "xmlagg, ARRAY(SELECT ...)) count every element as a record.",
                      kAggregateHint);
    if (verdict.level == granularity::Level::Aggregated && verdict.reads_people &&
        plan.min_cell_users > 1) {
        if (verdict.counted_sql) {
            plan.sql = *verdict.counted_sql;
            plan.count_column = verdict.count_column;
            return plan;
        }
        verdict.level = granularity::Level::Raw;
        verdict.reason =
            "the server cannot count the panelists behind each row of this shape (the GROUP BY "
            "is not in the outermost SELECT over a table holding the user id), so it cannot "
            "prove each row stands for at least " + std::to_string(plan.min_cell_users) +
            " panelists";
    }
    if (verdict.level == granularity::Level::Raw) {
        plan.raw = true;
        plan.raw_reason = verdict.reason;
        plan.records_per_row = verdict.records_per_row;
        int rows = cap / std::max(1, verdict.records_per_row);
        if (rows < 1)
            throw Refusal(ERRCODE_INSUFFICIENT_PRIVILEGE,
                          "house rule raw_rows: at most " + cap_words(cap) +
                              " may leave the server per call, and each row of this query "
                              "carries " + std::to_string(verdict.records_per_row) +
                              " of them (" + verdict.reason + ")",
                          {}, kAggregateHint);
        plan.row_limit = std::min(max_rows, rows);
    }
    return plan;
}

Applied apply(const Plan& plan, executor::Job& job) {
    Applied applied;
    if (plan.count_column && !job.columns.empty() && job.columns.back().name == *plan.count_column) {
        const size_t hidden = job.columns.size() - 1;
        long kept_rows = 0;
        std::vector<executor::Row> kept;
        kept.reserve(job.rows.size());
        for (auto& row : job.rows) {
            long users = row.size() > hidden && row[hidden] ? std::atol(row[hidden]->c_str()) : 0;
            if (users < plan.min_cell_users) {
                ++applied.held_back;
                continue;
            }
            row.resize(hidden);
            kept.push_back(std::move(row));
            ++kept_rows;
        }
        job.rows = std::move(kept);
        job.columns.pop_back();
        if (applied.held_back > 0) {
            applied.rule = kMinCells;
            applied.warnings.push_back(
                std::to_string(applied.held_back) + " of " +
                std::to_string(applied.held_back + kept_rows) +
                " rows were held back (house rule min_cells): each stood for fewer than " +
                std::to_string(plan.min_cell_users) +
                " distinct panelists, too few to show without exposing individuals. Aggregate "
                "to a coarser level (fewer or broader GROUP BY columns, wider ranges), or use "
                "weighted_query, which flags small bases as low_base.");
        }
    }
    if (plan.raw && job.more_rows) {
        applied.rule = kRawRows;
        applied.warnings.push_back(
            "Only " + std::to_string(job.rows.size()) + " row" + (job.rows.size() == 1 ? "" : "s") +
            " shown (house rule raw_rows: at most " + cap_words(executor_settings::max_raw_rows) +
            " per call): " + plan.raw_reason + ". " + kAggregateHint);
    }
    return applied;
}

}  // namespace mcp::ext::house_rules
