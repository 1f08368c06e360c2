// The guard in front of every query a client sends: PostgreSQL's own parser decides what the
// text is, and only single read-only statements pass. Rejections are PgErrors whose message
// says what was rejected and how to rephrase, for an LLM to act on.
#pragma once

#include <set>
#include <string>

namespace mcp::ext::guard {

struct QueryShape {
    // GROUP BY, an aggregate or window aggregate in the target list, or DISTINCT.
    bool aggregating = false;
    // Lower-cased names of every column reference (last name part), for the weight check.
    std::set<std::string> column_names;
};

// Accepts one SELECT / VALUES / TABLE / WITH ... SELECT / set operation that only reads.
// Throws PgError: 42601 when it does not parse or holds several statements, 42501 for
// anything that writes, locks, changes settings or touches a denied function or catalog.
QueryShape check_query(const std::string& sql);

// Accepts one scalar expression (a filter, a metric), parsed as "SELECT <expression>", with
// the same deny list and no sub-queries. `field` names the spec field in error messages.
QueryShape check_expression(const std::string& expression, const std::string& field);

}  // namespace mcp::ext::guard
