// Turning fetched rows into what a client reads: a compact markdown table (the cheapest in
// LLM tokens), CSV, or typed JSON rows.
#pragma once

#include "executor.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>

namespace mcp::ext::format {

enum class Kind { Markdown, Csv, Json };

std::optional<Kind> parse_kind(const std::string& name);
const char* kind_name(Kind kind);

// "|a|b|\n|-|-|\n|1|x|": no padding; "|" and "\" escaped with "\", newlines as "\n";
// NULL is an empty cell.
std::string markdown(const std::vector<executor::Column>& columns,
                     const std::vector<executor::Row>& rows);

// RFC 4180: quoted when needed, quotes doubled; NULL is an empty field, '' is "".
std::string csv(const std::vector<executor::Column>& columns,
                const std::vector<executor::Row>& rows);

// Rows as JSON arrays: numbers as numbers, booleans as booleans, json/jsonb embedded,
// everything else as PostgreSQL's text output.
void json_rows(const std::vector<executor::Column>& columns,
               const std::vector<executor::Row>& rows,
               rapidjson::Writer<rapidjson::StringBuffer>& out);

// The type's SQL name (numeric, timestamp with time zone, text[] ...) for a dataset type OID.
std::string type_name(unsigned type_oid);

}  // namespace mcp::ext::format
