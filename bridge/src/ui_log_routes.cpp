// Dashboard pages of the query log: the filtered list with its charts (auto-refreshing), one
// entry in detail, and the CSV export of what the filters select.
#include "json.hpp"
#include "ui_pages.hpp"

namespace mcp::bridge {

namespace {

constexpr int page_size = 50;
constexpr const char* ranges[][2] = {
    {"1h", "Last hour"}, {"24h", "Last 24 hours"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}};
constexpr const char* outcomes[][2] = {{"", "All"}, {"failed", "Failed"}, {"ok", "Succeeded"}};
constexpr const char* house_rules[][2] = {{"", "All"},
                                          {"any", "Any rule applied"},
                                          {"raw_rows", "Raw-row cap"},
                                          {"min_cells", "Small cells held back"},
                                          {"none", "No rule applied"}};

struct LogFilters {
    std::string client;
    std::string user;  // a person's login
    std::string range = "24h";
    std::string q;
    std::string outcome;
    std::string house_rule;
    bool auto_refresh = true;
    long skip = 0;
};

// The filters of the page's form. A first visit (no query at all) refreshes by itself; a
// submitted form says whether it should.
LogFilters read_filters(const FormData& form) {
    LogFilters filters;
    filters.client = form.get("client");
    filters.user = form.get("user").substr(0, 200);
    filters.q = form.get("q");
    const std::string range = form.get("range");
    for (const auto& known : ranges) {
        if (range == known[0]) filters.range = range;
    }
    const std::string outcome = form.get("outcome");
    if (outcome == "failed" || outcome == "ok") filters.outcome = outcome;
    const std::string rule = form.get("rule");
    for (const auto& known : house_rules) {
        if (rule == known[0]) filters.house_rule = rule;
    }
    filters.auto_refresh = form.fields().empty() || form.get("auto") == "1";
    const std::string skip = form.get("skip");
    if (!skip.empty() && skip.size() < 7 &&
        skip.find_first_not_of("0123456789") == std::string::npos) {
        filters.skip = std::stol(skip);
    }
    return filters;
}

// The filters as mcp.search_query_logs takes them.
std::string filters_json(const LogFilters& filters, bool paged) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    if (!filters.client.empty()) write_key_string(writer, "client", filters.client);
    if (!filters.user.empty()) write_key_string(writer, "user", filters.user);
    write_key_string(writer, "since", filters.range);
    if (!filters.q.empty()) write_key_string(writer, "q", filters.q);
    if (!filters.outcome.empty())
        write_key_string(writer, "success", filters.outcome == "ok" ? "true" : "false");
    if (!filters.house_rule.empty()) write_key_string(writer, "house_rule", filters.house_rule);
    if (paged) {
        writer.Key("skip");
        writer.Int64(filters.skip);
        writer.Key("limit");
        writer.Int(page_size);
    }
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

// The filters as a query string, for the export link, paging and the refresh request.
std::string filters_query(const LogFilters& filters, long skip) {
    std::string query = "range=" + url_encode(filters.range);
    if (!filters.client.empty()) query += "&client=" + url_encode(filters.client);
    if (!filters.user.empty()) query += "&user=" + url_encode(filters.user);
    if (!filters.q.empty()) query += "&q=" + url_encode(filters.q);
    if (!filters.outcome.empty()) query += "&outcome=" + url_encode(filters.outcome);
    if (!filters.house_rule.empty()) query += "&rule=" + url_encode(filters.house_rule);
    if (filters.auto_refresh) query += "&auto=1";
    if (skip > 0) query += "&skip=" + std::to_string(skip);
    return query;
}

// One line of a query, at most `limit` characters, for the table.
std::string one_line(const std::string& text, std::size_t limit) {
    std::string out;
    bool space = false;
    for (const char c : text) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
        if (out.size() >= limit) {
            // Cut at a character boundary, not inside a UTF-8 sequence.
            while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
                out.pop_back();
            if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
            return out + "…";
        }
    }
    return out;
}

std::string client_of(const rapidjson::Value& entry) {
    const std::string name = text_member(entry, "client_name");
    if (!name.empty()) return name;
    const std::string tool = text_member(entry, "tool_used");
    return "(" + (tool.empty() ? std::string("unknown") : tool) + ")";
}

View entry_row(const rapidjson::Value& entry) {
    View row;
    row.set("id", text_member(entry, "id"));
    row.set("time", format_timestamp(text_member(entry, "created_at")));
    row.set("client", client_of(entry));
    const std::string person = text_member(entry, "user_login");
    row.set("person", text_or_false(person));
    const std::string oauth_client = text_member(entry, "oauth_client_name");
    row.set("oauth_client", text_or_false(oauth_client));
    row.set("query", one_line(text_member(entry, "query_text"), 140));
    row.set("query_type", text_member(entry, "query_type"));
    row.set("rows", text_member(entry, "rows_returned"));
    row.set("ms", format_decimal(number_member(entry, "execution_time_ms"), 1));
    const bool failed = !bool_member(entry, "success");
    row.set("failed", View(failed));
    row.set("sqlstate", text_member(entry, "error_sqlstate"));
    row.set("error",
            failed ? View(one_line(text_member(entry, "error_message"), 160)) : View(false));
    row.set("cached", View(bool_member(entry, "was_cached")));
    const std::string rule = text_member(entry, "house_rule");
    row.set("house_rule", text_or_false(rule));
    return row;
}

std::string ms_text(const rapidjson::Value& totals, const char* name) {
    const auto& value = member(totals, name);
    return value.IsNumber() ? format_decimal(value.GetDouble(), 1) + " ms" : std::string("–");
}

// The choices of the filter form, the current ones selected.
void add_filter_options(View& view, const LogFilters& filters, const rapidjson::Value& names,
                        const rapidjson::Value& people) {
    View clients = view_list();
    bool listed = filters.client.empty();
    if (names.IsArray()) {
        for (const auto& name : names.GetArray()) {
            if (!name.IsString()) continue;
            View option;
            option.set("name", std::string(name.GetString(), name.GetStringLength()));
            option.set("selected", View(filters.client == name.GetString()));
            listed = listed || filters.client == name.GetString();
            clients.push_back(option);
        }
    }
    if (!listed) {  // a client from a link, with no call in the last 30 days
        View option;
        option.set("name", filters.client);
        option.set("selected", View(true));
        clients.push_back(option);
    }
    auto choices = [](const auto& table, const std::string& current) {
        View list = view_list();
        for (const auto& entry : table) {
            View option;
            option.set("value", entry[0]);
            option.set("label", entry[1]);
            option.set("selected", View(current == entry[0]));
            list.push_back(option);
        }
        return list;
    };
    // The people in the log, offered while typing a login in the person filter.
    View known_people = view_list();
    if (people.IsArray()) {
        for (const auto& person : people.GetArray()) {
            View option;
            option.set("login", text_member(person, "login"));
            option.set("display_name", text_member(person, "display_name"));
            known_people.push_back(option);
        }
    }
    view.set("people", known_people);
    view.set("clients", clients);
    view.set("ranges", choices(ranges, filters.range));
    view.set("outcomes", choices(outcomes, filters.outcome));
    view.set("house_rules", choices(house_rules, filters.house_rule));
    view.set("q", filters.q);
    view.set("user", filters.user);
    view.set("auto", View(filters.auto_refresh));
}

// The line above the charts, the charts' data, and the same data as a table.
void add_statistics(View& view, const rapidjson::Value& stats) {
    const auto& totals = member(stats, "totals");
    View summary;
    summary.set("calls", format_count(static_cast<long long>(number_member(totals, "calls"))));
    summary.set("failed", format_count(static_cast<long long>(number_member(totals, "failed"))));
    summary.set("p50", ms_text(totals, "p50_ms"));
    summary.set("p95", ms_text(totals, "p95_ms"));
    summary.set("p99", ms_text(totals, "p99_ms"));
    summary.set("updated", format_timestamp(text_member(stats, "until")));
    View per_client = view_list();
    if (member(stats, "clients").IsArray()) {
        for (const auto& client : member(stats, "clients").GetArray()) {
            View row;
            row.set("client", text_member(client, "client"));
            row.set("calls", format_count(static_cast<long long>(number_member(client, "calls"))));
            row.set("failed",
                    format_count(static_cast<long long>(number_member(client, "failed"))));
            per_client.push_back(row);
        }
    }
    view.set("summary", summary);
    view.set("per_client", per_client);
    view.set("has_per_client", View(!per_client.is_empty_list()));
    view.set("stats_json", to_json(stats));
}

// The page of entries and the links to its neighbours.
void add_entries(View& view, const LogFilters& filters, const rapidjson::Value& logs) {
    View items = view_list();
    if (member(logs, "items").IsArray()) {
        for (const auto& entry : member(logs, "items").GetArray())
            items.push_back(entry_row(entry));
    }
    const long total = static_cast<long>(number_member(logs, "total"));
    view.set("items", items);
    view.set("has_items", View(!items.is_empty_list()));
    view.set("total", format_count(total));
    view.set("first", format_count(total == 0 ? 0 : filters.skip + 1));
    view.set("last", format_count(std::min<long>(total, filters.skip + page_size)));
    const long newer = std::max<long>(0, filters.skip - page_size);
    view.set("newer", filters.skip > 0 ? View(filters_query(filters, newer)) : View(false));
    const long older = filters.skip + page_size;
    view.set("older", older < total ? View(filters_query(filters, older)) : View(false));
    view.set("query", filters_query(filters, filters.skip));
    view.set("export_query", filters_query(filters, 0));
}

Response logs_page(UiPages& pages, UiRequest& request) {
    const LogFilters filters = read_filters(request.form);
    std::optional<Response> refusal;
    const auto document = pages.read_object(request, "SELECT mcp.ui_logs_page($1::jsonb)::text",
                                            {filters_json(filters, true)}, refusal);
    if (!document) return std::move(*refusal);
    View view;
    add_filter_options(view, filters, member(*document, "clients"), member(*document, "people"));
    add_statistics(view, member(*document, "stats"));
    add_entries(view, filters, member(*document, "logs"));
    return pages.page(request, http::status::ok, "logs", "Query logs", "logs", std::move(view));
}

Response log_entry_page(UiPages& pages, UiRequest& request) {
    const auto id = positive_id(request.params, "id");
    if (!id) {
        return pages.error_page(request,
                                ui_error(http::status::not_found, "There is no such log entry."));
    }
    std::optional<Response> refusal;
    const auto document = pages.read_object(request, "SELECT mcp.query_log($1::bigint)::text", {*id}, refusal);
    if (!document) return std::move(*refusal);
    const auto& entry = *document;
    View view;
    view.set("entry", json_view(entry));
    view.set("time", format_timestamp(text_member(entry, "created_at")));
    view.set("client", client_of(entry));
    view.set("failed", View(!bool_member(entry, "success")));
    view.set("ms", format_decimal(number_member(entry, "execution_time_ms"), 3));
    view.set("size",
             format_count(static_cast<long long>(number_member(entry, "response_size_bytes"))));
    view.set("client_filter", url_encode(text_member(entry, "client_name")));
    return pages.page(request, http::status::ok, "log_entry", "Query " + *id, "logs",
                      std::move(view));
}

Response export_csv(UiPages& pages, UiRequest& request) {
    const LogFilters filters = read_filters(request.form);
    std::optional<std::string> csv;
    UiError error;
    if (!pages.call(request, "SELECT mcp.query_logs_csv($1::jsonb)", {filters_json(filters, false)},
                    false, csv, error)) {
        return pages.error_page(request, error);
    }
    Response response{http::status::ok, 11};
    response.set(http::field::content_type, "text/csv; charset=utf-8; header=present");
    response.set(http::field::content_disposition,
                 "attachment; filename=\"query-logs-" + filters.range + ".csv\"");
    response.body() = csv.value_or("");
    return response;
}

}  // namespace

void add_ui_log_routes(Router& router, UiPages& pages) {
    router.add(http::verb::get, "/ui/logs",
               ui_page(pages, UiAccess::reader,
                       [&pages](UiRequest& request) { return logs_page(pages, request); }));
    router.add(http::verb::get, "/ui/logs/export.csv",
               ui_page(pages, UiAccess::reader,
                       [&pages](UiRequest& request) { return export_csv(pages, request); }));
    router.add(http::verb::get, "/ui/logs/{id}",
               ui_page(pages, UiAccess::reader,
                       [&pages](UiRequest& request) { return log_entry_page(pages, request); }));
}

}  // namespace mcp::bridge
