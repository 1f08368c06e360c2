// Dashboard pages of the settings (house rules, dimension mappings) and the API keys.
#include "json.hpp"
#include "proxy_trust.hpp"
#include "ui_pages.hpp"

namespace mcp::bridge {

namespace {

bool setting_key_ok(const std::string& key) {
    return !key.empty() && key.size() <= 100 && key[0] >= 'a' && key[0] <= 'z' &&
           key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.") == std::string::npos;
}

// An id for HTML attributes: the setting key with dots made dashes (keys are [a-z0-9_.]).
std::string html_id(std::string key) {
    for (char& c : key) {
        if (c == '.') c = '-';
    }
    return key;
}

bool is_string_map(const rapidjson::Value& value) {
    if (!value.IsObject()) return false;
    for (const auto& entry : value.GetObject()) {
        if (!entry.value.IsString()) return false;
    }
    return true;
}

View setting_view(const rapidjson::Value& setting) {
    const std::string key = text_member(setting, "key");
    View view;
    view.set("key", key);
    view.set("id", html_id(key));
    view.set("description", text_member(setting, "description"));
    view.set("is_default", View(bool_member(setting, "is_default")));
    view.set("updated_by", text_member(setting, "updated_by"));
    view.set("updated", format_timestamp(text_member(setting, "updated_at")));
    const auto& value = member(setting, "value");
    view.set("text", value.IsString() ? std::string(value.GetString(), value.GetStringLength())
                                      : std::string());
    View entries = view_list();
    if (is_string_map(value)) {
        std::size_t index = 0;
        for (const auto& entry : value.GetObject()) {
            View row;
            row.set("index", std::to_string(index++));
            row.set("from", std::string(entry.name.GetString(), entry.name.GetStringLength()));
            row.set("to", std::string(entry.value.GetString(), entry.value.GetStringLength()));
            entries.push_back(row);
        }
    }
    view.set("entries", entries);
    view.set("json", to_json(value));
    return view;
}

// How long query logs and sessions are kept (mcp.log_retention_status()), for the settings page.
View retention_view(const rapidjson::Value& status) {
    if (!status.IsObject()) {
        return View(false);
    }
    const auto text = [&](const char* key) {
        const auto& value = member(status, key);
        return value.IsString() ? std::string(value.GetString()) : std::string();
    };
    const auto number = [&](const char* key) {
        const auto& value = member(status, key);
        return value.IsNumber() ? std::to_string(value.GetInt64()) : std::string("0");
    };
    View view;
    view.set("log_retention", text("log_retention"));
    view.set("session_retention", text("session_retention"));
    view.set("maintenance_interval", text("maintenance_interval"));
    view.set("archive", View(member(status, "archive").IsTrue()));
    view.set("partitions", number("partitions"));
    view.set("oldest_month", text("oldest_month").substr(0, 7));
    view.set("oldest_entry", text("oldest_entry").substr(0, 10));
    return view;
}

Response settings_page(UiPages& pages, UiRequest& request, http::status status = http::status::ok,
                       const UiError* failure = nullptr) {
    std::optional<std::string> json;
    UiError error;
    if (!pages.call(request,
                    "SELECT jsonb_build_object('settings', (SELECT coalesce(jsonb_agg(to_jsonb(s) "
                    "ORDER BY s.key), '[]') FROM mcp.settings() s), 'retention', "
                    "mcp.log_retention_status())::text",
                    {}, false, json, error)) {
        return pages.error_page(request, error);
    }
    const auto page_data = parse_json(json.value_or("{}"));
    const rapidjson::Value* document = nullptr;
    View retention(false);
    if (page_data && page_data->IsObject()) {
        document = &member(*page_data, "settings");
        retention = retention_view(member(*page_data, "retention"));
    }
    View rules = view_list();
    View mappings = view_list();
    View others = view_list();
    if (document && document->IsArray()) {
        for (const auto& setting : document->GetArray()) {
            const auto& value = member(setting, "value");
            if (value.IsString()) {
                rules.push_back(setting_view(setting));
            } else if (is_string_map(value)) {
                mappings.push_back(setting_view(setting));
            } else {
                others.push_back(setting_view(setting));
            }
        }
    }
    View view;
    view.set("rules", rules);
    view.set("mappings", mappings);
    view.set("others", others);
    view.set("has_others", View(!others.is_empty_list()));
    view.set("retention", retention);
    view.set("error", failure ? error_view(*failure) : View(false));
    return pages.page(request, status, "settings", "Settings", "settings", std::move(view));
}

// The new value from the form: a rule's text, a mapping's rows (an empty "maps to" drops the
// row), or JSON for any other kind of setting.
std::optional<std::string> setting_value(const FormData& form) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    const auto from = form.all("from");
    if (!from.empty()) {
        const auto to = form.all("to");
        writer.StartObject();
        for (std::size_t i = 0; i < from.size() && i < to.size(); ++i) {
            const auto key = split_lines(from[i]);
            const auto value = split_lines(to[i]);
            if (key.empty() || value.empty()) continue;
            write_string(writer, key.front());
            write_string(writer, value.front());
        }
        writer.EndObject();
        return std::string(buffer.GetString(), buffer.GetSize());
    }
    if (const auto json = form.find("json")) {
        return *json;  // PostgreSQL parses it (22P02 when it is not JSON)
    }
    if (const auto text = form.find("value")) {
        write_string(writer, join_lines(split_lines(*text)));
        return std::string(buffer.GetString(), buffer.GetSize());
    }
    return std::nullopt;
}

Response save_setting(UiPages& pages, UiRequest& request, bool reset) {
    const auto found = request.params.find("key");
    const std::string key = found == request.params.end() ? std::string() : found->second;
    if (!setting_key_ok(key)) {
        return pages.error_page(request,
                                ui_error(http::status::not_found, "There is no such setting."));
    }
    std::optional<std::string> ignored;
    UiError error;
    bool ok;
    if (reset) {
        ok = pages.call(request, "SELECT mcp.reset_setting($1)::text", {key}, true, ignored, error);
    } else {
        const auto value = setting_value(request.form);
        if (!value) {
            error = ui_error(http::status::bad_request, "The form had no value to save.");
            return settings_page(pages, request, error.status, &error);
        }
        ok = pages.call(request, "SELECT mcp.set_setting($1, $2::jsonb)::text", {key, *value}, true,
                        ignored, error);
    }
    if (!ok) {
        return settings_page(pages, request, error.status, &error);
    }
    return see_other(std::string("/ui/settings?notice=") +
                     (reset ? "setting_reset" : "setting_saved") + "#" + html_id(key));
}

// --- API keys -------------------------------------------------------------------------------

Response keys_page(UiPages& pages, UiRequest& request, http::status status = http::status::ok,
                   const UiError* failure = nullptr, View created = View(false)) {
    std::optional<std::string> json;
    UiError error;
    if (!pages.call(request,
                    "SELECT coalesce(jsonb_agg(to_jsonb(k) ORDER BY k.id), '[]')::text FROM "
                    "mcp.api_keys() k",
                    {}, false, json, error)) {
        return pages.error_page(request, error);
    }
    const auto document = parse_json(json.value_or("[]"));
    View keys = view_list();
    if (document && document->IsArray()) {
        for (const auto& key : document->GetArray()) {
            View row;
            const std::string state = text_member(key, "status");
            row.set("name", text_member(key, "name"));
            row.set("role", text_member(key, "role"));
            row.set("prefix", text_member(key, "key_prefix"));
            row.set("status", state);
            row.set("active", View(state == "active"));
            row.set("yours", View(static_cast<int>(number_member(key, "id")) ==
                                  request.session.identity.api_key_id));
            row.set("created", format_timestamp(text_member(key, "created_at")));
            const std::string used = format_timestamp(text_member(key, "last_used_at"));
            row.set("last_used", used.empty() ? std::string("never") : used);
            const std::string expires = format_timestamp(text_member(key, "expires_at"));
            row.set("expires", expires.empty() ? std::string("never") : expires);
            keys.push_back(row);
        }
    }
    View form;
    form.set("name", request.http.method() == http::verb::post && created.is_false()
                         ? request.form.get("name")
                         : "");
    const std::string role = request.form.get("role", "reader");
    form.set("reader", View(role != "admin"));
    form.set("admin", View(role == "admin"));
    View view;
    view.set("keys", keys);
    view.set("form", form);
    view.set("created", created);
    view.set("mcp_url", public_base_url(request.http) + "/mcp");
    view.set("error", failure ? error_view(*failure) : View(false));
    return pages.page(request, status, "keys", "API keys", "keys", std::move(view));
}

Response create_key(UiPages& pages, UiRequest& request) {
    std::optional<std::string> secret;
    UiError error;
    const std::string name = request.form.get("name");
    if (!pages.call(request, "SELECT mcp.create_api_key($1, $2, nullif($3, '')::date::timestamptz)",
                    {name, request.form.get("role"), request.form.get("expires")}, true, secret,
                    error) ||
        !secret) {
        return keys_page(pages, request, error.status, &error);
    }
    // Shown in this answer only: the database keeps a hash, and the page is never cached.
    View created;
    created.set("name", name);
    created.set("secret", *secret);
    return keys_page(pages, request, http::status::created, nullptr, created);
}

Response revoke_key(UiPages& pages, UiRequest& request) {
    std::optional<std::string> ignored;
    UiError error;
    if (!pages.call(request, "SELECT mcp.revoke_api_key($1)::text", {request.form.get("name")},
                    true, ignored, error)) {
        return keys_page(pages, request, error.status, &error);
    }
    return see_other("/ui/keys?notice=key_revoked");
}

}  // namespace

void add_ui_admin_routes(Router& router, UiPages& pages) {
    router.add(http::verb::get, "/ui/settings",
               ui_page(pages, UiAccess::reader,
                       [&pages](UiRequest& request) { return settings_page(pages, request); }));
    router.add(http::verb::post, "/ui/settings/{key}",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return save_setting(pages, request, false);
               }));
    router.add(http::verb::post, "/ui/settings/{key}/reset",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return save_setting(pages, request, true);
               }));
    router.add(http::verb::get, "/ui/keys",
               ui_page(pages, UiAccess::admin,
                       [&pages](UiRequest& request) { return keys_page(pages, request); }));
    router.add(http::verb::post, "/ui/keys",
               ui_action(pages, UiAccess::admin,
                         [&pages](UiRequest& request) { return create_key(pages, request); }));
    router.add(http::verb::post, "/ui/keys/revoke",
               ui_action(pages, UiAccess::admin,
                         [&pages](UiRequest& request) { return revoke_key(pages, request); }));
}

}  // namespace mcp::bridge
