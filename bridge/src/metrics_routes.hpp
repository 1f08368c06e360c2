#pragma once

#include "router.hpp"

namespace mcp::bridge {

class Metrics;

// GET /metrics in the Prometheus text format. Open like /healthz: scrapers usually carry no
// key, and it shows counts and latencies, never data, keys or session ids.
void add_metrics_routes(Router& router, const Metrics& metrics);

}  // namespace mcp::bridge
