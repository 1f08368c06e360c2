// Dashboard page of the OAuth clients (admins only): the list (how each was registered, its
// redirect URIs, use and active tokens), pre-registering a client (its secret shown once),
// disabling and enabling one, and revoking every token one holds. Each read and write is one
// SQL function granted to mcp_admin only.
#include "json.hpp"
#include "ui_pages.hpp"

namespace mcp::bridge {

namespace {

// The most a form may list; mcp.create_oauth_client refuses more than 20 with its own words.
constexpr std::size_t max_redirect_uris = 50;

// How a client came to be, in an admin's words. Registrations this bridge does not know yet
// are shown as they are named.
std::string registration_label(const std::string& registration) {
    if (registration == "admin") return "pre-registered";
    if (registration == "dynamic") return "dynamically registered";
    if (registration.find("metadata") != std::string::npos) return "metadata document";
    return registration;
}

View client_row(const rapidjson::Value& client) {
    View row;
    row.set("client_id", text_member(client, "client_id"));
    row.set("client_name", text_member(client, "client_name"));
    const std::string registration = text_member(client, "registration");
    row.set("registration", registration);
    row.set("kind", registration_label(registration));
    View uris = view_list();
    for (const auto& uri : strings_member(client, "redirect_uris")) uris.push_back(View(uri));
    row.set("redirect_uris", uris);
    row.set("confidential", View(bool_member(client, "confidential")));
    const bool disabled = bool_member(client, "disabled");
    row.set("disabled", View(disabled));
    row.set("software", text_member(client, "software"));
    row.set("created", format_timestamp(text_member(client, "created_at")));
    row.set("created_by", text_member(client, "created_by"));
    const std::string used = format_timestamp(text_member(client, "last_used_at"));
    row.set("last_used", used.empty() ? std::string("never") : used);
    row.set("people", format_count(static_cast<long long>(number_member(client, "people"))));
    const auto tokens = static_cast<long long>(number_member(client, "active_tokens"));
    row.set("active_tokens", format_count(tokens));
    row.set("has_tokens", View(tokens > 0));
    return row;
}

Response clients_page(UiPages& pages, UiRequest& request, http::status status = http::status::ok,
                      const UiError* failure = nullptr, View created = View(false)) {
    std::optional<Response> refusal;
    const auto document = pages.read_object(request, "SELECT mcp.ui_oauth_clients_page()::text", {}, refusal);
    if (!document) return std::move(*refusal);
    View clients = view_list();
    if (member(*document, "clients").IsArray()) {
        for (const auto& client : member(*document, "clients").GetArray()) {
            clients.push_back(client_row(client));
        }
    }
    // A refused form keeps what was typed; a created client starts a blank one.
    const bool refused = request.http.method() == http::verb::post && failure;
    View form;
    form.set("name", refused ? request.form.get("name") : std::string());
    form.set("redirect_uris", refused ? request.form.get("redirect_uris") : std::string());
    form.set("confidential", View(refused && request.form.get("confidential") == "1"));
    View view;
    view.set("clients", clients);
    view.set("has_clients", View(!clients.is_empty_list()));
    view.set("dynamic_registration", View(bool_member(*document, "dynamic_registration")));
    view.set("form", form);
    view.set("created", created);
    view.set("error", failure ? error_view(*failure) : View(false));
    return pages.page(request, status, "oauth_clients", "OAuth clients", "oauth_clients",
                      std::move(view));
}

Response create_client(UiPages& pages, UiRequest& request) {
    const std::string name = request.form.get("name");
    const auto uris = split_lines(request.form.get("redirect_uris"));
    if (uris.size() > max_redirect_uris) {
        const UiError error = ui_error(http::status::unprocessable_entity,
                                       "a client needs 1 to 20 redirect URIs");
        return clients_page(pages, request, error.status, &error);
    }
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartArray();
    for (const auto& uri : uris) write_string(writer, uri);
    writer.EndArray();
    std::optional<std::string> json;
    UiError error;
    if (!pages.call(request,
                    "SELECT to_jsonb(c)::text FROM mcp.create_oauth_client($1, "
                    "ARRAY(SELECT jsonb_array_elements_text($2::jsonb)), $3::boolean) c",
                    {name, std::string(buffer.GetString(), buffer.GetSize()),
                     request.form.get("confidential") == "1" ? "true" : "false"},
                    true, json, error) ||
        !json) {
        return clients_page(pages, request, error.status, &error);
    }
    const auto answer = parse_json(*json);
    if (!answer || !answer->IsObject()) {
        const UiError unexpected =
            ui_error(http::status::bad_gateway, "Unexpected answer from the database.");
        return clients_page(pages, request, unexpected.status, &unexpected);
    }
    // Shown in this answer only: the database keeps a hash of the secret; pages are no-store.
    View created;
    created.set("name", name);
    created.set("client_id", text_member(*answer, "client_id"));
    const std::string secret = text_member(*answer, "client_secret");
    created.set("secret", text_or_false(secret));
    return clients_page(pages, request, http::status::created, nullptr, created);
}

// Disable, enable, revoke tokens: one function of the client_id the form names.
Response client_action(UiPages& pages, UiRequest& request, const char* sql, const char* notice) {
    std::optional<std::string> ignored;
    UiError error;
    if (!pages.call(request, sql, {request.form.get("client_id")}, true, ignored, error)) {
        return clients_page(pages, request, error.status, &error);
    }
    return see_other(std::string("/ui/oauth-clients?notice=") + notice);
}

}  // namespace

void add_ui_oauth_client_routes(Router& router, UiPages& pages) {
    router.add(http::verb::get, "/ui/oauth-clients",
               ui_page(pages, UiAccess::admin,
                       [&pages](UiRequest& request) { return clients_page(pages, request); }));
    router.add(http::verb::post, "/ui/oauth-clients",
               ui_action(pages, UiAccess::admin,
                         [&pages](UiRequest& request) { return create_client(pages, request); }));
    router.add(http::verb::post, "/ui/oauth-clients/disable",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return client_action(pages, request,
                                        "SELECT mcp.disable_oauth_client($1)::text",
                                        "client_disabled");
               }));
    router.add(http::verb::post, "/ui/oauth-clients/enable",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return client_action(pages, request, "SELECT mcp.enable_oauth_client($1)::text",
                                        "client_enabled");
               }));
    router.add(http::verb::post, "/ui/oauth-clients/revoke-tokens",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return client_action(pages, request,
                                        "SELECT mcp.revoke_oauth_client_tokens($1)::text",
                                        "client_tokens_revoked");
               }));
}

}  // namespace mcp::bridge
