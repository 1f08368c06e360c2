#pragma once

#include "router.hpp"

namespace mcp::bridge {

class PgPool;

struct UiDeps {
    PgPool& pool;
};

// The dashboard under /ui: server-rendered pages (mustache templates), enhanced with htmx and
// a little Alpine.js, all served from the bridge itself (/ui/static/). Every page and every
// form is one call of an mcp.* SQL function run as the signed-in API key's role, so the
// GRANTs decide what a reader or an admin may do. Sign-in takes an API key and opens a
// session stored in the metadata database (an HttpOnly, SameSite=Strict cookie); every form
// carries the session's CSRF token. `deps` must outlive the router.
void add_ui_routes(Router& router, UiDeps& deps);

// The headers every /ui response carries: a Content-Security-Policy without inline script or
// style, framing refused, no referrer.
void apply_ui_security_headers(Response& response);

}  // namespace mcp::bridge
