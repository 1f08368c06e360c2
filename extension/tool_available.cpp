// mcp._tool_available(tool): whether a tool's handler and the functions it requires exist.
// Every tools/call and tools/list asks; the answer only changes when functions are created
// or dropped, so each backend keeps its answers until pg_proc changes (a syscache
// invalidation), instead of parsing the signatures with to_regprocedure on every call.
#include "tool_available.hpp"

#include "pg_guard.hpp"

extern "C" {
#include "postgres.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/syscache.h"
}

#include <string>
#include <unordered_map>
#include <vector>

namespace mcp::ext::tool_available {

namespace {

std::unordered_map<std::string, bool> known;  // handler and requirements → available
bool callback_registered = false;

void forget_all(Datum, int, uint32) { known.clear(); }

// to_regprocedure(signature) IS NOT NULL (a direct call may not return NULL: it is called
// through its own call frame).
bool function_exists(const std::string& signature) {
    return pg_call([&] {
        LOCAL_FCINFO(call, 1);
        InitFunctionCallInfoData(*call, nullptr, 1, InvalidOid, nullptr, nullptr);
        call->args[0].value = CStringGetTextDatum(signature.c_str());
        call->args[0].isnull = false;
        Datum found = to_regprocedure(call);
        return !call->isnull && DatumGetObjectId(found) != InvalidOid;
    });
}

// Reads the handler and the requirements out of the mcp.tools row.
void read_tool(HeapTupleHeader tool, std::string& handler, std::vector<std::string>& requires_list) {
    pg_call([&] {
        bool is_null = false;
        Datum value = GetAttributeByName(tool, "handler", &is_null);
        if (!is_null) handler = TextDatumGetCString(value);
        value = GetAttributeByName(tool, "requires", &is_null);
        if (is_null) return;
        Datum* elements = nullptr;
        bool* nulls = nullptr;
        int count = 0;
        deconstruct_array(DatumGetArrayTypeP(value), TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls,
                          &count);
        for (int i = 0; i < count; ++i)
            if (!nulls[i]) requires_list.emplace_back(TextDatumGetCString(elements[i]));
    });
}

}  // namespace

bool available(const std::string& handler, const std::vector<std::string>& requires_list) {
    if (!callback_registered) {
        pg_call([] { CacheRegisterSyscacheCallback(PROCOID, forget_all, 0); });
        callback_registered = true;
    }
    // Unqualified names resolve through the caller's search_path: it is part of the answer.
    const char* path = pg_call([] { return GetConfigOption("search_path", true, false); });
    std::string key = std::string(path != nullptr ? path : "") + '\n' + handler;
    for (const std::string& required : requires_list) key += '\n' + required;
    auto found = known.find(key);
    if (found != known.end()) return found->second;

    bool exists = !handler.empty() && function_exists(handler + "(jsonb,jsonb)");
    for (const std::string& required : requires_list) exists = exists && function_exists(required);
    if (known.size() >= 1000) known.clear();  // bounded: tools are few
    known.emplace(std::move(key), exists);
    return exists;
}

namespace {

Datum tool_available(FunctionCallInfo fcinfo) {
    std::string handler;
    std::vector<std::string> requires_list;
    read_tool(pg_call([&] { return PG_GETARG_HEAPTUPLEHEADER(0); }), handler, requires_list);
    return BoolGetDatum(available(handler, requires_list));
}

}  // namespace

}  // namespace mcp::ext::tool_available

extern "C" {
PG_FUNCTION_INFO_V1(mcp_tool_available);
Datum mcp_tool_available(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::tool_available::tool_available(fcinfo); });
}
}
