// mcp._caller_api_key(): the mcp.api_keys id of the caller, from the setting mcp.caller (the
// bridge sets it on its connection), else from mcp.request_context's api_key_id (mcp.call_tool
// sets it), else NULL for a direct SQL call. Every access check asks, several times per tool
// call; as PL/pgSQL with its own search_path it cost a GUC save and restore each time.
#include "caller.hpp"

#include "pg_guard.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
}

#include <cstdlib>
#include <optional>
#include <string>

namespace mcp::ext::caller {

namespace {

// '^[0-9]{1,9}$': an id that fits an integer, as the SQL version matched it.
bool is_key_id(const std::string& text) {
    if (text.empty() || text.size() > 9) return false;
    for (char c : text)
        if (c < '0' || c > '9') return false;
    return true;
}

std::optional<std::string> setting(const char* name) {
    const char* value = pg_call([&] { return GetConfigOption(name, true, false); });
    if (value == nullptr) return std::nullopt;
    return std::string(value);
}

// context::jsonb ->> 'api_key_id', with the cast's own error for text that is not JSON.
std::optional<std::string> api_key_id_of(const std::string& context) {
    Jsonb* document = pg_call([&] {
        return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(context.c_str())));
    });
    if (!JB_ROOT_IS_OBJECT(document)) return std::nullopt;
    static const char kKey[] = "api_key_id";
    JsonbValue* value = pg_call([&] {
        return getKeyJsonValueFromContainer(&document->root, kKey, sizeof kKey - 1, nullptr);
    });
    if (value == nullptr || value->type == jbvNull) return std::nullopt;
    if (value->type == jbvString) return std::string(value->val.string.val, value->val.string.len);
    if (value->type == jbvNumeric) {
        char* text = pg_call([&] {
            return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(value->val.numeric)));
        });
        return std::string(text);
    }
    return std::nullopt;  // true, false, objects and arrays are no key id
}

}  // namespace

std::optional<int> connection_key_id() {
    auto caller = setting("mcp.caller");
    if (!caller || !is_key_id(*caller) || *caller == "0") return std::nullopt;
    return std::atoi(caller->c_str());
}

std::optional<int> api_key_id() {
    if (auto key = connection_key_id()) return key;
    if (auto context = setting("mcp.request_context"); context && !context->empty()) {
        if (auto id = api_key_id_of(*context); id && is_key_id(*id)) return std::atoi(id->c_str());
    }
    return std::nullopt;
}

Datum caller_api_key(FunctionCallInfo fcinfo) {
    if (auto key = api_key_id()) return Int32GetDatum(*key);
    fcinfo->isnull = true;
    return Datum(0);
}

}  // namespace mcp::ext::caller

extern "C" {
PG_FUNCTION_INFO_V1(mcp_caller_api_key);

Datum mcp_caller_api_key(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::caller::caller_api_key(fcinfo); });
}
}
