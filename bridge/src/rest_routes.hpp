#pragma once

#include "router.hpp"

namespace mcp::bridge {

class Authenticator;
class Metrics;
class OriginPolicy;
class PgPool;

struct RestDeps {
    PgPool& pool;
    Authenticator& auth;
    const OriginPolicy& origins;
    Metrics& metrics;
};

// The JSON API under /api (the seed's routes), each route one call of an mcp.api_* SQL
// function run as the API key's role (mcp_reader or mcp_admin), so PostgreSQL's GRANTs
// decide who may change what. SQL errors become HTTP statuses by SQLSTATE, with the
// function's own message, detail and hint. /api/openapi.json describes it all and, being
// documentation, needs no key. `deps` must outlive the router.
void add_rest_routes(Router& router, const RestDeps& deps);

// The HTTP status for a SQLSTATE raised by one of our functions.
http::status status_for_sqlstate(const std::string& sqlstate);

}  // namespace mcp::bridge
