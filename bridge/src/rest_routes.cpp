#include "rest_routes.hpp"

#include "http_headers.hpp"

#include <algorithm>
#include <cctype>

#include "auth.hpp"
#include "cors.hpp"
#include "json.hpp"
#include "metrics.hpp"
#include "openapi.hpp"
#include "pg_pool.hpp"
#include "responses.hpp"
#include "url.hpp"

namespace mcp::bridge {

namespace {

struct RestCall {
    std::string sql;
    PgParams params;
    http::status success = http::status::ok;
    bool retry = true;  // reads; writes are not repeated on a broken connection
};

Reply error_reply(http::status status, std::string_view message) {
    return Reply{json_error(status, message), nullptr, {}};
}

Response pg_error_response(const PgError& error) {
    switch (error.kind) {
        case PgError::Kind::server:
            break;
        case PgError::Kind::timeout:
            return json_error(http::status::gateway_timeout, "the database call took too long");
        case PgError::Kind::busy:
            return json_error(http::status::service_unavailable,
                              "every database connection is in use; try again shortly");
        default:
            return json_error(http::status::service_unavailable,
                              "the metadata database is not reachable; try again shortly");
    }
    const http::status status = status_for_sqlstate(error.sqlstate);
    if (status == http::status::internal_server_error) {
        return json_error(status, "internal error");  // not our message: not for clients
    }
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "error", error.message);
    if (!error.detail.empty()) {
        write_key_string(writer, "detail", error.detail);
    }
    if (!error.hint.empty()) {
        write_key_string(writer, "hint", error.hint);
    }
    write_key_string(writer, "sqlstate", error.sqlstate);
    writer.EndObject();
    return json_response(status, std::string(buffer.GetString(), buffer.GetSize()));
}

// Everything a protected route needs before its call: an allowed origin and a valid key.
template <typename Handler>
Router::ReplyHandler protected_route(const RestDeps& deps, Handler handler) {
    return [&deps, handler](const Request& request, const RouteParams& params) -> Reply {
        if (!deps.origins.allows(request)) {
            return error_reply(http::status::forbidden, "this Origin is not allowed");
        }
        const AuthResult auth = deps.auth.authenticate(request);
        if (auth.status != AuthStatus::ok) {
            if (auth.status != AuthStatus::unavailable) {
                deps.metrics.auth_failure();
            }
            return Reply{auth_failure_response(auth, false, deps.auth.resource_metadata_url()), nullptr, {}};
        }
        Reply reply = handler(request, params, auth.identity);
        reply.log.api_key_id = auth.identity.api_key_id;
        return reply;
    };
}

Reply run(const RestDeps& deps, const Identity& identity, RestCall call) {
    PgQuery query;
    query.sql = std::move(call.sql);
    query.params = std::move(call.params);
    query.role = db_role_for(identity.role);
    query.caller = identity.api_key_id;
    query.retry_on_broken_connection = call.retry;
    PgRows rows;
    PgError error;
    if (!deps.pool.run(query, rows, error)) {
        return Reply{pg_error_response(error), nullptr, {}};
    }
    if (rows.rows.empty() || rows.rows[0].empty() || !rows.rows[0][0]) {
        return error_reply(http::status::not_found, "not found");
    }
    return Reply{json_response(call.success, std::move(*rows.rows[0][0])), nullptr, {}};
}

// Ids in paths are positive integers; anything else names nothing.
std::optional<std::string> dataset_id(const RouteParams& params) {
    const auto found = params.find("id");
    if (found == params.end()) {
        return std::nullopt;
    }
    const std::string& id = found->second;
    if (id.empty() || id.size() > 9 || id.find_first_not_of("0123456789") != std::string::npos ||
        id.find_first_not_of('0') == std::string::npos) {
        return std::nullopt;
    }
    return id;
}

bool json_content_type(const Request& request) {
    return starts_with(content_type(request), "application/json");
}

// The body as a JSON object, or the reason it is not one.
std::optional<Reply> object_body_problem(const Request& request) {
    if (!json_content_type(request)) {
        return error_reply(http::status::unsupported_media_type,
                           "send the body as JSON with Content-Type: application/json");
    }
    const auto parsed = parse_json(request.body());
    if (!parsed || !parsed->IsObject()) {
        return error_reply(http::status::bad_request, "the body must be a JSON object");
    }
    return std::nullopt;
}

std::optional<std::string> non_negative(const std::map<std::string, std::string>& query,
                                        const char* name, bool& bad) {
    const auto found = query.find(name);
    if (found == query.end() || found->second.empty()) {
        return std::nullopt;
    }
    const std::string& value = found->second;
    if (value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos) {
        bad = true;
        return std::nullopt;
    }
    return value;
}

Reply list_datasets(const RestDeps& deps, const Request& request, const Identity& identity) {
    const auto query = parse_query(request.target());
    if (!query) {
        return error_reply(http::status::bad_request, "malformed query string");
    }
    bool bad = false;
    const auto skip = non_negative(*query, "skip", bad);
    const auto limit = non_negative(*query, "limit", bad);
    if (bad) {
        return error_reply(http::status::bad_request, "skip and limit are non-negative integers");
    }
    std::optional<std::string> status;
    if (const auto found = query->find("status"); found != query->end() && !found->second.empty()) {
        status = found->second;
    }
    return run(deps, identity,
               {"SELECT mcp.api_datasets($1, coalesce($2::integer, 0), coalesce($3::integer, 100))::text",
                {status, skip, limit}});
}

Reply search_logs(const RestDeps& deps, const Request& request, const Identity& identity) {
    const auto query = parse_query(request.target());
    if (!query) {
        return error_reply(http::status::bad_request, "malformed query string");
    }
    // Filters travel as one JSON object; the SQL function names what it does not know.
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    for (const auto& [name, value] : *query) {
        if (!value.empty()) {
            write_key_string(writer, name.c_str(), value);
        }
    }
    writer.EndObject();
    return run(deps, identity,
               {"SELECT mcp.search_query_logs($1::jsonb)::text",
                {std::string(buffer.GetString(), buffer.GetSize())}});
}

}  // namespace

http::status status_for_sqlstate(const std::string& sqlstate) {
    if (sqlstate == "P0002" || sqlstate == "02000") {
        return http::status::not_found;
    }
    if (sqlstate == "42501") {
        return http::status::forbidden;
    }
    if (sqlstate == "23505" || sqlstate == "55000" || sqlstate == "55006") {
        return http::status::conflict;
    }
    if (sqlstate == "57014") {
        return http::status::gateway_timeout;
    }
    if (sqlstate == "42883") {
        return http::status::not_implemented;  // a part of the product not installed
    }
    const std::string cls = sqlstate.substr(0, 2);
    // Bad values, constraint breaks, unknown objects, and a dataset that refused us at
    // registration (connection, authorization, missing database): the caller can fix them.
    if (cls == "22" || cls == "23" || cls == "08" || cls == "28" || cls == "3D" ||
        sqlstate == "42704" || sqlstate == "P0001") {
        return http::status::bad_request;
    }
    return http::status::internal_server_error;
}

void add_rest_routes(Router& router, const RestDeps& deps) {
    router.add(http::verb::get, "/api/openapi.json", [](const Request&) {
        return json_response(http::status::ok, std::string(openapi_document()));
    });
    router.add(http::verb::post, "/api/datasets",
               protected_route(deps, [&deps](const Request& request, const RouteParams&,
                                             const Identity& identity) {
                   if (auto problem = object_body_problem(request)) {
                       return std::move(*problem);
                   }
                   return run(deps, identity,
                              {"SELECT mcp.api_register_dataset($1::jsonb)::text",
                               {request.body()}, http::status::created, false});
               }));
    router.add(http::verb::get, "/api/datasets",
               protected_route(deps, [&deps](const Request& request, const RouteParams&,
                                             const Identity& identity) {
                   return list_datasets(deps, request, identity);
               }));
    router.add(http::verb::get, "/api/datasets/{id}",
               protected_route(deps, [&deps](const Request&, const RouteParams& params,
                                             const Identity& identity) {
                   const auto id = dataset_id(params);
                   if (!id) {
                       return error_reply(http::status::not_found, "not found");
                   }
                   return run(deps, identity, {"SELECT mcp.api_dataset($1::integer)::text", {*id}});
               }));
    router.add(http::verb::patch, "/api/datasets/{id}/approve",
               protected_route(deps, [&deps](const Request&, const RouteParams& params,
                                             const Identity& identity) {
                   const auto id = dataset_id(params);
                   if (!id) {
                       return error_reply(http::status::not_found, "not found");
                   }
                   // The approver on record is the API key's name.
                   return run(deps, identity,
                              {"SELECT mcp.api_approve_dataset($1::integer, $2)::text",
                               {*id, identity.name}, http::status::ok, false});
               }));
    router.add(http::verb::get, "/api/datasets/{id}/metadata",
               protected_route(deps, [&deps](const Request&, const RouteParams& params,
                                             const Identity& identity) {
                   const auto id = dataset_id(params);
                   if (!id) {
                       return error_reply(http::status::not_found, "not found");
                   }
                   return run(deps, identity,
                              {"SELECT mcp.api_dataset_metadata($1::integer)::text", {*id}});
               }));
    router.add(http::verb::patch, "/api/datasets/{id}/metadata",
               protected_route(deps, [&deps](const Request& request, const RouteParams& params,
                                             const Identity& identity) {
                   const auto id = dataset_id(params);
                   if (!id) {
                       return error_reply(http::status::not_found, "not found");
                   }
                   if (auto problem = object_body_problem(request)) {
                       return std::move(*problem);
                   }
                   return run(deps, identity,
                              {"SELECT mcp.api_update_dataset_metadata($1::integer, $2::jsonb)::text",
                               {*id, request.body()}, http::status::ok, false});
               }));
    router.add(http::verb::get, "/api/logs",
               protected_route(deps, [&deps](const Request& request, const RouteParams&,
                                             const Identity& identity) {
                   return search_logs(deps, request, identity);
               }));
    for (const char* path : {"/api/openapi.json", "/api/datasets", "/api/datasets/{id}",
                             "/api/datasets/{id}/approve", "/api/datasets/{id}/metadata",
                             "/api/logs"}) {
        router.add(http::verb::options, path, [&deps](const Request& request) {
            return deps.origins.preflight(request);
        });
    }
    router.decorate("/api/", [&deps](const Request& request, Response& response) {
        deps.origins.decorate(request, response);
    });
}

}  // namespace mcp::bridge
