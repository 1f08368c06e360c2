#include "oauth_routes.hpp"

#include <openssl/evp.h>

#include <optional>
#include <utility>
#include <vector>

#include "http_headers.hpp"
#include "json.hpp"
#include "pg_pool.hpp"
#include "responses.hpp"
#include "ui_assets.hpp"
#include "ui_form.hpp"
#include "ui_pages.hpp"
#include "ui_render.hpp"
#include "ui_routes.hpp"

namespace mcp::bridge {

namespace {

// Parameters of /authorize and /token that reach the database; anything else is ignored.
constexpr const char* authorize_params[] = {"response_type", "client_id", "redirect_uri", "scope",
                                           "state", "code_challenge", "code_challenge_method",
                                           "resource"};
constexpr const char* token_params[] = {"grant_type", "code", "redirect_uri", "code_verifier",
                                        "refresh_token", "client_id", "client_secret", "scope",
                                        "resource"};
constexpr std::size_t max_param_bytes = 4096;

// One statement as the bridge's reader role, for no caller: its first value as text.
bool call(PgPool& pool, std::string sql, PgParams params, std::string& out, PgError& error) {
    PgQuery query;
    query.sql = std::move(sql);
    query.params = std::move(params);
    query.role = DbRole::reader;
    // Codes and tokens are single-use: a statement that may have run is not run again.
    query.retry_on_broken_connection = false;
    PgRows rows;
    if (!pool.run(query, rows, error)) {
        return false;
    }
    if (rows.rows.empty() || rows.rows[0].empty() || !rows.rows[0][0]) {
        error = {};
        return false;
    }
    out = std::move(*rows.rows[0][0]);
    return true;
}

void no_store(Response& response) {
    response.set(http::field::cache_control, "no-store");
    response.set(http::field::pragma, "no-cache");
}

// Public endpoints called by clients in browsers (the Inspector) and by servers alike: no
// cookies, so any origin may read them.
void allow_any_origin(Response& response) {
    response.set(http::field::access_control_allow_origin, "*");
    response.set(http::field::access_control_allow_headers,
                 "Authorization, Content-Type, MCP-Protocol-Version");
    response.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
    response.set(http::field::access_control_max_age, "600");
}

Response oauth_error(http::status status, const char* error, std::string_view description) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "error", error);
    write_key_string(writer, "error_description", description);
    writer.EndObject();
    Response response = json_response(status, std::string(buffer.GetString(), buffer.GetSize()));
    no_store(response);
    return response;
}

Response unavailable() {
    Response response = oauth_error(http::status::service_unavailable, "temporarily_unavailable",
                                    "the metadata database is not reachable; try again shortly");
    response.set(http::field::retry_after, "5");
    return response;
}

// A call the database refused (a parameter it cannot read, such as bytes that are not
// UTF-8) is the client's fault; one it could not be asked is ours.
Response failed_call(const PgError& error) {
    return error.kind == PgError::Kind::server
               ? oauth_error(http::status::bad_request, "invalid_request", "a parameter could not be read")
               : unavailable();
}

// A function's {status, body} answer as the HTTP response.
Response forward_answer(const std::string& answer) {
    std::optional<rapidjson::Document> document = parse_json(answer);
    if (!document) {
        return oauth_error(http::status::internal_server_error, "server_error", "unexpected answer");
    }
    const rapidjson::Value& status = member(*document, "status");
    const rapidjson::Value& body = member(*document, "body");
    if (!status.IsInt() || !body.IsObject()) {
        return oauth_error(http::status::internal_server_error, "server_error", "unexpected answer");
    }
    Response response = json_response(static_cast<http::status>(status.GetInt()), to_json(body));
    no_store(response);
    return response;
}

// The named fields of a form as a JSON object of strings (first value of each).
std::optional<std::string> fields_json(const FormData& form, const char* const* names,
                                       std::size_t count,
                                       const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    for (std::size_t i = 0; i < count; ++i) {
        const auto value = form.find(names[i]);
        if (!value) {
            continue;
        }
        if (value->size() > max_param_bytes) {
            return std::nullopt;
        }
        bool overridden = false;
        for (const auto& [key, ignored] : extra) {
            overridden = overridden || key == names[i];
        }
        if (!overridden) {
            write_key_string(writer, names[i], *value);
        }
    }
    for (const auto& [key, value] : extra) {
        write_key_string(writer, key.c_str(), value);
    }
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

// RFC 6749 section 2.3.1: client_id:client_secret, each form-encoded, in HTTP Basic.
std::vector<std::pair<std::string, std::string>> basic_credentials(const Request& request) {
    const std::string header = header_value(request, "Authorization");
    if (header.size() < 7 || lowercase(header.substr(0, 6)) != "basic ") {
        return {};
    }
    const std::string encoded = header.substr(6);
    if (encoded.empty() || encoded.size() > 2048 || encoded.size() % 4 != 0) {
        return {};
    }
    std::string decoded(encoded.size() / 4 * 3, '\0');
    const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                       reinterpret_cast<const unsigned char*>(encoded.data()),
                                       static_cast<int>(encoded.size()));
    if (length < 0) {
        return {};
    }
    decoded.resize(static_cast<std::size_t>(length));
    while (!decoded.empty() && decoded.back() == '\0') {
        decoded.pop_back();
    }
    const auto colon = decoded.find(':');
    if (colon == std::string::npos) {
        return {};
    }
    const auto id = FormData::parse("v=" + decoded.substr(0, colon));
    const auto secret = FormData::parse("v=" + decoded.substr(colon + 1));
    if (!id || !secret) {
        return {};
    }
    return {{"client_id", id->get("v")}, {"client_secret", secret->get("v")}};
}

// --- pages ------------------------------------------------------------------------------

const char* scope_text(const std::string& scope) {
    if (scope == "datasets:read") return "See which datasets you may use, with their tables and descriptions";
    if (scope == "datasets:query") return "Run read-only queries on those datasets, in your name";
    if (scope == "admin") return "Act as an administrator: every dataset, and the admin tools";
    return "An unknown permission";
}

View scopes_view(const rapidjson::Value& scopes) {
    View list = view_list();
    if (scopes.IsArray()) {
        for (const auto& scope : scopes.GetArray()) {
            if (!scope.IsString()) continue;
            View item;
            item.set("scope", std::string(scope.GetString()));
            item.set("text", std::string(scope_text(scope.GetString())));
            list.push_back(item);
        }
    }
    return list;
}

Response oauth_page(http::status status, const char* name, std::string_view title, View view,
                    const std::string& redirect_origin = {}) {
    View layout = layout_view(title);
    for (const char* key : {"heading", "error", "client_name", "request", "consent", "scopes",
                            "datasets", "display_name", "login", "redirect_host", "no_datasets",
                            "upstream", "client_host"}) {
        if (const View* value = view.get(key)) {
            layout.set(key, *value);
        }
    }
    const std::string file = std::string("templates/") + name + ".mustache";
    layout.set("tpl_page", kainjow::mustache::partial([file] {
                   return std::string(find_ui_asset(file)->bytes());
               }));
    Response response = html_response(status, render_template("layout", std::move(layout)));
    apply_ui_security_headers(response);
    if (!redirect_origin.empty()) {
        // The consent form's answer redirects to the client: form-action must allow it.
        response.set("Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                     "connect-src 'self'; form-action 'self' " + redirect_origin +
                         "; frame-ancestors 'none'; base-uri 'none'");
    }
    no_store(response);
    return response;
}

Response message_page(http::status status, const std::string& message) {
    View view;
    view.set("heading", "Cannot sign in");
    view.set("error", message);
    return oauth_page(status, "oauth_message", "Cannot sign in", std::move(view));
}

Response redirect_to(const std::string& location) {
    Response response{http::status::found, 11};
    response.set(http::field::location, location);
    no_store(response);
    return response;
}

// Renders an answer of mcp.oauth_authorize / oauth_sign_in / oauth_consent.
Response authorization_answer(const std::string& answer) {
    std::optional<rapidjson::Document> parsed = parse_json(answer);
    rapidjson::Document document;
    if (parsed) document = std::move(*parsed);
    const std::string action = text_member(document, "action");
    if (action == "redirect") {
        return redirect_to(text_member(document, "location"));
    }
    if (action == "error" || !parsed) {
        const int status = static_cast<int>(number_member(document, "status", 400));
        return message_page(static_cast<http::status>(status), text_member(document, "message"));
    }
    View view;
    view.set("client_name", text_member(document, "client_name"));
    // A client metadata document's client: the host that serves it, beside the name it claims.
    const std::string client_host = text_member(document, "client_host");
    view.set("client_host", client_host.empty() ? View(false) : View(client_host));
    view.set("request", text_member(document, "request"));
    view.set("scopes", scopes_view(member(document, "scopes")));
    if (action == "sign_in") {
        const std::string upstream = text_member(document, "upstream");
        view.set("upstream", upstream.empty() ? View(false) : View(upstream));
        const std::string error = text_member(document, "error");
        view.set("error", error.empty() ? View(false) : View(error));
        return oauth_page(error.empty() ? http::status::ok : http::status::unauthorized,
                          "oauth_sign_in", "Sign in", std::move(view));
    }
    // consent
    view.set("consent", text_member(document, "consent"));
    view.set("display_name", text_member(document, "display_name"));
    view.set("login", text_member(document, "login"));
    view.set("redirect_host", text_member(document, "redirect_host"));
    const rapidjson::Value& datasets = member(document, "datasets");
    View list = view_list();
    if (datasets.IsArray()) {
        for (const auto& dataset : datasets.GetArray()) {
            View item;
            item.set("name", text_member(dataset, "name"));
            list.push_back(item);
        }
    }
    const bool none = !datasets.IsArray() || datasets.Empty();
    view.set("datasets", list);
    view.set("no_datasets", View(none));
    return oauth_page(http::status::ok, "oauth_consent", "Allow access", std::move(view),
                      text_member(document, "redirect_origin"));
}

Response get_authorize(OAuthDeps& deps, const Request& request) {
    const auto query = FormData::from_target(request.target());
    const auto params = query ? fields_json(*query, authorize_params, std::size(authorize_params))
                              : std::nullopt;
    if (!params) {
        return message_page(http::status::bad_request, "The sign-in link is malformed.");
    }
    std::string answer;
    PgError error;
    if (!call(deps.pool, "SELECT mcp.oauth_authorize($1::jsonb, $2, $3)::text",
              {*params, deps.issuer, deps.resource}, answer, error)) {
        return error.kind == PgError::Kind::server
                   ? message_page(http::status::bad_request, "The sign-in link is malformed.")
                   : message_page(http::status::service_unavailable,
                                  "The server cannot reach its database. Try again in a moment.");
    }
    return authorization_answer(answer);
}

Response post_authorize(OAuthDeps& deps, const Request& request) {
    const auto form = FormData::from_body(request);
    if (!form || !same_origin_request(request)) {
        return message_page(http::status::forbidden,
                            "This form did not come from this site. Start connecting again from your application.");
    }
    const std::string step = form->get("step");
    std::string answer;
    PgError error;
    bool ok = false;
    if (step == "sign_in") {
        ok = call(deps.pool, "SELECT mcp.oauth_sign_in($1, $2, $3)::text",
                  {form->get("request"), form->get("login"), form->get("password")}, answer, error);
    } else if (step == "consent") {
        const std::string decision = form->get("decision") == "allow" ? "true" : "false";
        ok = call(deps.pool, "SELECT mcp.oauth_consent($1, $2, $3::boolean, $4)::text",
                  {form->get("request"), form->get("consent"), decision, deps.issuer}, answer, error);
    } else {
        return message_page(http::status::bad_request, "Unknown step.");
    }
    if (!ok) {
        return message_page(error.kind == PgError::Kind::server ? http::status::bad_request
                                                                : http::status::service_unavailable,
                            "Sign-in could not continue. Start connecting again from your application.");
    }
    return authorization_answer(answer);
}

// GET /oidc/start?request=...: on to the upstream OpenID provider.
Response get_oidc_start(OAuthDeps& deps, const Request& request) {
    const auto query = FormData::from_target(request.target());
    const std::string handle = query ? query->get("request") : std::string();
    if (handle.empty() || handle.size() > 200) {
        return message_page(http::status::bad_request, "The sign-in link is malformed.");
    }
    std::string answer;
    PgError error;
    if (!call(deps.pool, "SELECT mcp.oauth_oidc_start($1, $2)::text",
              {handle, deps.issuer + "/oidc/callback"}, answer, error)) {
        return message_page(http::status::bad_gateway,
                            "The sign-in provider cannot be reached. Try again in a moment, or sign in with a password.");
    }
    return authorization_answer(answer);
}

// GET /oidc/callback?state&code: the provider's answer, then the consent page.
Response get_oidc_callback(OAuthDeps& deps, const Request& request) {
    const auto query = FormData::from_target(request.target());
    if (!query || query->get("state").empty() || query->get("state").size() > 200 ||
        query->get("code").size() > max_param_bytes) {
        return message_page(http::status::bad_request, "The sign-in provider's answer is malformed.");
    }
    if (const auto refused = query->find("error")) {
        return message_page(http::status::forbidden,
                            "The sign-in provider refused: " + utf8_prefix(*refused, 200) + ".");
    }
    std::string answer;
    PgError error;
    if (!call(deps.pool, "SELECT mcp.oauth_oidc_callback($1, $2, $3)::text",
              {query->get("state"), query->get("code"), deps.issuer + "/oidc/callback"}, answer, error)) {
        return message_page(error.kind == PgError::Kind::server ? http::status::forbidden
                                                                : http::status::service_unavailable,
                            error.kind == PgError::Kind::server
                                ? "Sign-in refused: " + error.message
                                : "The server cannot reach its database. Try again in a moment.");
    }
    return authorization_answer(answer);
}

Response post_token(OAuthDeps& deps, const Request& request) {
    const auto form = FormData::from_body(request);
    if (!form) {
        return oauth_error(http::status::bad_request, "invalid_request",
                           "send the parameters as application/x-www-form-urlencoded");
    }
    const auto params = fields_json(*form, token_params, std::size(token_params),
                                    basic_credentials(request));
    if (!params) {
        return oauth_error(http::status::bad_request, "invalid_request", "a parameter is too long");
    }
    std::string answer;
    PgError error;
    if (!call(deps.pool, "SELECT mcp.oauth_token($1::jsonb, $2)::text", {*params, deps.resource},
              answer, error)) {
        return failed_call(error);
    }
    return forward_answer(answer);
}

Response post_revoke(OAuthDeps& deps, const Request& request) {
    const auto form = FormData::from_body(request);
    if (!form) {
        return oauth_error(http::status::bad_request, "invalid_request",
                           "send the parameters as application/x-www-form-urlencoded");
    }
    std::string client_id = form->get("client_id");
    std::string client_secret = form->get("client_secret");
    for (const auto& [key, value] : basic_credentials(request)) {
        (key == "client_id" ? client_id : client_secret) = value;
    }
    const std::string token = form->get("token");
    if (token.size() > max_param_bytes || client_id.size() > max_param_bytes) {
        return oauth_error(http::status::bad_request, "invalid_request", "a parameter is too long");
    }
    std::string answer;
    PgError error;
    if (!call(deps.pool, "SELECT mcp.oauth_revoke($1, $2, nullif($3, ''))::text",
              {token, client_id, client_secret}, answer, error)) {
        return failed_call(error);
    }
    return forward_answer(answer);
}

Response post_register(OAuthDeps& deps, const Request& request) {
    // parse_json: an unauthenticated body, so its depth is bounded and its UTF-8 checked.
    std::optional<rapidjson::Document> body = parse_json(request.body());
    if (!body || !body->IsObject()) {
        return oauth_error(http::status::bad_request, "invalid_client_metadata",
                           "the body must be a JSON object of client metadata");
    }
    std::string answer;
    PgError error;
    if (!call(deps.pool, "SELECT mcp.oauth_register($1::jsonb)::text", {request.body()}, answer,
              error)) {
        return error.kind == PgError::Kind::server
                   ? oauth_error(http::status::bad_request, "invalid_client_metadata",
                                 "the client metadata could not be read")
                   : unavailable();
    }
    return forward_answer(answer);
}

Response metadata(OAuthDeps& deps, const char* sql, PgParams params) {
    std::string answer;
    PgError error;
    if (!call(deps.pool, sql, std::move(params), answer, error)) {
        return unavailable();
    }
    Response response = json_response(http::status::ok, std::move(answer));
    response.set(http::field::cache_control, "public, max-age=300");
    return response;
}

}  // namespace

void add_oauth_routes(Router& router, OAuthDeps& deps) {
    auto resource_metadata = [&deps](const Request&) {
        return metadata(deps, "SELECT mcp.oauth_resource_metadata($1, $2)::text",
                        {deps.resource, deps.issuer});
    };
    auto server_metadata = [&deps](const Request&) {
        return metadata(deps, "SELECT mcp.oauth_server_metadata($1)::text", {deps.issuer});
    };
    auto preflight = [](const Request&) {
        Response response{http::status::no_content, 11};
        return response;
    };
    const std::pair<const char*, Router::Handler> public_routes[] = {
        {"/.well-known/oauth-protected-resource", resource_metadata},
        {"/.well-known/oauth-protected-resource/mcp", resource_metadata},
        {"/.well-known/oauth-authorization-server", server_metadata},
        {"/.well-known/openid-configuration", server_metadata},
    };
    for (const auto& [path, handler] : public_routes) {
        router.add(http::verb::get, path, handler);
        router.add(http::verb::options, path, preflight);
    }
    router.add(http::verb::post, "/register",
               [&deps](const Request& request) { return post_register(deps, request); });
    router.add(http::verb::post, "/token",
               [&deps](const Request& request) { return post_token(deps, request); });
    router.add(http::verb::post, "/revoke",
               [&deps](const Request& request) { return post_revoke(deps, request); });
    for (const char* path : {"/register", "/token", "/revoke"}) {
        router.add(http::verb::options, path, preflight);
    }
    for (const char* prefix : {"/.well-known/o", "/register", "/token", "/revoke"}) {
        router.decorate(prefix, [](const Request&, Response& response) { allow_any_origin(response); });
    }
    router.add(http::verb::get, "/authorize",
               [&deps](const Request& request) { return get_authorize(deps, request); });
    router.add(http::verb::post, "/authorize",
               [&deps](const Request& request) { return post_authorize(deps, request); });
    router.add(http::verb::get, "/oidc/start",
               [&deps](const Request& request) { return get_oidc_start(deps, request); });
    router.add(http::verb::get, "/oidc/callback",
               [&deps](const Request& request) { return get_oidc_callback(deps, request); });
}

}  // namespace mcp::bridge
