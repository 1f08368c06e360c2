#include "query_guard.hpp"

#include "pg_guard.hpp"
#include "spi.hpp"

extern "C" {
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
}

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

namespace mcp::ext::guard {

namespace {

const char* const kReadOnlyHint =
    "Send one SELECT (or WITH ... SELECT, VALUES, TABLE, UNION ...) that only reads data; "
    "nothing can be changed through this interface.";

// Functions a client query may not call, by name or name prefix (matched on the last part
// of the name, case-insensitively, so schema qualification and quoting do not get around it),
// with the reason given to the caller.
struct DeniedFunction {
    const char* name;
    bool prefix;
    const char* reason;
};
const DeniedFunction kDeniedFunctions[] = {
    {"pg_sleep", true, "it only waits and holds a connection"},
    {"set_config", false, "it changes server settings"},
    {"pg_read_", true, "it reads files on the server"},
    {"pg_stat_file", false, "it reads files on the server"},
    {"pg_ls_", true, "it lists files on the server"},
    {"pg_file_", true, "it writes files on the server"},
    {"lo_", true, "it reads or writes large objects and server files"},
    {"dblink", true, "it connects to other databases"},
    {"pg_terminate_backend", false, "it signals other sessions"},
    {"pg_cancel_backend", false, "it signals other sessions"},
    {"pg_reload_conf", false, "it reloads the server configuration"},
    {"pg_rotate_logfile", false, "it rotates the server log"},
    {"pg_advisory", true, "it takes locks"},
    {"pg_try_advisory", true, "it takes locks"},
    {"nextval", false, "it changes a sequence"},
    {"setval", false, "it changes a sequence"},
    {"pg_notify", false, "it sends notifications"},
    {"pg_stat_reset", true, "it resets statistics"},
    {"pg_switch_wal", false, "it forces a WAL switch"},
    {"pg_create_", true, "it creates server objects"},
    {"pg_drop_", true, "it drops server objects"},
    {"pg_copy_", true, "it copies replication slots"},
    {"pg_replication_", true, "it changes replication state"},
    {"pg_logical_", true, "it consumes or emits logical replication data"},
    {"pg_wal_replay_", true, "it controls recovery"},
    {"pg_promote", false, "it promotes a standby"},
    {"pg_backup_", true, "it controls backups"},
    {"pg_start_backup", false, "it controls backups"},
    {"pg_stop_backup", false, "it controls backups"},
    {"pg_log_backend_memory_contexts", false, "it writes to the server log"},
    {"txid_current", false, "it assigns a transaction id"},
    {"pg_current_xact_id", false, "it assigns a transaction id"},
    {"query_to_xml", true, "it runs SQL given as text, which bypasses this check"},
    {"query_to_xmlschema", false, "it runs SQL given as text, which bypasses this check"},
    {"cursor_to_xml", true, "it reads an open cursor"},
    {"ts_stat", false, "it runs SQL given as text, which bypasses this check"},
    {"crosstab", true, "it runs SQL given as text, which bypasses this check"},
    {"pg_import_system_collations", false, "it creates server objects"},
};

// Catalogs that hold credentials or other sessions' queries.
const char* const kDeniedRelations[] = {
    "pg_authid",        "pg_shadow",          "pg_user_mapping",  "pg_user_mappings",
    "pg_subscription",  "pg_hba_file_rules",  "pg_ident_file_mappings", "pg_file_settings",
    "pg_largeobject",   "pg_largeobject_metadata", "pg_stat_activity", "pg_config",
};

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// What the walker found; plain members only, filled from inside PostgreSQL's walker (a C
// frame), so nothing here may throw on the way (see record_* below).
struct WalkState {
    char violation[512] = {0};
    char hint[512] = {0};
    bool allow_subqueries = true;
    std::set<std::string>* column_names = nullptr;
};

void set_violation(WalkState* state, const char* hint, const char* format, const char* a,
                   const char* b = "") {
    if (state->violation[0] != '\0') return;
    snprintf(state->violation, sizeof state->violation, format, a, b);
    snprintf(state->hint, sizeof state->hint, "%s", hint);
}

const char* last_name(List* names) {
    Node* last = static_cast<Node*>(llast(names));
    return IsA(last, String) ? strVal(last) : nullptr;
}

const DeniedFunction* denied_function(const char* raw_name) {
    char name[NAMEDATALEN];
    snprintf(name, sizeof name, "%s", raw_name);
    for (char* c = name; *c; ++c) *c = static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    for (const DeniedFunction& denied : kDeniedFunctions) {
        size_t length = std::strlen(denied.name);
        if (denied.prefix ? std::strncmp(name, denied.name, length) == 0
                          : std::strcmp(name, denied.name) == 0)
            return &denied;
    }
    return nullptr;
}

bool denied_relation(const char* raw_name) {
    for (const char* denied : kDeniedRelations)
        if (pg_strcasecmp(raw_name, denied) == 0) return true;
    return false;
}

bool check_select_clauses(SelectStmt* select, WalkState* state) {
    if (select->intoClause != nullptr) {
        set_violation(state, "Drop the INTO clause: the rows are returned to you.",
                      "SELECT INTO creates a table and is not allowed%s", "");
        return true;
    }
    if (select->withClause != nullptr) {
        ListCell* cell;
        foreach (cell, select->withClause->ctes) {
            auto* cte = static_cast<CommonTableExpr*>(lfirst(cell));
            if (cte->ctequery != nullptr && !IsA(cte->ctequery, SelectStmt)) {
                set_violation(state,
                              "WITH clauses may only hold SELECTs; nothing can be changed "
                              "through this interface.",
                              "the WITH clause \"%s\" changes data (%s), which is not allowed",
                              cte->ctename,
                              GetCommandTagName(CreateCommandTag(cte->ctequery)));
                return true;
            }
        }
    }
    return false;
}

extern "C" bool guard_walker(Node* node, void* context) {
    auto* state = static_cast<WalkState*>(context);
    if (node == nullptr) return false;
    if (state->violation[0] != '\0') return true;
    switch (nodeTag(node)) {
        case T_SelectStmt:
            if (check_select_clauses(reinterpret_cast<SelectStmt*>(node), state)) return true;
            break;
        case T_InsertStmt:
        case T_UpdateStmt:
        case T_DeleteStmt:
#if PG_VERSION_NUM >= 150000
        case T_MergeStmt:
#endif
            set_violation(state, kReadOnlyHint, "the query contains %s, which changes data%s",
                          GetCommandTagName(CreateCommandTag(node)));
            return true;
        case T_LockingClause:
            set_violation(state, "Remove FOR UPDATE / FOR SHARE: rows are only read here.",
                          "FOR UPDATE / FOR SHARE locks rows and is not allowed%s", "");
            return true;
        case T_SubLink:
            if (!state->allow_subqueries) {
                set_violation(state, "Use a plain expression over the table's columns.",
                              "sub-queries are not allowed here%s", "");
                return true;
            }
            break;
        case T_FuncCall: {
            const char* name = last_name(reinterpret_cast<FuncCall*>(node)->funcname);
            const DeniedFunction* denied = name ? denied_function(name) : nullptr;
            if (denied != nullptr) {
                set_violation(state,
                              "Remove that function call; only functions that compute values "
                              "from the data are available.",
                              "function %s() is not allowed: %s", name, denied->reason);
                return true;
            }
            break;
        }
        case T_RangeVar: {
            const char* name = reinterpret_cast<RangeVar*>(node)->relname;
            if (name != nullptr && denied_relation(name)) {
                set_violation(state,
                              "Query the dataset's own tables; describe_dataset lists them.",
                              "%s holds credentials or other sessions' activity and cannot be "
                              "read%s",
                              name);
                return true;
            }
            break;
        }
        case T_ColumnRef: {
            List* fields = reinterpret_cast<ColumnRef*>(node)->fields;
            const char* name = last_name(fields);
            if (name != nullptr && state->column_names != nullptr) {
                try {
                    state->column_names->insert(lower(name));
                } catch (...) {
                    set_violation(state, "", "out of memory while checking the query%s", "");
                    return true;
                }
            }
            return false;
        }
        default:
            break;
    }
#if PG_VERSION_NUM >= 160000
    return raw_expression_tree_walker(node, guard_walker, context);
#else
    return raw_expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(guard_walker)), context);
#endif
}

// ---- aggregation -------------------------------------------------------------------------

struct AggregateScan {
    bool found_marked = false;  // agg_star, DISTINCT, ORDER BY, FILTER, OVER: surely aggregate
    std::vector<std::string>* names = nullptr;  // other function names: ask the catalog
};

extern "C" bool aggregate_walker(Node* node, void* context) {
    auto* scan = static_cast<AggregateScan*>(context);
    if (node == nullptr) return false;
    if (IsA(node, SubLink) || IsA(node, SelectStmt)) return false;  // not this level
    if (IsA(node, FuncCall)) {
        auto* call = reinterpret_cast<FuncCall*>(node);
        if (call->agg_star || call->agg_distinct || call->agg_order != NIL ||
            call->agg_filter != nullptr || call->over != nullptr || call->agg_within_group) {
            scan->found_marked = true;
            return true;
        }
        const char* name = last_name(call->funcname);
        if (name != nullptr) {
            try {
                scan->names->push_back(lower(name));
            } catch (...) {
                scan->found_marked = true;  // be conservative: no cap is wrong, a crash is worse
                return true;
            }
        }
    }
#if PG_VERSION_NUM >= 160000
    return raw_expression_tree_walker(node, aggregate_walker, context);
#else
    return raw_expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(aggregate_walker)),
                                      context);
#endif
}

bool any_aggregate_function(const std::vector<std::string>& names) {
    if (names.empty()) return false;
    std::string array = "{";
    for (size_t i = 0; i < names.size(); ++i) {
        array += (i ? ",\"" : "\"") + names[i] + "\"";
    }
    array += "}";
    auto found = spi::query_value(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE prokind = 'a' "
        "AND proname = ANY ($1::text[]))",
        {array});
    return found && *found == "t";
}

bool expressions_aggregate(List* expressions) {
    std::vector<std::string> names;
    AggregateScan scan;
    scan.names = &names;
    ListCell* cell;
    foreach (cell, expressions) {
        pg_call([&] { return aggregate_walker(static_cast<Node*>(lfirst(cell)), &scan); });
        if (scan.found_marked) return true;
    }
    return any_aggregate_function(names);
}

using CteShapes = std::map<std::string, bool>;  // CTE name → aggregating

bool select_aggregates(SelectStmt* select, CteShapes ctes);

// A FROM clause made only of aggregated sub-queries yields aggregated rows.
bool from_is_aggregated(SelectStmt* select, const CteShapes& ctes) {
    if (select->fromClause == NIL) return true;  // SELECT now(): no dataset rows at all
    ListCell* cell;
    foreach (cell, select->fromClause) {
        Node* item = static_cast<Node*>(lfirst(cell));
        if (IsA(item, RangeSubselect)) {
            Node* sub = reinterpret_cast<RangeSubselect*>(item)->subquery;
            if (!IsA(sub, SelectStmt) || !select_aggregates(reinterpret_cast<SelectStmt*>(sub), ctes))
                return false;
        } else if (IsA(item, RangeVar)) {
            auto* range = reinterpret_cast<RangeVar*>(item);
            auto known = range->schemaname ? ctes.end() : ctes.find(range->relname);
            if (known == ctes.end() || !known->second) return false;
        } else {
            return false;
        }
    }
    return true;
}

bool select_aggregates(SelectStmt* select, CteShapes ctes) {
    if (select->withClause != nullptr) {
        ListCell* cell;
        foreach (cell, select->withClause->ctes) {
            auto* cte = static_cast<CommonTableExpr*>(lfirst(cell));
            if (IsA(cte->ctequery, SelectStmt))
                ctes[cte->ctename] =
                    select_aggregates(reinterpret_cast<SelectStmt*>(cte->ctequery), ctes);
        }
    }
    if (select->op != SETOP_NONE) {
        if (!select->all) return true;  // UNION / INTERSECT / EXCEPT remove duplicates
        return select_aggregates(select->larg, ctes) && select_aggregates(select->rarg, ctes);
    }
    if (select->valuesLists != NIL) return true;  // literal rows, not dataset rows
    if (select->distinctClause != NIL || select->groupClause != NIL ||
        select->havingClause != nullptr)
        return true;
    if (expressions_aggregate(select->targetList)) return true;
    return from_is_aggregated(select, ctes);
}

// ---- parsing -----------------------------------------------------------------------------

List* parse_or_explain(const std::string& text, const std::string& what) {
    try {
        return pg_call([&] { return raw_parser(text.c_str(), RAW_PARSE_DEFAULT); });
    } catch (const PgError& error) {
        throw PgError(ERRCODE_SYNTAX_ERROR, what + " does not parse: " + error.what(),
                      {}, "Send valid PostgreSQL SQL.");
    }
}

void walk(Node* node, WalkState& state) {
    try {
        pg_call([&] { return guard_walker(node, &state); });
    } catch (const PgError& error) {
        throw PgError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                      std::string("the query uses a construct the guard does not accept (") +
                          error.what() + ")",
                      {}, kReadOnlyHint);
    }
    if (state.violation[0] != '\0')
        throw PgError(ERRCODE_INSUFFICIENT_PRIVILEGE, state.violation, {}, state.hint);
}

}  // namespace

QueryShape check_query(const std::string& sql) {
    List* statements = parse_or_explain(sql, "the query");
    int count = list_length(statements);
    if (count == 0)
        throw PgError(ERRCODE_SYNTAX_ERROR, "the query is empty", {},
                      "Send one SELECT statement.");
    if (count > 1)
        throw PgError(ERRCODE_SYNTAX_ERROR,
                      "only one statement per query is allowed, found " + std::to_string(count),
                      {},
                      "Send each SELECT on its own, or several at once with "
                      "execute_multi_query.");
    Node* statement = static_cast<RawStmt*>(linitial(statements))->stmt;
    if (!IsA(statement, SelectStmt)) {
        const char* tag = pg_call([&] { return GetCommandTagName(CreateCommandTag(statement)); });
        throw PgError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                      std::string("only read-only queries are allowed; this is ") + tag, {},
                      kReadOnlyHint);
    }
    QueryShape shape;
    WalkState state;
    state.column_names = &shape.column_names;
    walk(statement, state);
    shape.aggregating = select_aggregates(reinterpret_cast<SelectStmt*>(statement), {});
    return shape;
}

QueryShape check_expression(const std::string& expression, const std::string& field) {
    auto invalid = [&](const std::string& why) {
        return PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                       "\"" + field + "\" is not a single SQL expression: " + why, {},
                       "Give one expression over the table's columns, e.g. age >= 18 or "
                       "sum(spend_inr).");
    };
    if (expression.find_first_not_of(" \t\r\n") == std::string::npos) throw invalid("it is empty");
    List* statements = parse_or_explain("SELECT (" + expression + "\n)", "\"" + field + "\"");
    if (list_length(statements) != 1) throw invalid("it holds several statements");
    Node* statement = static_cast<RawStmt*>(linitial(statements))->stmt;
    if (!IsA(statement, SelectStmt)) throw invalid("it is not an expression");
    auto* select = reinterpret_cast<SelectStmt*>(statement);
    if (select->op != SETOP_NONE || list_length(select->targetList) != 1 ||
        select->fromClause != NIL || select->whereClause != nullptr ||
        select->groupClause != NIL || select->havingClause != nullptr ||
        select->withClause != nullptr || select->sortClause != NIL ||
        select->limitCount != nullptr || select->limitOffset != nullptr ||
        select->distinctClause != NIL || select->windowClause != NIL)
        throw invalid("it continues past the expression");
    QueryShape shape;
    WalkState state;
    state.allow_subqueries = false;
    state.column_names = &shape.column_names;
    walk(static_cast<Node*>(linitial(select->targetList)), state);
    shape.aggregating = expressions_aggregate(select->targetList);
    return shape;
}

}  // namespace mcp::ext::guard
