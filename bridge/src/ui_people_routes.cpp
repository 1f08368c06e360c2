// Dashboard pages of the people who sign in (admins only): the list with the create form, and
// one person's page (role, password, disable and enable, lockout, groups, datasets granted to
// them, OAuth connections). Every read and write is one SQL function granted to mcp_admin
// only, so PostgreSQL refuses a reader whatever this file does. A password travels in a POST
// body to mcp.create_user / mcp.set_password and is never put back into a page.
#include "json.hpp"
#include "ui_pages.hpp"

namespace mcp::bridge {

namespace {

constexpr const char* roles[] = {"reader", "admin"};

// The person id of the route: a positive integer that fits the integer column.
std::optional<std::string> person_id(const RouteParams& params) {
    auto id = positive_id(params, "id");
    if (id && id->size() > 9) id.reset();
    return id;
}

View role_options(const std::string& current) {
    View list = view_list();
    for (const char* role : roles) {
        View option;
        option.set("value", role);
        option.set("selected", View(current == role));
        list.push_back(option);
    }
    return list;
}

View names_view(const std::vector<std::string>& names) {
    View list = view_list();
    for (const auto& name : names) list.push_back(View(name));
    return list;
}

// The state of a person's sign-in: disabled, locked (until when), failed attempts, fine.
void add_sign_in_state(View& view, const rapidjson::Value& person) {
    const bool disabled = bool_member(person, "disabled");
    const std::string locked = format_timestamp(text_member(person, "locked_until"));
    const auto failed = static_cast<long long>(number_member(person, "failed_sign_ins"));
    view.set("disabled", View(disabled));
    view.set("locked", text_or_false(locked));
    view.set("failed", failed > 0 ? View(format_count(failed)) : View(false));
    view.set("can_unlock", View(!locked.empty() || failed > 0));
    view.set("has_password", View(bool_member(person, "has_password")));
    const std::string last = format_timestamp(text_member(person, "last_sign_in_at"));
    view.set("last_sign_in", last.empty() ? std::string("never") : last);
}

View person_row(const rapidjson::Value& person) {
    View row;
    row.set("id", text_member(person, "id"));
    row.set("login", text_member(person, "login"));
    row.set("display_name", text_member(person, "display_name"));
    row.set("role", text_member(person, "role"));
    row.set("is_admin_role", View(text_member(person, "role") == "admin"));
    add_sign_in_state(row, person);
    const auto groups = strings_member(person, "groups");
    row.set("groups", names_view(groups));
    row.set("has_groups", View(!groups.empty()));
    row.set("datasets",
            format_count(static_cast<long long>(number_member(person, "datasets"))));
    row.set("logs_user", url_encode(text_member(person, "login")));
    return row;
}

Response people_page(UiPages& pages, UiRequest& request, http::status status = http::status::ok,
                     const UiError* failure = nullptr) {
    std::optional<Response> refusal;
    const auto document = pages.read_object(request, "SELECT mcp.ui_people_page()::text", {}, refusal);
    if (!document) return std::move(*refusal);
    View people = view_list();
    if (member(*document, "people").IsArray()) {
        for (const auto& person : member(*document, "people").GetArray()) {
            people.push_back(person_row(person));
        }
    }
    View groups = view_list();
    if (member(*document, "groups").IsArray()) {
        for (const auto& group : member(*document, "groups").GetArray()) {
            View row;
            row.set("name", text_member(group, "name"));
            row.set("members",
                    format_count(static_cast<long long>(number_member(group, "members"))));
            groups.push_back(row);
        }
    }
    // After a refused create the form keeps what was typed, except the password.
    const bool refused = request.http.method() == http::verb::post && failure;
    View form;
    form.set("login", refused ? request.form.get("login") : std::string());
    form.set("display_name", refused ? request.form.get("display_name") : std::string());
    form.set("roles", role_options(refused ? request.form.get("role", "reader") : "reader"));
    View view;
    view.set("people", people);
    view.set("has_people", View(!people.is_empty_list()));
    view.set("groups", groups);
    view.set("has_groups", View(!groups.is_empty_list()));
    view.set("form", form);
    view.set("error", failure ? error_view(*failure) : View(false));
    return pages.page(request, status, "people", "People", "people", std::move(view));
}

Response create_person(UiPages& pages, UiRequest& request) {
    std::optional<std::string> id;
    UiError error;
    // An empty password makes a person who signs in only through the OpenID provider.
    if (!pages.call(request, "SELECT mcp.create_user($1, $2, $3, nullif($4, ''))::text",
                    {request.form.get("login"), request.form.get("display_name"),
                     request.form.get("role", "reader"), request.form.get("password")},
                    true, id, error) ||
        !id) {
        return people_page(pages, request, error.status, &error);
    }
    return see_other("/ui/people/" + *id + "?notice=person_created");
}

// --- one person -----------------------------------------------------------------------------

View person_datasets_view(const rapidjson::Value& datasets) {
    View list = view_list();
    if (!datasets.IsArray()) return list;
    for (const auto& dataset : datasets.GetArray()) {
        View row;
        row.set("id", text_member(dataset, "id"));
        row.set("name", text_member(dataset, "name"));
        const std::string status = text_member(dataset, "status");
        row.set("status", status);
        row.set("status_label", status_label(status));
        row.set("direct", View(bool_member(dataset, "direct")));
        const auto via = strings_member(dataset, "via_groups");
        row.set("via_groups", names_view(via));
        row.set("has_via", View(!via.empty()));
        list.push_back(row);
    }
    return list;
}

Response person_page(UiPages& pages, UiRequest& request, const std::string& id,
                     http::status status = http::status::ok, const UiError* failure = nullptr) {
    std::optional<Response> refusal;
    const auto document =
        pages.read_object(request, "SELECT mcp.ui_person_page($1::integer)::text", {id}, refusal, "person");
    if (!document) return std::move(*refusal);
    const auto& person = member(*document, "person");
    View who;
    who.set("id", id);
    who.set("login", text_member(person, "login"));
    who.set("display_name", text_member(person, "display_name"));
    who.set("role", text_member(person, "role"));
    who.set("is_admin_role", View(text_member(person, "role") == "admin"));
    who.set("roles", role_options(text_member(person, "role")));
    add_sign_in_state(who, person);
    who.set("created", format_timestamp(text_member(person, "created_at")));
    who.set("created_by", text_member(person, "created_by"));
    who.set("logs_user", url_encode(text_member(person, "login")));
    View groups = view_list();
    for (const auto& name : strings_member(person, "groups")) {
        View group;
        group.set("name", name);
        groups.push_back(group);
    }
    who.set("groups", groups);
    who.set("has_groups", View(!groups.is_empty_list()));

    View datasets = person_datasets_view(member(*document, "datasets"));
    View grantable = view_list();
    if (member(*document, "grantable").IsArray()) {
        for (const auto& dataset : member(*document, "grantable").GetArray()) {
            View option;
            option.set("id", text_member(dataset, "id"));
            option.set("name", text_member(dataset, "name"));
            option.set("status_label", status_label(text_member(dataset, "status")));
            grantable.push_back(option);
        }
    }
    View oauth = view_list();
    if (member(*document, "oauth").IsArray()) {
        for (const auto& connection : member(*document, "oauth").GetArray()) {
            View row;
            row.set("client_id", text_member(connection, "client_id"));
            row.set("client_name", text_member(connection, "client_name"));
            row.set("active_tokens", format_count(static_cast<long long>(
                                         number_member(connection, "active_tokens"))));
            const std::string used = format_timestamp(text_member(connection, "last_used_at"));
            row.set("last_used", used.empty() ? std::string("never") : used);
            std::string scopes;
            for (const auto& scope : strings_member(connection, "scopes")) {
                scopes += (scopes.empty() ? "" : " ") + scope;
            }
            row.set("scopes", scopes);
            oauth.push_back(row);
        }
    }
    View events = view_list();
    if (member(*document, "events").IsArray()) {
        for (const auto& event : member(*document, "events").GetArray()) {
            View row;
            row.set("event", status_label(text_member(event, "event")));
            row.set("success", View(bool_member(event, "success")));
            row.set("detail", text_or_false(text_member(event, "detail")));
            row.set("when", format_timestamp(text_member(event, "created_at")));
            events.push_back(row);
        }
    }
    std::vector<std::string> all_groups;
    if (member(*document, "groups").IsArray()) {
        for (const auto& name : member(*document, "groups").GetArray()) {
            if (name.IsString()) all_groups.emplace_back(name.GetString(), name.GetStringLength());
        }
    }
    View view;
    view.set("person", who);
    view.set("datasets", datasets);
    view.set("has_datasets", View(!datasets.is_empty_list()));
    view.set("grantable", grantable);
    view.set("has_grantable", View(!grantable.is_empty_list()));
    view.set("all_groups", names_view(all_groups));
    view.set("oauth", oauth);
    view.set("has_oauth", View(!oauth.is_empty_list()));
    view.set("events", events);
    view.set("has_events", View(!events.is_empty_list()));
    view.set("error", failure ? error_view(*failure) : View(false));
    return pages.page(request, status, "person", text_member(person, "display_name"), "people",
                      std::move(view));
}

Response no_such_person(UiPages& pages, UiRequest& request) {
    return pages.error_page(request, ui_error(http::status::not_found, "There is no such person."));
}

// One action on the person of the route's id: `call` is an SQL expression over u.login (the
// person) and $2, $3 (from the form); the statement has no row when the id names nobody.
// `notice_if_false` is the notice when the function answers false (nothing to do).
Response person_action(UiPages& pages, UiRequest& request, const std::string& call,
                       PgParams extra, const char* notice, const char* notice_if_false = nullptr,
                       const std::string& anchor = {}) {
    const auto id = person_id(request.params);
    if (!id) {
        return no_such_person(pages, request);
    }
    PgParams params{*id};
    for (auto& value : extra) params.push_back(std::move(value));
    std::optional<std::string> answer;
    UiError error;
    if (!pages.call(request,
                    "SELECT (" + call + ")::text FROM mcp.users() u WHERE u.id = $1::integer",
                    std::move(params), true, answer, error)) {
        return person_page(pages, request, *id, error.status, &error);
    }
    if (!answer) {
        return no_such_person(pages, request);
    }
    const char* shown = (*answer == "false" && notice_if_false) ? notice_if_false : notice;
    return see_other("/ui/people/" + *id + "?notice=" + shown + anchor);
}

// A form value the page must have sent; a clear error on the person's page when it is empty.
bool required_field(UiPages& pages, UiRequest& request, const char* name, const char* message,
                    Response& refusal) {
    if (request.form.get(name).find_first_not_of(" \t\r\n") != std::string::npos) {
        return true;
    }
    const auto id = person_id(request.params);
    if (!id) {
        refusal = no_such_person(pages, request);
        return false;
    }
    const UiError error = ui_error(http::status::unprocessable_entity, message);
    refusal = person_page(pages, request, *id, error.status, &error);
    return false;
}

Response set_password(UiPages& pages, UiRequest& request) {
    if (request.form.get("remove") == "1") {
        // No password: the person signs in through the OpenID provider only.
        return person_action(pages, request, "mcp.set_password(u.login, NULL)", {},
                             "password_removed");
    }
    Response refusal;
    if (!required_field(pages, request, "password",
                        "Enter the new password (10 characters or more).", refusal)) {
        return refusal;
    }
    return person_action(pages, request, "mcp.set_password(u.login, $2)",
                         {request.form.get("password")}, "password_set");
}

Response add_to_group(UiPages& pages, UiRequest& request) {
    Response refusal;
    if (!required_field(pages, request, "group", "Enter the name of a group.", refusal)) {
        return refusal;
    }
    return person_action(pages, request, "mcp.add_group_member(btrim($2), u.login)",
                         {request.form.get("group")}, "group_added", "group_already",
                         "#groups");
}

Response grant_to_person(UiPages& pages, UiRequest& request) {
    const std::string dataset = request.form.get("dataset_id");
    if (dataset.empty() || dataset.size() > 9 ||
        dataset.find_first_not_of("0123456789") != std::string::npos) {
        const auto id = person_id(request.params);
        if (!id) return no_such_person(pages, request);
        const UiError error =
            ui_error(http::status::unprocessable_entity, "Choose a dataset to grant.");
        return person_page(pages, request, *id, error.status, &error);
    }
    return person_action(pages, request, "mcp.grant_dataset($2::integer, to_user => u.login)",
                         {dataset}, "grant_added", "grant_exists", "#datasets");
}

}  // namespace

void add_ui_people_routes(Router& router, UiPages& pages) {
    const auto action = [&router, &pages](const char* path, UiHandler handler) {
        router.add(http::verb::post, path, ui_action(pages, UiAccess::admin, std::move(handler)));
    };
    router.add(http::verb::get, "/ui/people",
               ui_page(pages, UiAccess::admin,
                       [&pages](UiRequest& request) { return people_page(pages, request); }));
    action("/ui/people",
           [&pages](UiRequest& request) { return create_person(pages, request); });
    router.add(http::verb::get, "/ui/people/{id}",
               ui_page(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   const auto id = person_id(request.params);
                   return id ? person_page(pages, request, *id) : no_such_person(pages, request);
               }));
    action("/ui/people/{id}/role", [&pages](UiRequest& request) {
        return person_action(pages, request, "mcp.set_user_role(u.login, $2)",
                             {request.form.get("role")}, "role_changed");
    });
    action("/ui/people/{id}/password",
           [&pages](UiRequest& request) { return set_password(pages, request); });
    action("/ui/people/{id}/disable", [&pages](UiRequest& request) {
        return person_action(pages, request, "mcp.disable_user(u.login)", {}, "person_disabled");
    });
    action("/ui/people/{id}/enable", [&pages](UiRequest& request) {
        return person_action(pages, request, "mcp.enable_user(u.login)", {}, "person_enabled");
    });
    action("/ui/people/{id}/unlock", [&pages](UiRequest& request) {
        return person_action(pages, request, "mcp.unlock_user(u.login)", {}, "person_unlocked",
                             "person_not_locked");
    });
    action("/ui/people/{id}/groups",
           [&pages](UiRequest& request) { return add_to_group(pages, request); });
    action("/ui/people/{id}/groups/remove", [&pages](UiRequest& request) {
        return person_action(pages, request, "mcp.remove_group_member($2, u.login)",
                             {request.form.get("group")}, "group_removed", "group_not_member",
                             "#groups");
    });
    action("/ui/people/{id}/datasets",
           [&pages](UiRequest& request) { return grant_to_person(pages, request); });
    action("/ui/people/{id}/datasets/revoke", [&pages](UiRequest& request) {
        return person_action(pages, request,
                             "mcp.revoke_dataset(nullif($2, '')::integer, from_user => u.login)",
                             {request.form.get("dataset_id")}, "grant_revoked", "grant_missing",
                             "#datasets");
    });
    action("/ui/people/{id}/oauth/revoke", [&pages](UiRequest& request) {
        return person_action(pages, request,
                             "mcp.revoke_oauth_access(u.login, nullif($2, '')) >= 0",
                             {request.form.get("client_id")}, "tokens_revoked");
    });
}

}  // namespace mcp::bridge
