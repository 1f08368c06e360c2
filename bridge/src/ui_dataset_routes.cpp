// Dashboard pages of the dataset registry: the list, the add-dataset form with its connection
// test, one dataset's page (profile, progress, metadata review) and its actions.
#include <algorithm>
#include <set>

#include "json.hpp"
#include "ui_pages.hpp"
#include "ui_render.hpp"

namespace mcp::bridge {

namespace {

constexpr const char* statuses[] = {"draft",    "profiling", "metadata_pending",
                                    "approved", "active",    "inactive"};
constexpr const char* sources[] = {"postgres", "fabric", "custom"};
// The five-raw-rows rule: the profile function keeps at most five; so does the page.
constexpr std::size_t max_sample_rows = 5;

View dataset_view(const rapidjson::Value& dataset, const std::set<long long>& busy) {
    View view = json_view(dataset);
    const std::string status = text_member(dataset, "status");
    view.set("status_label", status_label(status));
    view.set("busy", View(busy.count(static_cast<long long>(number_member(dataset, "id"))) > 0));
    view.set("unhealthy", View(text_member(dataset, "health") == "unhealthy"));
    view.set("updated", format_timestamp(text_member(dataset, "updated_at")));
    view.set("approved", text_or_false(format_timestamp(text_member(dataset, "approved_at"))));
    view.set("last_profiled",
             text_or_false(format_timestamp(text_member(dataset, "last_profiled_at"))));
    const double rows = number_member(dataset, "estimated_row_count", -1);
    view.set("rows_text",
             rows < 0 ? View(false) : View(format_count(static_cast<long long>(rows))));
    return view;
}

// The datasets list: GET /ui/datasets?status=…
Response datasets_page(UiPages& pages, UiRequest& request) {
    const std::string wanted = request.form.get("status");
    std::optional<Response> refusal;
    const auto document =
        pages.read_object(request, "SELECT mcp.ui_datasets_page(nullif($1, ''))::text", {wanted}, refusal);
    if (!document) return std::move(*refusal);
    std::set<long long> busy;
    if (member(*document, "busy").IsArray()) {
        for (const auto& id : member(*document, "busy").GetArray()) {
            if (id.IsNumber()) busy.insert(id.GetInt64());
        }
    }
    View list = view_list();
    if (member(*document, "datasets").IsArray()) {
        for (const auto& dataset : member(*document, "datasets").GetArray()) {
            list.push_back(dataset_view(dataset, busy));
        }
    }
    const auto& counts = member(*document, "counts");
    long long total = 0;
    View options = view_list();
    for (const char* status : statuses) {
        const long long count = static_cast<long long>(number_member(counts, status));
        total += count;
        View option;
        option.set("value", status);
        option.set("label", status_label(status));
        option.set("count", format_count(count));
        option.set("selected", View(wanted == status));
        options.push_back(option);
    }
    View view;
    view.set("datasets", list);
    view.set("has_datasets", View(!list.is_empty_list()));
    view.set("statuses", options);
    view.set("total", format_count(total));
    view.set("filtered", View(!wanted.empty()));
    // While jobs run, the list follows them: htmx polls it, without JavaScript the page reloads.
    view.set("refresh_seconds", busy.empty() ? View(false) : View("5"));
    view.set("poll_url",
             busy.empty() ? View(false) : View("/ui/datasets?status=" + url_encode(wanted)));
    return pages.page(request, http::status::ok, "datasets", "Datasets", "datasets",
                      std::move(view));
}

// The add-dataset form, with what the user typed (never the connection string) and the
// outcome of a connection test or a failed registration.
Response new_dataset_page(UiPages& pages, UiRequest& request, http::status status,
                          const View& check, const View& error) {
    View form;
    form.set("name", request.form.get("name"));
    form.set("description", request.form.get("description"));
    const std::string source = request.form.get("data_source", "postgres");
    View options = view_list();
    for (const char* value : sources) {
        View option;
        option.set("value", value);
        option.set("selected", View(source == value));
        options.push_back(option);
    }
    View view;
    view.set("form", form);
    view.set("sources", options);
    view.set("check", check);
    view.set("error", error);
    view.set("was_posted", View(request.http.method() == http::verb::post));
    return pages.page(request, status, "dataset_new", "Add a dataset", "datasets", std::move(view));
}

Response check_connection(UiPages& pages, UiRequest& request) {
    const std::string connection = request.form.get("connection_string");
    if (connection.find_first_not_of(" \t\r\n") == std::string::npos) {
        View check;
        check.set("ok", false);
        check.set("error", "Enter a connection string to test.");
        return new_dataset_page(pages, request, http::status::unprocessable_entity, check,
                                View(false));
    }
    std::optional<std::string> json;
    UiError error;
    // The string travels as a bind parameter; the answer names user@host:port/db at most.
    if (!pages.call(request, "SELECT mcp.check_connection($1)::text", {connection}, true, json,
                    error)) {
        return new_dataset_page(pages, request, error.status, View(false), error_view(error));
    }
    const auto document = parse_json(json.value_or("{}"));
    View check = document ? json_view(*document) : View(false);
    if (document && document->IsObject()) {
        check.set("ok", View(bool_member(*document, "ok")));
    }
    return new_dataset_page(pages, request, http::status::ok, check, View(false));
}

Response register_dataset(UiPages& pages, UiRequest& request) {
    std::optional<std::string> id;
    UiError error;
    const bool ok = pages.call(request,
                               "SELECT mcp.register_dataset($1, $2, coalesce(nullif($3, ''), "
                               "'postgres'), nullif(btrim($4), ''))",
                               {request.form.get("name"), request.form.get("connection_string"),
                                request.form.get("data_source"), request.form.get("description")},
                               true, id, error);
    if (!ok || !id) {
        return new_dataset_page(pages, request,
                                ok ? http::status::internal_server_error : error.status,
                                View(false), error_view(error));
    }
    return see_other("/ui/datasets/" + *id + "?notice=registered");
}

// --- one dataset ----------------------------------------------------------------------------

View progress_view(const rapidjson::Value& progress) {
    View view;
    const bool busy = bool_member(progress, "busy");
    view.set("busy", View(busy));
    view.set("status", text_member(progress, "status"));
    View jobs = view_list();
    if (member(progress, "jobs").IsArray()) {
        for (const auto& job : member(progress, "jobs").GetArray()) {
            View item;
            const std::string kind = text_member(job, "kind");
            item.set("kind_label", kind == "profile"        ? "Profiling"
                                   : kind == "llm_metadata" ? "Writing metadata"
                                                            : kind);
            item.set("status", text_member(job, "status"));
            item.set("attempts", text_member(job, "attempts"));
            item.set("max_attempts", text_member(job, "max_attempts"));
            item.set("last_error", text_or_false(text_member(job, "last_error")));
            const double seconds = number_member(job, "seconds", -1);
            item.set("seconds", seconds < 0 ? View(false) : View(format_decimal(seconds, 1)));
            const auto& steps = member(job, "progress");
            std::string step = text_member(steps, "step");
            const double table = number_member(steps, "table");
            const double of = number_member(steps, "of");
            const std::string current = text_member(steps, "current");
            if (of > 0 && step != "finished") {
                step += " table " + format_count(static_cast<long long>(table)) + " of " +
                        format_count(static_cast<long long>(of));
                if (!current.empty()) step += " (" + current + ")";
                View bar;
                bar.set("value", format_count(static_cast<long long>(table)));
                bar.set("max", format_count(static_cast<long long>(of)));
                item.set("bar", bar);
            } else {
                item.set("bar", false);
            }
            item.set("step", text_or_false(step));
            item.set("when", format_timestamp(text_member(job, "created_at")));
            jobs.push_back(item);
        }
    }
    view.set("has_jobs", View(!jobs.is_empty_list()));
    view.set("jobs", jobs);
    return view;
}

View column_view(const rapidjson::Value& column) {
    View view;
    view.set("name", text_member(column, "name"));
    view.set("type", text_member(column, "type"));
    view.set("comment", text_or_false(text_member(column, "comment")));
    std::string roles;
    for (const auto& role : strings_member(column, "roles")) {
        roles += (roles.empty() ? "" : ", ") + role;
    }
    if (bool_member(column, "nullable") == false && column.IsObject() &&
        column.HasMember("nullable")) {
        roles += roles.empty() ? "not null" : ", not null";
    }
    view.set("roles", roles);
    const double null_fraction = number_member(column, "null_fraction", -1);
    view.set("nulls",
             null_fraction < 0 ? std::string() : format_decimal(null_fraction * 100, 1) + "%");
    const double distinct = number_member(column, "distinct_count", -1);
    view.set("distinct", distinct < 0 ? std::string()
                                      : (bool_member(column, "distinct_is_estimate") ? "≈" : "") +
                                            format_count(static_cast<long long>(distinct)));
    view.set("min", text_member(column, "min"));
    view.set("max", text_member(column, "max"));
    std::string top;
    if (member(column, "top_values").IsArray()) {
        for (const auto& entry : member(column, "top_values").GetArray()) {
            if (top.size() > 200) {
                top += ", …";
                break;
            }
            top += (top.empty() ? "" : ", ") + text_member(entry, "value") + " (" +
                   format_count(static_cast<long long>(number_member(entry, "count"))) + ")";
        }
    }
    view.set("top", top);
    return view;
}

View table_view(const rapidjson::Value& table) {
    View view;
    view.set("schema_name", text_member(table, "schema_name"));
    view.set("table_name", text_member(table, "table_name"));
    view.set("kind", text_member(table, "table_kind"));
    view.set("granularity", text_or_false(status_label(text_member(table, "granularity"))));
    const double rows = number_member(table, "row_count", -1);
    view.set("rows", rows < 0 ? std::string("?") : format_count(static_cast<long long>(rows)));
    view.set("estimate", View(bool_member(table, "row_count_is_estimate")));
    const auto& stats = member(table, "stats");
    view.set("comment", text_or_false(text_member(stats, "comment")));
    View columns = view_list();
    std::vector<std::string> names;
    if (member(table, "columns").IsArray()) {
        for (const auto& column : member(table, "columns").GetArray()) {
            columns.push_back(column_view(column));
            names.push_back(text_member(column, "name"));
        }
    }
    view.set("columns", columns);
    view.set("column_count", format_count(static_cast<long long>(names.size())));
    // Sample rows are JSON objects; cells follow the column order of the table.
    View rows_view = view_list();
    if (member(table, "sample").IsArray()) {
        std::size_t shown = 0;
        for (const auto& row : member(table, "sample").GetArray()) {
            if (shown++ >= max_sample_rows || !row.IsObject()) {
                break;
            }
            View cells = view_list();
            for (const auto& name : names) {
                const auto found = row.FindMember(name.c_str());
                const auto text = found == row.MemberEnd() ? std::nullopt : json_cell(found->value);
                View cell;
                cell.set("text", text.value_or("NULL"));
                cell.set("null", View(!text));
                cells.push_back(cell);
            }
            View row_view;
            row_view.set("cells", cells);
            rows_view.push_back(row_view);
        }
    }
    view.set("sample_rows", rows_view);
    view.set("has_sample", View(!rows_view.is_empty_list()));
    return view;
}

std::string json_text_of(const rapidjson::Value& value) {
    if (value.IsString()) {
        return std::string(value.GetString(), value.GetStringLength());
    }
    if (value.IsArray()) {
        std::vector<std::string> lines;
        for (const auto& item : value.GetArray()) {
            lines.push_back(json_cell(item).value_or(""));
        }
        return join_lines(lines);
    }
    return value.IsNull() ? std::string() : to_json(value);
}

// The reviewer's view of the difference between the generated metadata and the current one.
View metadata_diff_view(const rapidjson::Value& diff) {
    View list = view_list();
    if (!diff.IsObject()) {
        return list;
    }
    for (const auto& field : diff.GetObject()) {
        const std::string name(field.name.GetString(), field.name.GetStringLength());
        const auto generated = json_text_of(member(field.value, "generated"));
        const auto current = json_text_of(member(field.value, "current"));
        View item;
        item.set("field", status_label(name));
        if (name == "data_dictionary") {
            item.set("parts", false);
            item.set("summary", "The data dictionary differs from the generated one.");
        } else {
            item.set("parts", diff_view(word_diff(generated, current)));
            item.set("summary", false);
        }
        list.push_back(item);
    }
    return list;
}

View metadata_view(const rapidjson::Value& metadata) {
    View view;
    view.set("description", text_member(metadata, "description"));
    view.set("data_category", text_member(metadata, "data_category"));
    view.set("date_range_start", text_member(metadata, "date_range_start"));
    view.set("date_range_end", text_member(metadata, "date_range_end"));
    view.set("user_notes", text_member(metadata, "user_notes"));
    for (const char* list :
         {"recommended_use_cases", "quality_observations", "improvement_suggestions"}) {
        const auto items = strings_member(metadata, list);
        view.set(std::string(list) + "_text", join_lines(items));
        View entries = view_list();
        for (const auto& item : items) entries.push_back(View(item));
        view.set(list, entries);
    }
    std::vector<std::pair<std::string, std::string>> dictionary;
    if (member(metadata, "data_dictionary").IsObject()) {
        for (const auto& entry : member(metadata, "data_dictionary").GetObject()) {
            dictionary.emplace_back(
                std::string(entry.name.GetString(), entry.name.GetStringLength()),
                json_text_of(entry.value));
        }
    }
    std::sort(dictionary.begin(), dictionary.end());
    View entries = view_list();
    std::size_t index = 0;
    for (const auto& [key, meaning] : dictionary) {
        View entry;
        entry.set("index", std::to_string(index++));
        entry.set("key", key);
        entry.set("meaning", meaning);
        entries.push_back(entry);
    }
    view.set("dictionary", entries);
    view.set("dictionary_count", std::to_string(dictionary.size()));
    const std::string written_by = text_member(metadata, "written_by");
    const auto& llm = member(metadata, "llm");
    view.set("by_llm", View(written_by == "llm"));
    view.set("model", text_or_false(text_member(llm, "model")));
    view.set("prompt_tokens", text_or_false(text_member(llm, "prompt_tokens")));
    view.set("completion_tokens", text_or_false(text_member(llm, "completion_tokens")));
    view.set("llm_error", text_or_false(text_member(llm, "error")));
    view.set("raw_response", text_or_false(text_member(llm, "raw_response")));
    view.set("user_edited", View(bool_member(metadata, "user_edited")));
    view.set("updated", format_timestamp(text_member(metadata, "updated_at")));
    const View diff = metadata_diff_view(member(metadata, "diff"));
    view.set("has_diff", View(!diff.is_empty_list()));
    view.set("diff", diff);
    return view;
}

}  // namespace

Response render_dataset_page(UiPages& pages, UiRequest& request, const std::string& id,
                             http::status status, const UiError* failure) {
    std::optional<Response> refusal;
    const auto document =
        pages.read_object(request, "SELECT mcp.ui_dataset_page($1::integer)::text", {id}, refusal, "dataset");
    if (!document) return std::move(*refusal);
    const auto& dataset = member(*document, "dataset");
    const auto& progress = member(*document, "progress");
    const std::string state = text_member(dataset, "status");
    View view;
    view.set("dataset", dataset_view(dataset, {}));
    view.set("progress", progress_view(progress));
    View tables = view_list();
    if (member(*document, "profile").IsArray()) {
        for (const auto& table : member(*document, "profile").GetArray()) {
            tables.push_back(table_view(table));
        }
    }
    view.set("tables", tables);
    view.set("has_tables", View(!tables.is_empty_list()));
    const auto& metadata = member(*document, "metadata");
    view.set("metadata", metadata.IsObject() ? metadata_view(metadata) : View(false));
    view.set("can_approve", View(state == "metadata_pending" && metadata.IsObject()));
    view.set("can_deactivate", View(state != "inactive"));
    view.set("can_reprofile", View(!bool_member(progress, "busy")));
    view.set("refresh_seconds", bool_member(progress, "busy") ? View("3") : View(false));
    view.set("error", failure ? error_view(*failure) : View(false));
    // Who may use it: admins manage it here (and see every dataset without a grant).
    view.set("access", request.session.admin() ? dataset_access_view(pages, request, id)
                                               : View(false));
    return pages.page(request, status, "dataset", text_member(dataset, "name"), "datasets",
                      std::move(view));
}

namespace {

// The progress section alone, polled by htmx while jobs run; when they are done htmx reloads
// the whole page, which then shows the new profile and metadata.
Response progress_fragment(UiPages& pages, UiRequest& request, const std::string& id) {
    std::optional<std::string> json;
    UiError error;
    if (!pages.call(request, "SELECT mcp.ui_dataset_progress($1::integer)::text", {id}, false, json,
                    error)) {
        Response response = html_response(error.status, "");
        response.set("HX-Refresh", "true");
        return response;
    }
    const auto document = parse_json(json.value_or("{}"));
    const rapidjson::Value empty(rapidjson::kObjectType);
    const rapidjson::Value& progress =
        document ? static_cast<const rapidjson::Value&>(*document) : empty;
    View view;
    View dataset;
    dataset.set("id", id);
    view.set("dataset", dataset);
    view.set("progress", progress_view(progress));
    Response response =
        html_response(http::status::ok, render_template("dataset_progress", std::move(view)));
    if (!bool_member(progress, "busy")) {
        response.set("HX-Refresh", "true");
    }
    return response;
}

// Approve, deactivate, re-profile: one function each, then back to the page.
Response dataset_action(UiPages& pages, UiRequest& request, const std::string& sql, PgParams params,
                        const char* notice) {
    const auto id = positive_id(request.params, "id");
    if (!id) {
        return pages.error_page(request,
                                ui_error(http::status::not_found, "There is no such dataset."));
    }
    params.insert(params.begin(), *id);
    std::optional<std::string> ignored;
    UiError error;
    if (!pages.call(request, sql, std::move(params), true, ignored, error)) {
        return render_dataset_page(pages, request, *id, error.status, &error);
    }
    return see_other("/ui/datasets/" + *id + "?notice=" + notice);
}

// The metadata form as the JSON object mcp.ui_update_metadata takes: only the fields the form
// has; list fields one item per line; the data dictionary from its "dd:" fields.
std::string metadata_changes(const FormData& form) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    for (const char* field :
         {"description", "data_category", "date_range_start", "date_range_end", "user_notes"}) {
        const auto value = form.find(field);
        if (!value) continue;
        writer.Key(field);
        const auto lines = split_lines(*value);
        if (lines.empty()) {
            writer.Null();
        } else {
            // Text keeps its line breaks; only surrounding white space goes.
            const auto first = value->find_first_not_of(" \t\r\n");
            const auto last = value->find_last_not_of(" \t\r\n");
            write_string(writer, value->substr(first, last - first + 1));
        }
    }
    for (const char* field :
         {"recommended_use_cases", "quality_observations", "improvement_suggestions"}) {
        const auto value = form.find(field);
        if (!value) continue;
        writer.Key(field);
        writer.StartArray();
        for (const auto& line : split_lines(*value)) write_string(writer, line);
        writer.EndArray();
    }
    bool dictionary = false;
    for (const auto& [name, value] : form.fields()) {
        if (name.rfind("dd:", 0) != 0 || name.size() == 3) continue;
        if (!dictionary) {
            writer.Key("data_dictionary");
            writer.StartObject();
            dictionary = true;
        }
        write_string(writer, name.substr(3));
        const auto lines = split_lines(value);
        write_string(writer, join_lines(lines));
    }
    if (dictionary) writer.EndObject();
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

Response save_metadata(UiPages& pages, UiRequest& request) {
    const auto id = positive_id(request.params, "id");
    if (!id) {
        return pages.error_page(request,
                                ui_error(http::status::not_found, "There is no such dataset."));
    }
    std::optional<std::string> ignored;
    UiError error;
    if (!pages.call(request, "SELECT mcp.ui_update_metadata($1::integer, $2::jsonb)::text",
                    {*id, metadata_changes(request.form)}, true, ignored, error)) {
        return render_dataset_page(pages, request, *id, error.status, &error);
    }
    return see_other("/ui/datasets/" + *id + "?notice=metadata_saved#metadata");
}

}  // namespace

void add_ui_dataset_routes(Router& router, UiPages& pages) {
    router.add(http::verb::get, "/ui/datasets",
               ui_page(pages, UiAccess::reader,
                       [&pages](UiRequest& request) { return datasets_page(pages, request); }));
    router.add(http::verb::get, "/ui/datasets/new",
               ui_page(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return new_dataset_page(pages, request, http::status::ok, View(false),
                                           View(false));
               }));
    router.add(http::verb::post, "/ui/datasets/check",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return check_connection(pages, request);
               }));
    router.add(http::verb::post, "/ui/datasets",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return register_dataset(pages, request);
               }));
    router.add(http::verb::get, "/ui/datasets/{id}",
               ui_page(pages, UiAccess::reader, [&pages](UiRequest& request) {
                   const auto id = positive_id(request.params, "id");
                   if (!id) {
                       return pages.error_page(
                           request, ui_error(http::status::not_found, "There is no such dataset."));
                   }
                   return render_dataset_page(pages, request, *id);
               }));
    router.add(http::verb::get, "/ui/datasets/{id}/progress",
               ui_page(pages, UiAccess::reader, [&pages](UiRequest& request) {
                   const auto id = positive_id(request.params, "id");
                   if (!id) {
                       return pages.error_page(
                           request, ui_error(http::status::not_found, "There is no such dataset."));
                   }
                   return progress_fragment(pages, request, *id);
               }));
    router.add(http::verb::post, "/ui/datasets/{id}/approve",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   // The approver on record is the API key the browser signed in with.
                   return dataset_action(pages, request,
                                         "SELECT mcp.approve_dataset($1::integer, $2) IS NOT NULL",
                                         {request.session.identity.name}, "approved");
               }));
    router.add(http::verb::post, "/ui/datasets/{id}/deactivate",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return dataset_action(pages, request,
                                         "SELECT mcp.deactivate_dataset($1::integer) IS NOT NULL",
                                         {}, "deactivated");
               }));
    router.add(http::verb::post, "/ui/datasets/{id}/reprofile",
               ui_action(pages, UiAccess::admin, [&pages](UiRequest& request) {
                   return dataset_action(pages, request,
                                         "SELECT mcp.reprofile_dataset($1::integer)", {},
                                         "reprofiling");
               }));
    router.add(http::verb::post, "/ui/datasets/{id}/metadata",
               ui_action(pages, UiAccess::admin,
                         [&pages](UiRequest& request) { return save_metadata(pages, request); }));
}

}  // namespace mcp::bridge
