// "Who can use this dataset" on a dataset's page (admins only): its grants to people, groups
// and API keys, with the forms that add and revoke one (mcp.grant_dataset,
// mcp.revoke_dataset). The section's data is one call of mcp.ui_dataset_access, granted to
// mcp_admin only.
#include "json.hpp"
#include "ui_pages.hpp"

namespace mcp::bridge {

namespace {

// A grantee as the add and revoke forms send it: "user:<login>", "group:<name>" or
// "key:<API key name>". The three parameters of mcp.grant_dataset / revoke_dataset, one set.
struct Grantee {
    std::string user;
    std::string group;
    std::string api_key;
};

std::optional<Grantee> parse_grantee(const std::string& value) {
    const auto colon = value.find(':');
    if (colon == std::string::npos || colon + 1 >= value.size()) return std::nullopt;
    const std::string kind = value.substr(0, colon);
    const std::string name = value.substr(colon + 1);
    Grantee grantee;
    if (kind == "user") {
        grantee.user = name;
    } else if (kind == "group") {
        grantee.group = name;
    } else if (kind == "key") {
        grantee.api_key = name;
    } else {
        return std::nullopt;
    }
    return grantee;
}

View choice(const std::string& value, const std::string& label) {
    View option;
    option.set("value", value);
    option.set("label", label);
    return option;
}

Response grant_action(UiPages& pages, UiRequest& request, bool grant) {
    const auto id = positive_id(request.params, "id");
    if (!id || id->size() > 9) {
        return pages.error_page(request,
                                ui_error(http::status::not_found, "There is no such dataset."));
    }
    const auto grantee = parse_grantee(request.form.get("grantee"));
    if (!grantee) {
        const UiError error = ui_error(http::status::unprocessable_entity,
                                       "Choose a person, a group or an API key.");
        return render_dataset_page(pages, request, *id, error.status, &error);
    }
    const std::string sql =
        grant ? "SELECT mcp.grant_dataset($1::integer, to_user => nullif($2, ''), "
                "to_group => nullif($3, ''), to_api_key => nullif($4, ''))::text"
              : "SELECT mcp.revoke_dataset($1::integer, from_user => nullif($2, ''), "
                "from_group => nullif($3, ''), from_api_key => nullif($4, ''))::text";
    std::optional<std::string> answer;
    UiError error;
    if (!pages.call(request, sql, {*id, grantee->user, grantee->group, grantee->api_key}, true,
                    answer, error)) {
        return render_dataset_page(pages, request, *id, error.status, &error);
    }
    const bool changed = answer && *answer == "true";
    const char* notice = grant ? (changed ? "grant_added" : "grant_exists")
                               : (changed ? "grant_revoked" : "grant_missing");
    return see_other("/ui/datasets/" + *id + "?notice=" + notice + "#access");
}

}  // namespace

View dataset_access_view(UiPages& pages, const UiRequest& request, const std::string& id) {
    std::optional<std::string> json;
    UiError error;
    if (!pages.call(request, "SELECT mcp.ui_dataset_access($1::integer)::text", {id}, false, json,
                    error)) {
        View failed;
        failed.set("failed", error_view(error));
        return failed;
    }
    const auto document = parse_json(json.value_or("{}"));
    if (!document || !document->IsObject()) {
        return View(false);
    }
    View grants = view_list();
    if (member(*document, "grants").IsArray()) {
        for (const auto& grant : member(*document, "grants").GetArray()) {
            const std::string kind = text_member(grant, "kind");
            const std::string grantee = text_member(grant, "grantee");
            View row;
            row.set("kind_label", kind == "user" ? "person" : kind == "group" ? "group" : "API key");
            row.set("grantee", grantee);
            row.set("value", (kind == "user" ? "user:" : kind == "group" ? "group:" : "key:") +
                                 grantee);
            row.set("person_id", kind == "user" ? View(text_member(grant, "person_id"))
                                                : View(false));
            row.set("display_name", kind == "user" && !text_member(grant, "display_name").empty()
                                        ? View(text_member(grant, "display_name"))
                                        : View(false));
            row.set("members", kind == "group" ? View(format_count(static_cast<long long>(
                                                     number_member(grant, "members"))))
                                               : View(false));
            row.set("inactive", View(bool_member(grant, "inactive")));
            row.set("granted_by", text_member(grant, "granted_by"));
            row.set("granted", format_timestamp(text_member(grant, "granted_at")));
            grants.push_back(row);
        }
    }
    View people = view_list();
    if (member(*document, "people").IsArray()) {
        for (const auto& person : member(*document, "people").GetArray()) {
            std::string label = text_member(person, "display_name") + " (" +
                                text_member(person, "login") + ")";
            if (text_member(person, "role") == "admin") label += " · admin, sees all anyway";
            if (bool_member(person, "disabled")) label += " · disabled";
            people.push_back(choice("user:" + text_member(person, "login"), label));
        }
    }
    View groups = view_list();
    for (const auto& name : strings_member(*document, "groups")) {
        groups.push_back(choice("group:" + name, name));
    }
    View keys = view_list();
    if (member(*document, "api_keys").IsArray()) {
        for (const auto& key : member(*document, "api_keys").GetArray()) {
            std::string label = text_member(key, "name");
            if (text_member(key, "role") == "admin") label += " · admin, sees all anyway";
            keys.push_back(choice("key:" + text_member(key, "name"), label));
        }
    }
    View view;
    view.set("failed", false);
    view.set("grants", grants);
    view.set("has_grants", View(!grants.is_empty_list()));
    view.set("people", people);
    view.set("has_people", View(!people.is_empty_list()));
    view.set("groups", groups);
    view.set("has_groups", View(!groups.is_empty_list()));
    view.set("keys", keys);
    view.set("has_keys", View(!keys.is_empty_list()));
    view.set("keys_need_grants", View(bool_member(*document, "api_keys_need_grants")));
    return view;
}

void add_ui_grant_routes(Router& router, UiPages& pages) {
    router.add(http::verb::post, "/ui/datasets/{id}/grants",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return grant_action(pages, request, true);
               }));
    router.add(http::verb::post, "/ui/datasets/{id}/grants/revoke",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return grant_action(pages, request, false);
               }));
}

}  // namespace mcp::bridge
