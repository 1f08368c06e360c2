#include "result_format.hpp"

#include "pg_guard.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
}

#include <map>

namespace mcp::ext::format {

namespace {

void markdown_cell(std::string& out, const std::string& text) {
    for (char c : text) {
        switch (c) {
            case '|': out += "\\|"; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            default: out += c;
        }
    }
}

void csv_field(std::string& out, const std::string& text, bool quote_always) {
    bool needs_quotes = quote_always || text.find_first_of(",\"\r\n") != std::string::npos;
    if (!needs_quotes) {
        out += text;
        return;
    }
    out += '"';
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

bool is_number_type(unsigned oid) {
    return oid == INT2OID || oid == INT4OID || oid == INT8OID || oid == FLOAT4OID ||
           oid == FLOAT8OID || oid == NUMERICOID || oid == OIDOID;
}

bool is_finite_number_text(const std::string& text) {
    return text != "NaN" && text != "Infinity" && text != "-Infinity";
}

}  // namespace

std::optional<Kind> parse_kind(const std::string& name) {
    if (name == "markdown") return Kind::Markdown;
    if (name == "csv") return Kind::Csv;
    if (name == "json") return Kind::Json;
    return std::nullopt;
}

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::Markdown: return "markdown";
        case Kind::Csv: return "csv";
        case Kind::Json: return "json";
    }
    return "markdown";
}

std::string markdown(const std::vector<executor::Column>& columns,
                     const std::vector<executor::Row>& rows) {
    std::string out;
    out += '|';
    for (const auto& column : columns) {
        markdown_cell(out, column.name);
        out += '|';
    }
    out += "\n|";
    for (size_t i = 0; i < columns.size(); ++i) out += "-|";
    for (const auto& row : rows) {
        out += "\n|";
        for (const auto& cell : row) {
            if (cell) markdown_cell(out, *cell);
            out += '|';
        }
    }
    return out;
}

std::string csv(const std::vector<executor::Column>& columns,
                const std::vector<executor::Row>& rows) {
    std::string out;
    for (size_t c = 0; c < columns.size(); ++c) {
        if (c) out += ',';
        csv_field(out, columns[c].name, false);
    }
    for (const auto& row : rows) {
        out += '\n';
        for (size_t c = 0; c < row.size(); ++c) {
            if (c) out += ',';
            if (row[c]) csv_field(out, *row[c], row[c]->empty());
        }
    }
    return out;
}

void json_rows(const std::vector<executor::Column>& columns,
               const std::vector<executor::Row>& rows,
               rapidjson::Writer<rapidjson::StringBuffer>& out) {
    out.StartArray();
    for (const auto& row : rows) {
        out.StartArray();
        for (size_t c = 0; c < row.size(); ++c) {
            const auto& cell = row[c];
            unsigned oid = columns[c].type_oid;
            if (!cell) {
                out.Null();
            } else if (oid == BOOLOID) {
                out.Bool(*cell == "t");
            } else if (is_number_type(oid) && is_finite_number_text(*cell)) {
                out.RawValue(cell->data(), cell->size(), rapidjson::kNumberType);
            } else if (oid == JSONOID || oid == JSONBOID) {
                out.RawValue(cell->data(), cell->size(), rapidjson::kObjectType);
            } else {
                out.String(cell->data(), static_cast<rapidjson::SizeType>(cell->size()));
            }
        }
        out.EndArray();
    }
    out.EndArray();
}

std::string type_name(unsigned type_oid) {
    static std::map<unsigned, std::string> known;
    auto found = known.find(type_oid);
    if (found != known.end()) return found->second;
    std::string name;
    if (type_oid >= FirstNormalObjectId) {
        name = "user-defined";  // the dataset's own type: its OID means nothing here
    } else {
        try {
            name = pg_call([&] { return format_type_be(type_oid); });
        } catch (const PgError&) {
            name = "oid " + std::to_string(type_oid);
        }
    }
    known.emplace(type_oid, name);
    return name;
}

}  // namespace mcp::ext::format
