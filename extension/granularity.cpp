#include "granularity.hpp"

#include "pg_guard.hpp"
#include "spi.hpp"

extern "C" {
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "parser/scanner.h"
}

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>
#include <vector>

namespace mcp::ext::granularity {

namespace {

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::string quoted(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

Level worst(Level a, Level b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

// ---- collecting the parts of an expression ------------------------------------------------

// Filled from inside PostgreSQL's tree walker (a C frame): nothing may throw out of it.
struct Found {
    std::vector<ColumnRef*> columns;
    std::vector<FuncCall*> calls;
    std::vector<SubLink*> sublinks;
    bool row_constructor = false;
    bool failed = false;
};

extern "C" bool collect_walker(Node* node, void* context) {
    auto* found = static_cast<Found*>(context);
    if (node == nullptr) return false;
    try {
        switch (nodeTag(node)) {
            case T_ColumnRef:
                found->columns.push_back(reinterpret_cast<ColumnRef*>(node));
                return false;
            case T_SubLink: {
                auto* link = reinterpret_cast<SubLink*>(node);
                found->sublinks.push_back(link);
                return collect_walker(link->testexpr, context);  // its query is judged apart
            }
            case T_SelectStmt: return false;
            case T_FuncCall: found->calls.push_back(reinterpret_cast<FuncCall*>(node)); break;
            case T_RowExpr: found->row_constructor = true; break;
            default: break;
        }
    } catch (...) {
        found->failed = true;
        return true;
    }
    return raw_expression_tree_walker(
        node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(collect_walker)), context);
}

Found collect(Node* node) {
    Found found;
    if (node == nullptr) return found;
    pg_call([&] { return collect_walker(node, &found); });
    if (found.failed) throw std::bad_alloc();
    return found;
}

const char* last_name(List* names) {
    Node* last = static_cast<Node*>(llast(names));
    return IsA(last, String) ? strVal(last) : nullptr;
}

std::string function_name(const FuncCall* call) {
    const char* name = last_name(call->funcname);
    return name ? lower(name) : std::string();
}

// Aggregates whose result carries the values themselves, one element per input row.
bool is_collection_aggregate(const std::string& name) {
    static const char* const kNames[] = {"array_agg", "string_agg", "xmlagg", "range_agg",
                                         "range_intersect_agg", "listagg", "group_concat"};
    for (const char* known : kNames)
        if (name == known) return true;
    return name.rfind("json", 0) == 0 && name.find("agg") != std::string::npos;
}

// Aggregates that return one input row's value (a group's largest, commonest, median value):
// harmless for one column, a record when they pick a whole row or several columns at once.
bool is_picking_aggregate(const std::string& name) {
    return name == "min" || name == "max" || name == "mode" || name == "percentile_disc" ||
           name == "any_value" || name == "first" || name == "last";
}

// Functions that put many values into one bucket (a month, a weekday, a rounded band): a
// key made with them groups records; groups that still hold too few panelists are the
// minimum-cell rule's to hold back.
bool is_coarsening(const std::string& name) {
    static const char* const kNames[] = {"date_trunc", "date_part", "extract", "date_bin",
                                         "to_char", "width_bucket", "round", "floor", "ceil",
                                         "ceiling", "trunc", "div", "left", "substr", "substring"};
    for (const char* known : kNames)
        if (name == known) return true;
    return false;
}

bool coarsened(Node* key) {
    if (IsA(key, FuncCall)) return is_coarsening(function_name(reinterpret_cast<FuncCall*>(key)));
    if (IsA(key, TypeCast)) {
        TypeName* type = reinterpret_cast<TypeCast*>(key)->typeName;
        const char* name = type ? last_name(type->names) : nullptr;
        return name && (std::strcmp(name, "date") == 0 || std::strcmp(name, "bool") == 0);
    }
    return false;
}

// ---- relations and scopes ----------------------------------------------------------------

struct Rel {
    std::string name;               // what the query qualifies its columns with
    bool qualifiable = true;        // false inside an aliased join
    Level level = Level::Raw;       // Raw: each row is a record
    std::string why;                // the reason when Packed
    bool known_columns = true;
    bool unknown_identifying = true;  // for columns not listed
    std::map<std::string, bool> columns;  // name as the parser gives it → identifying
    std::vector<std::set<std::string>> unique_keys;
    std::optional<std::string> user_id;  // column that holds the user id
    bool reads_people = false;
};

struct Scope {
    std::vector<Rel> rels;
    const Scope* outer = nullptr;
    std::map<std::string, Rel> ctes;
};

// What a column reference points at.
struct Resolved {
    const Rel* rel = nullptr;  // nullptr: not found
    bool whole_row = false;
    bool identifying = true;
    std::string column;
};

bool rel_column_identifying(const Rel& rel, const std::string& column) {
    auto found = rel.columns.find(column);
    if (found != rel.columns.end()) return found->second;
    return rel.unknown_identifying;
}

bool rel_has_column(const Rel& rel, const std::string& column) {
    return rel.columns.count(column) > 0 || !rel.known_columns;
}

bool whole_row_identifying(const Rel& rel) {
    if (rel.level != Level::Aggregated) return true;
    if (!rel.known_columns && rel.unknown_identifying) return true;
    for (const auto& [name, identifying] : rel.columns)
        if (identifying) return true;
    return false;
}

const Rel* find_rel(const Scope* scope, const std::string& name) {
    for (; scope != nullptr; scope = scope->outer)
        for (const Rel& rel : scope->rels)
            if (rel.qualifiable && rel.name == name) return &rel;
    return nullptr;
}

Resolved resolve(const ColumnRef* ref, const Scope& scope) {
    Resolved out;
    const int parts = list_length(ref->fields);
    Node* last = static_cast<Node*>(llast(ref->fields));
    const bool star = IsA(last, A_Star);
    if (parts == 1 && star) {  // a bare *: every relation of this level
        out.whole_row = true;
        out.identifying = false;
        for (const Rel& rel : scope.rels) {
            out.rel = &rel;
            if (whole_row_identifying(rel)) out.identifying = true;
        }
        return out;
    }
    if (parts == 1) {
        std::string name = strVal(last);
        for (const Scope* level = &scope; level != nullptr; level = level->outer) {
            for (const Rel& rel : level->rels)
                if (rel.columns.count(name)) {
                    out.rel = &rel;
                    out.column = name;
                    out.identifying = rel_column_identifying(rel, name);
                    return out;
                }
            for (const Rel& rel : level->rels)
                if (!rel.known_columns) {
                    out.rel = &rel;
                    out.column = name;
                    out.identifying = rel.unknown_identifying ||
                                      profile::name_looks_identifying(lower(name));
                    return out;
                }
            if (const Rel* whole = find_rel(level, name)) {  // json_agg(p): p's whole row
                out.rel = whole;
                out.whole_row = true;
                out.identifying = whole_row_identifying(*whole);
                return out;
            }
        }
        return out;  // unknown: identifying
    }
    // rel.col, rel.*, schema.rel.col: the relation is the part before the column.
    Node* rel_node = static_cast<Node*>(list_nth(ref->fields, parts - 2));
    if (!IsA(rel_node, String)) return out;
    const Rel* rel = find_rel(&scope, strVal(rel_node));
    if (rel == nullptr) return out;
    out.rel = rel;
    if (star) {
        out.whole_row = true;
        out.identifying = whole_row_identifying(*rel);
        return out;
    }
    out.column = strVal(last);
    out.identifying = rel_has_column(*rel, out.column)
                          ? rel_column_identifying(*rel, out.column) ||
                                (!rel->known_columns && profile::name_looks_identifying(lower(out.column)))
                          : true;
    return out;
}

// ---- the classifier ----------------------------------------------------------------------

struct Output {
    std::string name;
    bool identifying = false;
};

struct SelectFacts {
    Level level = Level::Aggregated;
    std::string why;
    int records_per_row = 0;
    std::vector<Output> outputs;
    bool known_outputs = true;
    std::optional<std::string> user_id;
    bool reads_people = false;
};

class Classifier {
public:
    explicit Classifier(const profile::DatasetFacts& facts) : facts_(facts) { load_catalog(); }

    SelectFacts select(SelectStmt* stmt, const Scope* outer, std::map<std::string, Rel> ctes);

    // Filled while classifying the top-level statement, for the minimum-cell splice.
    std::vector<Rel> top_rels;
    bool top_grouped = false;

private:
    const profile::DatasetFacts& facts_;
    // PostgreSQL's own functions and aggregates (pg_catalog), read once per backend: the
    // dataset's server has them too, and none of them reads a table by itself.
    static std::set<std::string> aggregates_;
    static std::set<std::string> builtins_;
    static void load_catalog();
    bool dataset_function(const FuncCall* call) const;
    void judge_calls(const Found& found, SelectFacts& result);
    int depth_ = 0;  // 1 while judging the statement itself, more inside it

    SelectFacts select_here(SelectStmt* stmt, const Scope* outer, std::map<std::string, Rel> ctes);

    Rel rel_from_facts(const SelectFacts& facts, const std::string& name) const;
    void add_from_item(Node* item, Scope& scope, bool inside_aliased_join, SelectFacts& result);
    Rel base_rel(const RangeVar* range, const Scope& scope) const;
    void judge_sublinks(const Found& found, const Scope& scope, SelectFacts& result,
                        bool in_select_list);
    bool is_aggregate_call(const FuncCall* call) const;
    bool has_aggregate(List* targets, Node* having) const;
    void judge_grouped(SelectStmt* stmt, const Scope& scope, SelectFacts& result);
    void judge_targets(SelectStmt* stmt, const Scope& scope, SelectFacts& result, bool grouped);
    std::vector<Node*> group_expressions(SelectStmt* stmt, const Scope& scope) const;
};

void mark(SelectFacts& result, Level level, const std::string& why);

std::set<std::string> Classifier::aggregates_;
std::set<std::string> Classifier::builtins_;

void Classifier::load_catalog() {
    if (!builtins_.empty()) return;
    auto rows = spi::query(
        "SELECT DISTINCT p.proname::text, p.prokind = 'a' FROM pg_catalog.pg_proc p "
        "WHERE p.pronamespace = 'pg_catalog'::regnamespace",
        {}, true);
    std::set<std::string> aggregates, builtins;
    for (const auto& row : rows) {
        if (!row[0]) continue;
        builtins.insert(*row[0]);
        if (row[1] && *row[1] == "t") aggregates.insert(*row[0]);
    }
    aggregates_.swap(aggregates);
    builtins_.swap(builtins);
}

// A function of the dataset's own (or of an extension there) may read any table inside: the
// server cannot see what its rows are made of.
bool Classifier::dataset_function(const FuncCall* call) const {
    if (list_length(call->funcname) > 1) {
        Node* schema = static_cast<Node*>(list_nth(call->funcname, list_length(call->funcname) - 2));
        if (!IsA(schema, String) || std::strcmp(strVal(schema), "pg_catalog") != 0) return true;
    }
    const char* name = last_name(call->funcname);
    return name == nullptr || builtins_.count(name) == 0;
}

void Classifier::judge_calls(const Found& found, SelectFacts& result) {
    for (const FuncCall* call : found.calls)
        if (dataset_function(call))
            mark(result, Level::Raw,
                 "it calls " + function_name(call) +
                     "(), a function of the dataset whose rows the server cannot see into");
}

void mark(SelectFacts& result, Level level, const std::string& why) {
    if (static_cast<int>(level) > static_cast<int>(result.level)) {
        result.level = level;
        result.why = why;
    } else if (level == result.level && result.why.empty()) {
        result.why = why;
    }
}

Rel Classifier::rel_from_facts(const SelectFacts& facts, const std::string& name) const {
    Rel rel;
    rel.name = name;
    rel.level = facts.level;
    rel.why = facts.why;
    rel.known_columns = facts.known_outputs;
    rel.unknown_identifying = facts.level != Level::Aggregated;
    for (const Output& output : facts.outputs) rel.columns[output.name] = output.identifying;
    rel.user_id = facts.user_id;
    rel.reads_people = facts.reads_people;
    return rel;
}

Rel Classifier::base_rel(const RangeVar* range, const Scope& scope) const {
    Rel rel;
    rel.name = range->alias ? range->alias->aliasname : range->relname;
    if (range->schemaname == nullptr) {
        for (const Scope* level = &scope; level != nullptr; level = level->outer) {
            auto cte = level->ctes.find(range->relname);
            if (cte != level->ctes.end()) {
                Rel copy = cte->second;
                copy.name = rel.name;
                copy.qualifiable = true;
                return copy;
            }
        }
    }
    rel.level = Level::Raw;  // a stored table's rows are records, whatever they hold
    const profile::TableFacts* table = facts_.find(range->schemaname, range->relname);
    if (table == nullptr) {
        rel.known_columns = false;
        // Without a profile, names decide which columns point at one record.
        rel.unknown_identifying = facts_.profiled;
        return rel;
    }
    for (const auto& column : table->columns) rel.columns[column] = table->identifying.count(column) > 0;
    rel.unique_keys = table->unique_keys;
    rel.user_id = table->user_id_column;
    rel.reads_people = table->user_id_column.has_value();
    return rel;
}

void Classifier::add_from_item(Node* item, Scope& scope, bool inside_aliased_join,
                               SelectFacts& result) {
    Rel rel;
    if (IsA(item, RangeVar)) {
        rel = base_rel(reinterpret_cast<RangeVar*>(item), scope);
    } else if (IsA(item, RangeSubselect)) {
        auto* sub = reinterpret_cast<RangeSubselect*>(item);
        const Scope* outer = sub->lateral ? &scope : scope.outer;
        SelectFacts facts = select(reinterpret_cast<SelectStmt*>(sub->subquery), outer, scope.ctes);
        rel = rel_from_facts(facts, sub->alias ? sub->alias->aliasname : "");
    } else if (IsA(item, JoinExpr)) {
        auto* join = reinterpret_cast<JoinExpr*>(item);
        bool aliased = inside_aliased_join || join->alias != nullptr;
        add_from_item(join->larg, scope, aliased, result);
        add_from_item(join->rarg, scope, aliased, result);
        if (join->quals) judge_sublinks(collect(join->quals), scope, result, false);
        return;
    } else if (IsA(item, RangeFunction)) {
        auto* function = reinterpret_cast<RangeFunction*>(item);
        Found found = collect(reinterpret_cast<Node*>(function->functions));
        judge_sublinks(found, scope, result, true);
        bool dataset_calls = false;
        for (const FuncCall* call : found.calls) dataset_calls = dataset_calls || dataset_function(call);
        rel.name = function->alias ? function->alias->aliasname : "";
        rel.known_columns = false;
        // generate_series(1, 10) makes rows of its own; unnest(t.arr) unpacks records.
        bool from_data = !found.columns.empty() || !found.sublinks.empty() || dataset_calls;
        rel.level = from_data ? Level::Raw : Level::Aggregated;
        rel.unknown_identifying = from_data;
        if (!function->alias && list_length(function->functions) == 1) {
            List* pair = static_cast<List*>(linitial(function->functions));
            Node* call = static_cast<Node*>(linitial(pair));
            if (IsA(call, FuncCall)) rel.name = function_name(reinterpret_cast<FuncCall*>(call));
        }
    } else if (IsA(item, RangeTableSample)) {
        add_from_item(reinterpret_cast<RangeTableSample*>(item)->relation, scope,
                      inside_aliased_join, result);
        return;
    } else {  // XMLTABLE and the like: rows of unknown origin
        rel.name = "";
        rel.known_columns = false;
        rel.level = Level::Raw;
    }
    if (inside_aliased_join) rel.qualifiable = false;
    if (rel.level == Level::Packed) mark(result, Level::Packed, rel.why);
    result.reads_people = result.reads_people || rel.reads_people;
    scope.rels.push_back(std::move(rel));
}

// Sub-queries in the select list put their results into this query's rows; elsewhere
// (WHERE, JOIN ... ON) they only filter.
void Classifier::judge_sublinks(const Found& found, const Scope& scope, SelectFacts& result,
                                bool in_select_list) {
    for (SubLink* link : found.sublinks) {
        SelectFacts sub = select(reinterpret_cast<SelectStmt*>(link->subselect), &scope, scope.ctes);
        result.reads_people = result.reads_people || sub.reads_people;
        if (!in_select_list) continue;
        if (sub.level == Level::Packed) {
            mark(result, Level::Packed, sub.why);
        } else if (sub.level == Level::Raw) {
            if (link->subLinkType == ARRAY_SUBLINK)
                mark(result, Level::Packed,
                     "ARRAY(SELECT ...) packs raw records (" + sub.why + ") into one cell");
            else if (link->subLinkType == EXPR_SUBLINK || link->subLinkType == MULTIEXPR_SUBLINK) {
                mark(result, Level::Raw,
                     "a sub-query in the select list returns a raw value (" + sub.why + ")");
                result.records_per_row += 1;
            }
        }
    }
}

bool Classifier::is_aggregate_call(const FuncCall* call) const {
    if (call->over != nullptr) return false;  // a window function keeps every row
    if (call->agg_star || call->agg_distinct || call->agg_order != NIL ||
        call->agg_filter != nullptr || call->agg_within_group)
        return true;
    return aggregates_.count(function_name(call)) > 0;
}

bool Classifier::has_aggregate(List* targets, Node* having) const {
    if (having != nullptr) return true;
    Found found = collect(reinterpret_cast<Node*>(targets));
    for (const FuncCall* call : found.calls)
        if (is_aggregate_call(call)) return true;
    return false;
}

std::vector<Node*> Classifier::group_expressions(SelectStmt* stmt, const Scope& scope) const {
    std::vector<Node*> out;
    std::vector<Node*> pending;
    ListCell* cell;
    foreach (cell, stmt->groupClause) pending.push_back(static_cast<Node*>(lfirst(cell)));
    while (!pending.empty()) {
        Node* node = pending.back();
        pending.pop_back();
        if (node == nullptr) continue;
        if (IsA(node, GroupingSet)) {
            foreach (cell, reinterpret_cast<GroupingSet*>(node)->content)
                pending.push_back(static_cast<Node*>(lfirst(cell)));
        } else if (IsA(node, List)) {
            foreach (cell, reinterpret_cast<List*>(node)) pending.push_back(static_cast<Node*>(lfirst(cell)));
        } else if (IsA(node, A_Const) && reinterpret_cast<A_Const*>(node)->val.node.type == T_Integer) {
            int position = intVal(&reinterpret_cast<A_Const*>(node)->val);  // GROUP BY 2
            if (position >= 1 && position <= list_length(stmt->targetList))
                out.push_back(reinterpret_cast<ResTarget*>(list_nth(stmt->targetList, position - 1))->val);
        } else {
            bool output_name = false;
            if (IsA(node, ColumnRef) && list_length(reinterpret_cast<ColumnRef*>(node)->fields) == 1) {
                // GROUP BY an output name: judge the expression it names (and the input
                // column of that name too, if there is one: PostgreSQL prefers it).
                Node* field = static_cast<Node*>(linitial(reinterpret_cast<ColumnRef*>(node)->fields));
                if (IsA(field, String)) {
                    ListCell* target;
                    foreach (target, stmt->targetList) {
                        auto* res = static_cast<ResTarget*>(lfirst(target));
                        if (res->name && std::strcmp(res->name, strVal(field)) == 0) {
                            out.push_back(res->val);
                            output_name = true;
                        }
                    }
                }
            }
            if (!output_name || resolve(reinterpret_cast<ColumnRef*>(node), scope).rel != nullptr)
                out.push_back(node);
        }
    }
    return out;
}

std::string describe(const Resolved& resolved) {
    if (resolved.rel == nullptr) return "a column the profile does not know";
    std::string where = resolved.rel->name.empty() ? "" : resolved.rel->name + ".";
    if (resolved.whole_row) return "whole rows of " + (resolved.rel->name.empty() ? "a relation" : resolved.rel->name);
    return where + resolved.column;
}

void Classifier::judge_grouped(SelectStmt* stmt, const Scope& scope, SelectFacts& result) {
    // Keys that single out one record make one group per record.
    std::map<const Rel*, std::set<std::string>> grouped_columns;
    for (Node* key : group_expressions(stmt, scope)) {
        Found found = collect(key);
        judge_sublinks(found, scope, result, true);
        if (coarsened(key)) continue;
        for (ColumnRef* ref : found.columns) {
            Resolved resolved = resolve(ref, scope);
            if (resolved.rel != nullptr && resolved.rel->level == Level::Aggregated && !resolved.identifying)
                continue;
            if (resolved.identifying || resolved.whole_row)
                mark(result, Level::Raw,
                     "GROUP BY " + describe(resolved) +
                         " makes one group per panelist or event (a unique key, the user id, or "
                         "a column with nearly one value per row)");
            else if (resolved.rel != nullptr)
                grouped_columns[resolved.rel].insert(resolved.column);
        }
    }
    for (const auto& [rel, columns] : grouped_columns)
        for (const auto& key : rel->unique_keys)
            if (std::includes(columns.begin(), columns.end(), key.begin(), key.end()))
                mark(result, Level::Raw,
                     "GROUP BY covers a unique key of " + rel->name + ", one group per row");
    // Aggregates that hand out the records themselves.
    Found found = collect(reinterpret_cast<Node*>(stmt->targetList));
    Found having = collect(stmt->havingClause);
    for (FuncCall* call : found.calls) {
        if (call->over != nullptr || !is_aggregate_call(call)) continue;
        const std::string name = function_name(call);
        const bool collection = is_collection_aggregate(name);
        const bool picking = is_picking_aggregate(name);
        if (!collection && !picking) continue;
        Found args = collect(reinterpret_cast<Node*>(call->args));
        bool raw_input = false, whole_row = false;
        std::set<std::string> distinct_columns;
        std::string what;
        for (ColumnRef* ref : args.columns) {
            Resolved resolved = resolve(ref, scope);
            bool from_raw = resolved.rel == nullptr || resolved.rel->level != Level::Aggregated;
            if (from_raw) raw_input = true;
            if (from_raw && resolved.whole_row) whole_row = true;
            distinct_columns.insert(describe(resolved));
            if (what.empty() || resolved.whole_row) what = describe(resolved);
        }
        for (SubLink* link : args.sublinks) {
            SelectFacts sub = select(reinterpret_cast<SelectStmt*>(link->subselect), &scope, scope.ctes);
            if (sub.level != Level::Aggregated) raw_input = whole_row = true;
        }
        if (collection && raw_input)
            mark(result, Level::Packed,
                 name + "() over " + (what.empty() ? "unaggregated rows" : what) +
                     " packs one element per raw record into a cell");
        else if (picking && raw_input && (whole_row || args.row_constructor ||
                                          distinct_columns.size() > 1))
            mark(result, Level::Raw,
                 name + "() over " + what + " returns one record's value per group");
    }
    (void)having;
}

void Classifier::judge_targets(SelectStmt* stmt, const Scope& scope, SelectFacts& result,
                               bool grouped) {
    std::set<const Rel*> shown;
    ListCell* cell;
    foreach (cell, stmt->targetList) {
        auto* target = static_cast<ResTarget*>(lfirst(cell));
        Found found = collect(target->val);
        judge_sublinks(found, scope, result, true);
        judge_calls(found, result);
        bool star = IsA(target->val, ColumnRef) &&
                    IsA(llast(reinterpret_cast<ColumnRef*>(target->val)->fields), A_Star);
        if (star) {
            auto* ref = reinterpret_cast<ColumnRef*>(target->val);
            std::vector<const Rel*> rels;
            if (list_length(ref->fields) == 1) {
                for (const Rel& rel : scope.rels) rels.push_back(&rel);
            } else if (const Rel* rel = resolve(ref, scope).rel) {
                rels.push_back(rel);
            } else {
                result.known_outputs = false;
            }
            for (const Rel* rel : rels) {
                if (rel->level != Level::Aggregated) shown.insert(rel);
                if (!rel->known_columns) result.known_outputs = false;
                for (const auto& [name, identifying] : rel->columns)
                    result.outputs.push_back(Output{name, identifying});
                if (rel->user_id && !result.user_id) result.user_id = rel->user_id;
            }
            continue;
        }
        Output output;
        bool plain_column = IsA(target->val, ColumnRef);
        for (ColumnRef* ref : found.columns) {
            Resolved resolved = resolve(ref, scope);
            if (resolved.rel == nullptr || resolved.rel->level != Level::Aggregated) {
                if (resolved.rel) shown.insert(resolved.rel);
                else shown.insert(nullptr);
            }
            if (resolved.identifying || resolved.whole_row) output.identifying = true;
            if (plain_column && resolved.rel && resolved.rel->user_id &&
                *resolved.rel->user_id == resolved.column && !resolved.whole_row)
                output.name = "\x01user";  // marks the user id, named below
        }
        std::string name;
        if (target->name) name = target->name;
        else if (plain_column) name = last_name(reinterpret_cast<ColumnRef*>(target->val)->fields);
        else if (IsA(target->val, FuncCall)) name = function_name(reinterpret_cast<FuncCall*>(target->val));
        else name = "?column?";
        if (output.name == "\x01user" && !result.user_id) result.user_id = name;
        output.name = name;
        result.outputs.push_back(output);
    }
    shown.erase(nullptr);
    if (grouped) return;  // columns of a grouped query are keys or inside aggregates
    result.records_per_row += static_cast<int>(shown.size());
    for (const Rel* rel : shown)
        if (rel->level != Level::Aggregated)
            mark(result, Level::Raw, "it lists rows of " + (rel->name.empty() ? std::string("a table") : rel->name) +
                                         " one by one (no GROUP BY or aggregate over them)");
}

SelectFacts Classifier::select(SelectStmt* stmt, const Scope* outer, std::map<std::string, Rel> ctes) {
    if (depth_ > 200)
        throw PgError(ERRCODE_STATEMENT_TOO_COMPLEX, "the query nests sub-queries too deeply", {},
                      "Flatten the query.");
    ++depth_;
    try {
        SelectFacts result = select_here(stmt, outer, std::move(ctes));
        --depth_;
        return result;
    } catch (...) {
        --depth_;
        throw;
    }
}

SelectFacts Classifier::select_here(SelectStmt* stmt, const Scope* outer,
                                    std::map<std::string, Rel> ctes) {
    SelectFacts result;
    Scope scope;
    scope.outer = outer;
    if (stmt->withClause != nullptr) {
        ListCell* cell;
        foreach (cell, stmt->withClause->ctes) {
            auto* cte = static_cast<CommonTableExpr*>(lfirst(cell));
            auto* query = reinterpret_cast<SelectStmt*>(cte->ctequery);
            std::string name = cte->ctename;
            if (stmt->withClause->recursive && query->op != SETOP_NONE) {
                // The recursive part reads the CTE itself: judge the seed first.
                SelectFacts seed = select(query->larg, outer, ctes);
                ctes[name] = rel_from_facts(seed, name);
            }
            SelectFacts facts = select(query, outer, ctes);
            ctes[name] = rel_from_facts(facts, name);
            result.reads_people = result.reads_people || facts.reads_people;
            // A CTE that is never read cannot leak; one that is read is judged where it is.
        }
    }
    scope.ctes = ctes;
    if (stmt->op != SETOP_NONE) {
        SelectFacts left = select(stmt->larg, outer, ctes);
        SelectFacts right = select(stmt->rarg, outer, ctes);
        result.level = worst(left.level, right.level);
        result.why = left.level >= right.level ? left.why : right.why;
        if (result.level == Level::Raw)
            result.why = "a set operation (UNION, INTERSECT, EXCEPT) over raw rows: " + result.why;
        result.records_per_row = std::max(left.records_per_row, right.records_per_row);
        result.outputs = left.outputs;
        for (size_t i = 0; i < result.outputs.size() && i < right.outputs.size(); ++i)
            result.outputs[i].identifying = result.outputs[i].identifying || right.outputs[i].identifying;
        result.known_outputs = left.known_outputs && right.known_outputs;
        result.reads_people = result.reads_people || left.reads_people || right.reads_people;
        result.user_id = left.user_id;
        return result;
    }
    if (stmt->valuesLists != NIL) {  // literal rows; only sub-queries inside can leak
        Found found = collect(reinterpret_cast<Node*>(stmt->valuesLists));
        judge_sublinks(found, scope, result, true);
        result.known_outputs = false;
        return result;
    }
    ListCell* cell;
    foreach (cell, stmt->fromClause) add_from_item(static_cast<Node*>(lfirst(cell)), scope, false, result);
    if (depth_ == 1) top_rels = scope.rels;
    if (stmt->whereClause) judge_sublinks(collect(stmt->whereClause), scope, result, false);

    const bool grouped = stmt->groupClause != NIL || has_aggregate(stmt->targetList, stmt->havingClause);
    if (depth_ == 1) top_grouped = grouped;
    if (grouped) {
        judge_grouped(stmt, scope, result);
        SelectFacts listed;  // output names, and sub-queries of the select list
        judge_targets(stmt, scope, listed, true);
        if (listed.level != Level::Aggregated) mark(result, listed.level, listed.why);
        result.outputs = listed.outputs;
        result.known_outputs = listed.known_outputs;
        if (result.level == Level::Aggregated) {
            for (Output& output : result.outputs) output.identifying = false;
            result.user_id.reset();
        } else {
            result.records_per_row = std::max(1, listed.records_per_row);
        }
        result.reads_people = result.reads_people || listed.reads_people;
        return result;
    }
    judge_targets(stmt, scope, result, false);
    if (stmt->distinctClause != NIL && result.level == Level::Raw) {
        bool distinct_on = linitial(stmt->distinctClause) != nullptr;
        bool any_identifying = !result.known_outputs;
        for (const Output& output : result.outputs) any_identifying = any_identifying || output.identifying;
        if (distinct_on)
            result.why = "DISTINCT ON keeps one whole record per key";
        else if (any_identifying)
            result.why = "DISTINCT over a column that singles out one panelist or event keeps "
                         "every record";
        else {  // DISTINCT over plain categories: a list of values, not of records
            result.level = Level::Aggregated;
            result.why.clear();
            result.records_per_row = 0;
        }
    }
    if (result.level == Level::Raw && result.records_per_row < 1) result.records_per_row = 1;
    return result;
}

// ---- the minimum-cell splice -------------------------------------------------------------

bool keyword_at(const std::string& sql, int at, const char* keyword) {
    size_t length = std::strlen(keyword);
    if (at < 0 || static_cast<size_t>(at) + length > sql.size()) return false;
    if (pg_strncasecmp(sql.c_str() + at, keyword, static_cast<int>(length)) != 0) return false;
    if (static_cast<size_t>(at) + length == sql.size()) return true;
    unsigned char next = static_cast<unsigned char>(sql[at + length]);
    return !(std::isalnum(next) || next == '_' || next == '$' || next >= 0x80);
}

bool followed_by_by(const std::string& sql, int at) {
    size_t i = static_cast<size_t>(at);
    while (i < sql.size() && (std::isalpha(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) ++i;
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    return keyword_at(sql, static_cast<int>(i), "by");
}

// Where the select list of the top-level SELECT ends: the first clause keyword after the
// last select-list item, outside parentheses. -1 when not found.
int select_list_end(const std::string& sql, int last_item_at) {
    static const char* const kClauses[] = {"from", "where", "group", "having", "window", "order",
                                           "limit", "offset", "fetch", "for", "union",
                                           "intersect", "except", "into"};
    struct Scan {
        int depth = 0;
        int end = -1;
        int previous = -1;
    } scan;
    const char* text = sql.c_str();
    Scan* state = &scan;
    pg_call([&] {
        core_yy_extra_type extra;
        core_yyscan_t scanner = scanner_init(text, &extra, &ScanKeywords, ScanKeywordTokens);
        for (;;) {
            core_YYSTYPE value;
            YYLTYPE location = 0;
            int token = core_yylex(&value, &location, scanner);
            if (token == 0) break;
            const int here = location;
            if (token == '(' || token == '[') ++state->depth;
            else if (token == ')' || token == ']') --state->depth;
            else if (location > last_item_at && state->depth == 0) {
                if (token == ';') {
                    state->end = location;
                    break;
                }
                bool clause = false;
                for (const char* keyword : kClauses)
                    if (keyword_at(sql, location, keyword)) clause = true;
                // WITHIN GROUP (...), IS DISTINCT FROM: not clauses.
                if (clause && (keyword_at(sql, location, "group") || keyword_at(sql, location, "order")))
                    clause = followed_by_by(sql, location);
                if (clause && keyword_at(sql, location, "from") && keyword_at(sql, state->previous, "distinct"))
                    clause = false;
                if (clause) {
                    state->end = location;
                    break;
                }
            }
            state->previous = here;
        }
        scanner_finish(scanner);
    });
    if (scan.end < 0) return static_cast<int>(sql.size());
    return scan.end;
}

std::optional<std::string> splice_count(const std::string& sql, SelectStmt* stmt,
                                        const std::vector<Rel>& rels, const std::string& column) {
    const Rel* people = nullptr;
    for (const Rel& rel : rels)
        if (rel.qualifiable && !rel.name.empty() && rel.user_id && rel.level != Level::Packed) {
            people = &rel;
            break;
        }
    if (people == nullptr || stmt->targetList == NIL) return std::nullopt;
    auto* last = static_cast<ResTarget*>(llast(stmt->targetList));
    if (last->location < 0) return std::nullopt;
    int end = select_list_end(sql, last->location);
    std::string counted = " , count(DISTINCT " + quoted(people->name) + "." + quoted(*people->user_id) +
                          ") AS " + quoted(column) + " ";
    std::string out = sql.substr(0, end);
    if (end == static_cast<int>(sql.size())) out += "\n";  // after a trailing -- comment
    return out + counted + sql.substr(end);
}

}  // namespace

const char* level_name(Level level) {
    switch (level) {
        case Level::Aggregated: return "aggregated";
        case Level::Raw: return "raw";
        case Level::Packed: return "packed";
    }
    return "raw";
}

Verdict classify(const std::string& sql, const profile::DatasetFacts& facts) {
    List* statements = pg_call([&] { return raw_parser(sql.c_str(), RAW_PARSE_DEFAULT); });
    auto* stmt = reinterpret_cast<SelectStmt*>(static_cast<RawStmt*>(linitial(statements))->stmt);
    Classifier classifier(facts);
    SelectFacts result = classifier.select(stmt, nullptr, {});
    Verdict verdict;
    verdict.level = result.level;
    verdict.reason = result.why;
    verdict.records_per_row = std::max(1, result.records_per_row);
    verdict.reads_people = result.reads_people;
    const bool spliceable = stmt->op == SETOP_NONE && stmt->valuesLists == NIL &&
                            stmt->distinctClause == NIL && classifier.top_grouped;
    if (verdict.level == Level::Aggregated && verdict.reads_people && spliceable) {
        unsigned char random[6] = {0};
        if (!pg_strong_random(random, sizeof random))
            throw PgError(ERRCODE_INTERNAL_ERROR, "no random bytes for a column name");
        static const char digits[] = "0123456789abcdef";
        verdict.count_column = "mcp_cell_users_";
        for (unsigned char byte : random) {
            verdict.count_column += digits[byte >> 4];
            verdict.count_column += digits[byte & 15];
        }
        verdict.counted_sql = splice_count(sql, stmt, classifier.top_rels, verdict.count_column);
    }
    return verdict;
}

}  // namespace mcp::ext::granularity
