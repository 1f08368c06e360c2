#include "ui_routes.hpp"

#include "http_headers.hpp"

#include <memory>

#include "json.hpp"
#include "pg_pool.hpp"
#include "rest_routes.hpp"
#include "ui_assets.hpp"
#include "ui_pages.hpp"
#include "ui_render.hpp"

namespace mcp::bridge {

namespace {

constexpr std::string_view home = "/ui/datasets";
constexpr std::chrono::seconds login_token_lifetime{3600};

// htmx without eval (so no 'unsafe-eval' in the CSP) and without its injected <style>; no
// page snapshots in sessionStorage (a page may show a new API key); every answer swapped,
// since our error pages are HTML meant to be read. Style attributes are not carried over
// while settling: copying one with setAttribute is an inline style the CSP refuses.
constexpr const char* htmx_config =
    R"({"allowEval":false,"allowScriptTags":false,"includeIndicatorStyles":false,)"
    R"("historyCacheSize":0,"refreshOnHistoryMiss":true,"historyRestoreAsHxRequest":false,)"
    R"("selfRequestsOnly":true,"defaultSettleDelay":0,"attributesToSettle":["class","width","height"],)"
    R"("responseHandling":[{"code":"204","swap":false},{"code":"...","swap":true}]})";

bool is_htmx_fragment_request(const Request& request) {
    return header_value(request, "HX-Request") == "true" &&
           header_value(request, "HX-Boosted") != "true";
}

// The asset's URL with a version that changes with its bytes; empty when not built in.
std::string asset_url(std::string_view name) {
    const UiAsset* asset = find_ui_asset("static/" + std::string(name));
    if (!asset) {
        return {};
    }
    return "/ui/static/" + std::string(name) + "?v=" + std::string(ui_asset_version(*asset));
}

View assets_view() {
    View assets;
    const std::pair<const char*, const char*> files[] = {
        {"app_css", "app.css"},
        {"app_js", "app.js"},
        {"htmx", "vendor/htmx.min.js"},
        {"alpine", "vendor/alpine-csp.min.js"},
        {"uplot", "vendor/uPlot.iife.min.js"},
        {"uplot_css", "vendor/uPlot.min.css"},
    };
    for (const auto& [key, file] : files) {
        const std::string url = asset_url(file);
        assets.set(key, url.empty() ? View(false) : View(url));
    }
    return assets;
}

// Where to go after signing in: a dashboard path of ours, never another site.
std::string safe_next(const std::string& next) {
    if (next.rfind("/ui/", 0) != 0 || next.size() > 512 || next.find("//") != std::string::npos ||
        next.find('\\') != std::string::npos || next.rfind("/ui/sign-in", 0) == 0) {
        return std::string(home);
    }
    for (const char c : next) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return std::string(home);
        }
    }
    return next;
}

Reply reply_of(Response response, const UiRequest* request = nullptr) {
    Reply reply{std::move(response), nullptr, {}};
    if (request) {
        reply.log.api_key_id = request->session.identity.api_key_id;
    }
    return reply;
}

// Not signed in: pages send the browser to the sign-in form and back; htmx fragments ask
// htmx to do the same with the whole page.
Reply sign_in_redirect(const Request& request) {
    if (is_htmx_fragment_request(request)) {
        Response response = html_response(http::status::unauthorized, "");
        response.set("HX-Redirect", "/ui/sign-in");
        return reply_of(std::move(response));
    }
    std::string location = "/ui/sign-in";
    if (request.method() == http::verb::get) {
        location += "?next=" + url_encode(safe_next(std::string(request.target())));
    }
    return reply_of(see_other(location));
}

Response unavailable_page() {
    View view = layout_view("Unavailable");
    view.set("heading", "The metadata database is not reachable");
    view.set("error", error_view(ui_error(http::status::service_unavailable,
                                          "The dashboard cannot reach the metadata database.",
                                          "Try again in a moment.")));
    view.set("tpl_page", kainjow::mustache::partial([] {
                 return std::string(find_ui_asset("templates/message.mustache")->bytes());
             }));
    Response response = html_response(http::status::service_unavailable,
                                      render_template("layout", std::move(view)));
    response.set(http::field::retry_after, "5");
    return response;
}

// The sign-in page, with a fresh double-submit token in a cookie and in the form.
Response sign_in_page(const Request& request, http::status status, const std::string& error,
                      const std::string& next) {
    const std::string token = random_token();
    View view = layout_view("Sign in");
    view.set("login_token", token);
    view.set("next", next.empty() ? View(false) : View(next));
    view.set("error", error.empty() ? View(false) : View(error));
    if (const auto query = FormData::from_target(request.target())) {
        const std::string notice = notice_text(query->get("notice"));
        view.set("notice", notice.empty() ? View(false) : View(notice));
    }
    view.set("tpl_page", kainjow::mustache::partial([] {
                 return std::string(find_ui_asset("templates/sign_in.mustache")->bytes());
             }));
    Response response = html_response(status, render_template("layout", std::move(view)));
    response.insert(http::field::set_cookie,
                    ui_cookie(ui_login_cookie, token, "/ui/sign-in", login_token_lifetime,
                              request_is_https(request)));
    return response;
}

Reply get_sign_in(UiPages& pages, const Request& request) {
    UiSession session;
    if (lookup_ui_session(pages.pool(), request, session) == UiLookup::found) {
        return reply_of(see_other(std::string(home)));
    }
    const auto query = FormData::from_target(request.target());
    const std::string next = query ? query->get("next") : std::string();
    return reply_of(
        sign_in_page(request, http::status::ok, {}, next.empty() ? next : safe_next(next)));
}

Reply post_sign_in(UiPages& pages, const Request& request) {
    const auto form = FormData::from_body(request);
    const std::string next =
        form ? safe_next(form->get("next", std::string(home))) : std::string(home);
    const auto cookie = request_cookie(request, ui_login_cookie);
    if (!form || !same_origin_request(request) || !cookie ||
        !tokens_equal(*cookie, form->get("login_token"))) {
        return reply_of(sign_in_page(request, http::status::forbidden,
                                     "The sign-in form expired or did not come from this site. "
                                     "Please sign in again.",
                                     next));
    }
    UiSession session;
    std::chrono::seconds lifetime{0};
    const std::string user_agent = header_value(request, "User-Agent");
    // A person signs in with login and password; automation with an API key.
    const bool by_password = !form->get("login").empty();
    std::string refusal = "That API key is unknown, revoked or expired.";
    const UiSignIn outcome =
        by_password ? ui_sign_in_password(pages.pool(), form->get("login"), form->get("password"),
                                          user_agent, session, lifetime, refusal)
                    : ui_sign_in(pages.pool(), form->get("api_key"), user_agent, session, lifetime);
    switch (outcome) {
        case UiSignIn::rejected:
            return reply_of(sign_in_page(request, http::status::unauthorized, refusal, next));
        case UiSignIn::unavailable:
            return reply_of(unavailable_page());
        case UiSignIn::ok:
            break;
    }
    const bool secure = request_is_https(request);
    Response response = see_other(next);
    response.insert(http::field::set_cookie,
                    ui_cookie(ui_session_cookie, session.token, "/ui", lifetime, secure));
    response.insert(http::field::set_cookie,
                    ui_cookie_clear(ui_login_cookie, "/ui/sign-in", secure));
    Reply reply = reply_of(std::move(response));
    reply.log.api_key_id = session.identity.api_key_id;
    return reply;
}

Response post_sign_out(UiPages& pages, UiRequest& request) {
    ui_sign_out(pages.pool(), request.session.token);
    Response response = see_other("/ui/sign-in?notice=signed_out");
    response.insert(http::field::set_cookie,
                    ui_cookie_clear(ui_session_cookie, "/ui", request_is_https(request.http)));
    return response;
}

Response static_file(const RouteParams& params) {
    const auto found = params.find("file");
    const UiAsset* asset =
        found == params.end() ? nullptr : find_ui_asset("static/" + found->second);
    if (!asset) {
        Response response = html_response(http::status::not_found, "not found");
        response.set(http::field::content_type, "text/plain; charset=utf-8");
        return response;
    }
    Response response{http::status::ok, 11};
    response.set(http::field::content_type, asset->content_type);
    response.set(http::field::etag, "\"" + std::string(ui_asset_version(*asset)) + "\"");
    response.body() = std::string(asset->bytes());
    return response;
}

Response not_found_page() {
    View view = layout_view("Not found");
    view.set("heading", "Not found");
    view.set("error", error_view(ui_error(http::status::not_found, "There is no such page.")));
    view.set("tpl_page", kainjow::mustache::partial([] {
                 return std::string(find_ui_asset("templates/message.mustache")->bytes());
             }));
    return html_response(http::status::not_found, render_template("layout", std::move(view)));
}

}  // namespace

// --- shared by the route files --------------------------------------------------------------

UiError ui_error(http::status status, std::string message, std::string hint) {
    UiError error;
    error.status = status;
    error.message = std::move(message);
    error.hint = std::move(hint);
    return error;
}

UiError ui_error_from(const PgError& error) {
    switch (error.kind) {
        case PgError::Kind::server:
            break;
        case PgError::Kind::timeout:
            return ui_error(http::status::gateway_timeout, "The database call took too long.",
                            "Try again; if it keeps happening, ask your DBA.");
        case PgError::Kind::busy:
            return ui_error(http::status::service_unavailable,
                            "Every database connection is in use.", "Try again in a moment.");
        default:
            return ui_error(http::status::service_unavailable,
                            "The metadata database is not reachable.", "Try again in a moment.");
    }
    const http::status status = status_for_sqlstate(error.sqlstate);
    if (status == http::status::internal_server_error) {
        // Not one of our functions' messages: nothing a user can act on, nothing to leak.
        UiError internal = ui_error(status, "Something went wrong in the database.",
                                    "The bridge's log and the server log have the details.");
        internal.sqlstate = error.sqlstate;
        return internal;
    }
    UiError out;
    out.status = error.sqlstate == "42501" ? http::status::forbidden : status;
    out.message = error.message;
    out.detail = error.detail;
    out.hint = error.hint;
    out.sqlstate = error.sqlstate;
    return out;
}

View error_view(const UiError& error) {
    View view;
    view.set("message", error.message);
    view.set("detail", error.detail.empty() ? View(false) : View(error.detail));
    view.set("hint", error.hint.empty() ? View(false) : View(error.hint));
    view.set("sqlstate", error.sqlstate.empty() ? View(false) : View(error.sqlstate));
    return view;
}

bool UiPages::call(const UiRequest& request, std::string sql, PgParams params, bool write,
                   std::optional<std::string>& value, UiError& error) {
    PgQuery query;
    query.sql = std::move(sql);
    query.params = std::move(params);
    query.role = db_role_for(request.session.identity.role);
    query.caller = request.session.identity.api_key_id;
    query.retry_on_broken_connection = !write;
    PgRows rows;
    PgError pg_error;
    if (!pool_.run(query, rows, pg_error)) {
        error = ui_error_from(pg_error);
        return false;
    }
    value.reset();
    if (!rows.rows.empty() && !rows.rows[0].empty()) {
        value = std::move(rows.rows[0][0]);
    }
    return true;
}

std::optional<rapidjson::Document> UiPages::read_object(const UiRequest& request, std::string sql,
                                                        PgParams params,
                                                        std::optional<Response>& refusal,
                                                        const char* required) {
    std::optional<std::string> json;
    UiError error;
    if (!call(request, std::move(sql), std::move(params), false, json, error)) {
        refusal = error_page(request, error);
        return std::nullopt;
    }
    auto document = parse_json(json.value_or("{}"));
    if (!document || !document->IsObject() ||
        (required != nullptr && !(document->HasMember(required) && (*document)[required].IsObject()))) {
        refusal = error_page(request,
                             ui_error(http::status::bad_gateway, "Unexpected answer from the database."));
        return std::nullopt;
    }
    return document;
}

View layout_view(std::string_view title) {
    View view;
    view.set("title", std::string(title));
    view.set("assets", assets_view());
    view.set("htmx_config", htmx_config);
    view.set("session", false);
    view.set("is_admin", false);
    view.set("notice", false);
    view.set("refresh_seconds", false);
    return view;
}

Response UiPages::page(const UiRequest& request, http::status status, std::string_view name,
                       std::string_view title, std::string_view nav, View view) const {
    // The page's own values win over the layout's (a page may set notice or refresh_seconds).
    View layout = view.is_object() ? std::move(view) : View();
    auto fill = [&layout](const std::string& key, View value) {
        if (!layout.get(key)) {
            layout.set(key, value);
        }
    };
    View session;
    session.set("key_name", request.session.identity.name);
    session.set("role", request.session.identity.role);
    session.set("csrf_token", request.session.csrf_token);
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "X-CSRF-Token", request.session.csrf_token);
    writer.EndObject();
    session.set("csrf_header_json", std::string(buffer.GetString(), buffer.GetSize()));
    fill("session", session);
    fill("is_admin", View(request.session.admin()));
    fill("csrf_token", View(request.session.csrf_token));
    fill("nav_" + std::string(nav), View(true));
    if (request.http.method() == http::verb::get) {
        const std::string notice = notice_text(request.form.get("notice"));
        fill("notice", notice.empty() ? View(false) : View(notice));
    }
    const View defaults = layout_view(title);
    for (const char* key : {"title", "assets", "htmx_config", "notice", "refresh_seconds"}) {
        fill(key, *defaults.get(key));
    }
    const UiAsset* page = find_ui_asset("templates/" + std::string(name) + ".mustache");
    if (!page) {
        throw std::logic_error("no template " + std::string(name));
    }
    layout.set("tpl_page",
               kainjow::mustache::partial([page] { return std::string(page->bytes()); }));
    return html_response(status, render_template("layout", std::move(layout)));
}

Response UiPages::error_page(const UiRequest& request, const UiError& error) const {
    View view;
    view.set("heading", error.status == http::status::forbidden   ? "Not allowed"
                        : error.status == http::status::not_found ? "Not found"
                                                                  : "That did not work");
    view.set("error", error_view(error));
    return page(request, error.status, "message", "Error", "", std::move(view));
}

Response see_other(const std::string& location) {
    Response response{http::status::see_other, 11};
    response.set(http::field::location, location);
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    return response;
}

std::optional<std::string> positive_id(const RouteParams& params, const char* name) {
    const auto found = params.find(name);
    if (found == params.end()) {
        return std::nullopt;
    }
    const std::string& id = found->second;
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos ||
        id.find_first_not_of('0') == std::string::npos) {
        return std::nullopt;
    }
    return id;
}

std::string notice_text(std::string_view code) {
    static const std::pair<std::string_view, std::string_view> notices[] = {
        {"registered",
         "Dataset registered. Profiling runs in the background; this page follows it."},
        {"approved", "Approved: MCP clients can query this dataset now."},
        {"deactivated", "Deactivated: MCP clients no longer see this dataset."},
        {"reprofiling", "Profiling again. The dataset goes back to review when it is done."},
        {"metadata_saved", "Metadata saved."},
        {"setting_saved", "Setting saved. LLM clients get it with their next context."},
        {"setting_reset", "Setting reset to its default."},
        {"key_revoked", "Key revoked. Its sessions ended on every bridge."},
        {"person_created", "Person created. Grant them datasets below; admins see all anyway."},
        {"role_changed", "Role changed, on every bridge at once."},
        {"password_set",
         "Password set. Their dashboard sessions ended and any lockout is lifted."},
        {"password_removed",
         "Password removed: this person signs in through the OpenID provider only."},
        {"person_disabled",
         "Disabled. Their sessions and OAuth tokens stopped working on every bridge."},
        {"person_enabled",
         "Enabled: this person can sign in again (OAuth clients need a new consent)."},
        {"person_unlocked", "Unlocked: the failed sign-ins are forgotten."},
        {"person_not_locked", "This person was not locked."},
        {"group_added", "Added to the group."},
        {"group_already", "This person was in that group already."},
        {"group_removed", "Removed from the group."},
        {"group_not_member", "This person was not in that group."},
        {"grant_added", "Granted: it is usable at once on every bridge."},
        {"grant_exists", "That grant existed already."},
        {"grant_revoked", "Grant revoked, at once on every bridge."},
        {"grant_missing", "There was no such grant."},
        {"tokens_revoked", "OAuth tokens revoked: the client must sign in again."},
        {"client_disabled", "Client disabled; every token it held is revoked."},
        {"client_enabled", "Client enabled. People sign in and consent again."},
        {"client_tokens_revoked", "Every token of the client is revoked."},
        {"signed_out", "You are signed out."},
    };
    for (const auto& [name, text] : notices) {
        if (name == code) {
            return std::string(text);
        }
    }
    return {};
}

namespace {

Router::ReplyHandler wrap(UiPages& pages, UiAccess access, UiHandler handler, bool action) {
    return [&pages, access, handler = std::move(handler), action](
               const Request& http_request, const RouteParams& params) -> Reply {
        UiRequest request{http_request, params, {}, {}, is_htmx_fragment_request(http_request)};
        switch (lookup_ui_session(pages.pool(), http_request, request.session)) {
            case UiLookup::none:
                return sign_in_redirect(http_request);
            case UiLookup::unavailable:
                return reply_of(unavailable_page());
            case UiLookup::found:
                break;
        }
        const auto form = action ? FormData::from_body(http_request)
                                 : FormData::from_target(http_request.target());
        if (!form) {
            return reply_of(pages.error_page(request, ui_error(http::status::bad_request,
                                                               "The request could not be read.")),
                            &request);
        }
        request.form = *form;
        if (action) {
            const std::string sent = request.form.find("csrf_token")
                                         .value_or(header_value(http_request, "X-CSRF-Token"));
            if (!same_origin_request(http_request) ||
                !tokens_equal(sent, request.session.csrf_token)) {
                return reply_of(
                    pages.error_page(request,
                                     ui_error(http::status::forbidden,
                                              "This form expired or did not come from this site.",
                                              "Reload the page and try again.")),
                    &request);
            }
        }
        if (access == UiAccess::admin && !request.session.admin()) {
            // The admin pages (keys, people, OAuth clients) are not shown to readers at all.
            return reply_of(
                pages.error_page(
                    request,
                    action ? ui_error(http::status::forbidden,
                                      "Your API key is a reader key: it can look at "
                                      "everything, but change nothing.",
                                      "Sign in with an admin key to do this.")
                           : ui_error(http::status::forbidden, "This page is for admins only.",
                                      "Sign in as an admin (a person or an API key) to see it.")),
                &request);
        }
        return reply_of(handler(request), &request);
    };
}

}  // namespace

Router::ReplyHandler ui_page(UiPages& pages, UiAccess access, UiHandler handler) {
    return wrap(pages, access, std::move(handler), false);
}

Router::ReplyHandler ui_action(UiPages& pages, UiAccess access, UiHandler handler) {
    return wrap(pages, access, std::move(handler), true);
}

void apply_ui_security_headers(Response& response) {
    response.set("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    response.set("X-Frame-Options", "DENY");
    // same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts.
    response.set("Referrer-Policy", "same-origin");
    response.set("Cross-Origin-Opener-Policy", "same-origin");
    response.set("Cross-Origin-Resource-Policy", "same-origin");
    response.set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()");
    response.set(http::field::vary, "Cookie, HX-Request");
}

void add_ui_routes(Router& router, UiDeps& deps) {
    // Lives as long as the router: handlers hold references to it.
    auto pages = std::make_shared<UiPages>(deps.pool);
    UiPages& ui = *pages;
    router.add(http::verb::get, "/ui",
               [pages](const Request&) { return see_other(std::string(home)); });
    router.add(http::verb::get, "/ui/sign-in", [pages](const Request& request, const RouteParams&) {
        return get_sign_in(*pages, request);
    });
    router.add(http::verb::post, "/ui/sign-in",
               [pages](const Request& request, const RouteParams&) {
                   return post_sign_in(*pages, request);
               });
    router.add(http::verb::post, "/ui/sign-out",
               ui_action(ui, UiAccess::reader,
                         [pages](UiRequest& request) { return post_sign_out(*pages, request); }));
    router.add(
        http::verb::get, "/ui/static/{file*}",
        [](const Request&, const RouteParams& params) { return reply_of(static_file(params)); });
    add_ui_dataset_routes(router, ui);
    add_ui_grant_routes(router, ui);
    add_ui_log_routes(router, ui);
    add_ui_admin_routes(router, ui);
    add_ui_people_routes(router, ui);
    add_ui_oauth_client_routes(router, ui);
    // Last: anything else under /ui is a page that does not exist.
    for (const auto method : {http::verb::get, http::verb::post}) {
        router.add(method, "/ui/{rest*}", [pages](const Request&, const RouteParams&) {
            return reply_of(not_found_page());
        });
    }
    router.decorate(
        "/ui", [](const Request&, Response& response) { apply_ui_security_headers(response); });
}

}  // namespace mcp::bridge
