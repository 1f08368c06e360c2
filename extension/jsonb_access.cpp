#include "jsonb_access.hpp"

extern "C" {
#include "utils/builtins.h"
}

namespace mcp::ext::jsonb {

Jsonb* from_text(const std::string& json_text) {
    return pg_call([&] { return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json_text.c_str()))); });
}

std::string text_of(Jsonb* value) {
    char* text = pg_call([&] { return JsonbToCString(nullptr, &value->root, VARSIZE(value)); });
    return text;
}

Jsonb* member(Jsonb* object, const std::string& key) {
    if (object == nullptr || !JB_ROOT_IS_OBJECT(object)) return nullptr;
    return pg_call([&]() -> Jsonb* {
        JsonbValue* found =
            getKeyJsonValueFromContainer(&object->root, key.data(), static_cast<int>(key.size()), nullptr);
        return found == nullptr ? nullptr : JsonbValueToJsonb(found);
    });
}

std::optional<std::string> text_member(Jsonb* object, const std::string& key) {
    Jsonb* value = member(object, key);
    if (value == nullptr) return std::nullopt;
    if (JB_ROOT_IS_SCALAR(value)) {
        JsonbValue scalar;
        pg_call([&] { JsonbExtractScalar(&value->root, &scalar); });
        if (scalar.type == jbvNull) return std::nullopt;
        if (scalar.type == jbvString) return std::string(scalar.val.string.val, scalar.val.string.len);
    }
    return text_of(value);
}

}  // namespace mcp::ext::jsonb
