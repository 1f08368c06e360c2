#pragma once

// Internal to the dashboard's route files: the request a handler sees, database calls as the
// session's role, page rendering, and the wrappers that check the session, CSRF and role.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "pg_connection.hpp"
#include "router.hpp"
#include "ui_form.hpp"
#include "ui_session.hpp"
#include "ui_view.hpp"

namespace mcp::bridge {

class PgPool;

struct UiRequest {
    const Request& http;
    const RouteParams& params;
    UiSession session;
    FormData form;      // the query string of a GET, the body of a POST
    bool htmx = false;  // an htmx request for a fragment (not a boosted page load)
};

// What went wrong, in the words of the SQL function that refused (message, detail, hint),
// or ours when the database could not be asked.
struct UiError {
    http::status status = http::status::internal_server_error;
    std::string message;
    std::string detail;
    std::string hint;
    std::string sqlstate;
};

UiError ui_error(http::status status, std::string message, std::string hint = {});
UiError ui_error_from(const PgError& error);
// {message, detail, hint, sqlstate} for templates' {{#error}} blocks.
View error_view(const UiError& error);

class UiPages {
  public:
    explicit UiPages(PgPool& pool) : pool_(pool) {}

    PgPool& pool() { return pool_; }

    // One statement as the session's role; the first value of its first row (nullopt for
    // SQL NULL or no row). On failure returns false and fills `error`.
    bool call(const UiRequest& request, std::string sql, PgParams params, bool write,
              std::optional<std::string>& value, UiError& error);

    // A page's data: a read whose answer is one JSON object (with an object member
    // `required`, when named). Otherwise nullopt, and `refusal` holds the error page to
    // answer instead: the database's refusal, or "Unexpected answer from the database.".
    std::optional<rapidjson::Document> read_object(const UiRequest& request, std::string sql,
                                                   PgParams params, std::optional<Response>& refusal,
                                                   const char* required = nullptr);

    // A whole page: the layout around templates/<name>.mustache. `nav` marks the current
    // section of the navigation.
    Response page(const UiRequest& request, http::status status, std::string_view name,
                  std::string_view title, std::string_view nav, View view) const;
    Response error_page(const UiRequest& request, const UiError& error) const;

  private:
    PgPool& pool_;
};

// The layout's values when there is no session (sign-in, not found).
View layout_view(std::string_view title);

Response see_other(const std::string& location);

// A positive integer route parameter, as text; nullopt for anything else.
std::optional<std::string> positive_id(const RouteParams& params, const char* name);

// The fixed sentence of a ?notice= code after a redirect ("" when unknown).
std::string notice_text(std::string_view code);

enum class UiAccess { reader, admin };

using UiHandler = std::function<Response(UiRequest&)>;
// GET: a session is needed (else a redirect to the sign-in page).
Router::ReplyHandler ui_page(UiPages& pages, UiAccess access, UiHandler handler);
// POST: a session, a same-origin request, the session's CSRF token, and for UiAccess::admin
// an admin key.
Router::ReplyHandler ui_action(UiPages& pages, UiAccess access, UiHandler handler);

// One dataset's page, with `failure` shown above it (a refused action on the page).
Response render_dataset_page(UiPages& pages, UiRequest& request, const std::string& id,
                             http::status status = http::status::ok,
                             const UiError* failure = nullptr);
// The "Who can use this dataset" section of an admin's dataset page (ui_grant_routes.cpp).
View dataset_access_view(UiPages& pages, const UiRequest& request, const std::string& id);

void add_ui_dataset_routes(Router& router, UiPages& pages);
void add_ui_grant_routes(Router& router, UiPages& pages);
void add_ui_log_routes(Router& router, UiPages& pages);
void add_ui_admin_routes(Router& router, UiPages& pages);
void add_ui_people_routes(Router& router, UiPages& pages);
void add_ui_oauth_client_routes(Router& router, UiPages& pages);

}  // namespace mcp::bridge
