#pragma once

#include "http_types.hpp"
#include "pg_health.hpp"
#include "router.hpp"

namespace mcp::bridge {

// GET and HEAD /healthz. No authentication, ever: load balancers and orchestrators call it.
void add_health_routes(Router& router, PgHealth& health);

// 200 when the database answers, 503 otherwise. Says nothing about where the database is.
Response healthz_response(const HealthReport& report);

}  // namespace mcp::bridge
