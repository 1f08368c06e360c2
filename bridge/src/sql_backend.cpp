#include "sql_backend.hpp"

#include "json.hpp"
#include "logger.hpp"
#include "metrics.hpp"
#include "pg_pool.hpp"
#include "unreached_calls.hpp"

namespace mcp::bridge {

namespace {

using Clock = std::chrono::steady_clock;

// A safety net for changes that send no NOTIFY (an edited setting): catalogs are refetched
// at least this often.
constexpr auto catalog_ttl = std::chrono::seconds(60);

// How long a verified session is trusted without asking the database again. Short: a session
// closed through another bridge is announced by NOTIFY, and this bounds the worst case.
constexpr auto session_cache_ttl = std::chrono::milliseconds(2'000);
constexpr std::size_t max_cached_sessions = 10'000;

constexpr const char* tools_sql =
    "SELECT coalesce(jsonb_agg(jsonb_build_object('name', t.name, 'title', t.title, "
    "'description', t.description, 'inputSchema', t.input_schema, 'annotations', t.annotations)"
    " || CASE WHEN i.icons IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('icons', i.icons) END"
    " || CASE WHEN t.output_schema IS NULL THEN '{}'::jsonb"
    " ELSE jsonb_build_object('outputSchema', t.output_schema) END ORDER BY t.n), '[]')::text"
    " FROM mcp.mcp_tools() WITH ORDINALITY AS t(name, title, description, input_schema,"
    " output_schema, annotations, n)"
    " LEFT JOIN mcp.mcp_icons() i ON i.kind = 'tool' AND i.key = t.name";

constexpr const char* resources_sql =
    "SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('uri', r.uri, 'name', r.name,"
    " 'title', r.title, 'description', r.description, 'mimeType', r.mime_type, 'icons', i.icons))"
    " ORDER BY r.n), '[]')::text FROM mcp.mcp_resources() WITH ORDINALITY AS r(uri, name, title,"
    " description, mime_type, n)"
    " LEFT JOIN mcp.mcp_icons() i ON i.kind = 'resource' AND i.key = r.uri";

constexpr const char* templates_sql =
    "SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('uriTemplate', r.uri_template,"
    " 'name', r.name, 'title', r.title, 'description', r.description, 'mimeType', r.mime_type,"
    " 'icons', i.icons)) ORDER BY r.n), '[]')::text FROM mcp.mcp_resource_templates()"
    " WITH ORDINALITY AS r(uri_template, name, title, description, mime_type, n)"
    " LEFT JOIN mcp.mcp_icons() i ON i.kind = 'resource_template' AND i.key = r.uri_template";

constexpr const char* prompts_sql =
    "SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.name, 'title', p.title,"
    " 'description', p.description, 'arguments', p.arguments)"
    " || CASE WHEN i.icons IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('icons', i.icons) END"
    " ORDER BY p.n), '[]')::text"
    " FROM mcp.mcp_prompts() WITH ORDINALITY AS p(name, title, description, arguments, n)"
    " LEFT JOIN mcp.mcp_icons() i ON i.kind = 'prompt' AND i.key = p.name";

BackendError from_pg(const PgError& error) {
    BackendError out;
    switch (error.kind) {
        case PgError::Kind::none:
            break;
        case PgError::Kind::cancelled:
            out.kind = BackendError::Kind::cancelled;
            break;
        case PgError::Kind::timeout:
            out.kind = BackendError::Kind::timeout;
            break;
        case PgError::Kind::connection:
        case PgError::Kind::unavailable:
            out.kind = BackendError::Kind::unavailable;
            break;
        case PgError::Kind::busy:
            out.kind = BackendError::Kind::busy;
            break;
        case PgError::Kind::server:
            if (error.sqlstate == "57014") {
                out.kind = BackendError::Kind::timeout;  // statement_timeout
            } else if (error.sqlstate == "42883") {
                out.kind = BackendError::Kind::unknown_name;
            } else if (error.sqlstate == "42704") {
                out.kind = BackendError::Kind::not_found;
            } else if (error.sqlstate.rfind("22", 0) == 0) {
                out.kind = BackendError::Kind::invalid_params;
            } else {
                out.kind = BackendError::Kind::internal;
            }
            // Our functions write their messages for the caller; internal ones are not shown.
            out.message = error.message;
            break;
    }
    return out;
}

std::string bool_text(bool value) { return value ? "true" : "false"; }

}  // namespace

SqlBackend::SqlBackend(PgPool& pool, Logger& logger, std::chrono::seconds session_idle_timeout,
                       UnreachedCalls* unreached)
    : pool_(pool),
      logger_(logger),
      unreached_(unreached),
      idle_timeout_(std::to_string(session_idle_timeout.count()) + " seconds"),
      session_cache_ttl_(std::min<std::chrono::milliseconds>(
          session_cache_ttl, std::chrono::duration_cast<std::chrono::milliseconds>(session_idle_timeout) / 2)) {}

void SqlBackend::watch_sessions(std::function<bool()> watching) {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    watching_ = std::move(watching);
    sessions_.clear();
    ++sessions_generation_;
}

void SqlBackend::forget_sessions() {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    sessions_.clear();
    ++sessions_generation_;
}

void SqlBackend::forget_session(std::string_view session_id) {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    sessions_.erase(std::string(session_id));
    ++sessions_generation_;
}

bool SqlBackend::cached_session(std::string_view session_id, const Identity& identity,
                                SessionRecord& out, std::uint64_t& generation) {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    generation = sessions_generation_;
    if (!watching_ || !watching_()) {
        sessions_.clear();
        return false;
    }
    const auto found = sessions_.find(std::string(session_id));
    if (found == sessions_.end()) {
        return false;
    }
    if (found->second.expires <= Clock::now()) {
        sessions_.erase(found);
        return false;
    }
    // Another key presenting this id is asked about in the database, as before.
    if (found->second.api_key_id != identity.api_key_id) {
        return false;
    }
    out = found->second.record;
    return true;
}

std::string SqlBackend::context_json(const CallerContext& caller) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    auto optional_string = [&](const char* key, const std::string& value) {
        if (!value.empty()) {
            write_key_string(writer, key, value);
        }
    };
    optional_string("client_name", caller.client_name);
    optional_string("client_version", caller.client_version);
    optional_string("user_agent", caller.user_agent);
    optional_string("session_id", caller.session_id);
    optional_string("traceparent", caller.traceparent);
    if (caller.identity.api_key_id > 0) {
        writer.Key("api_key_id");
        writer.Int(caller.identity.api_key_id);
    }
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

void SqlBackend::invalidate() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    for (auto& entries : cache_) {
        entries.clear();
    }
}

BackendResult SqlBackend::single_json(const char* what, const std::string& sql, PgParams params,
                                      const CallerContext& caller, bool retry,
                                      CancelToken* cancel) {
    PgQuery query;
    query.sql = sql;
    query.params = std::move(params);
    query.role = db_role_for(caller.identity.role);
    query.caller = caller.identity.api_key_id;
    query.retry_on_broken_connection = retry;
    PgRows rows;
    PgError error;
    BackendResult result;
    if (!pool_.run(query, rows, error, cancel)) {
        result.error = from_pg(error);
        if (result.error.kind == BackendError::Kind::internal) {
            logger_.event(std::string(what) + " failed with SQLSTATE " + error.sqlstate);
        }
        return result;
    }
    if (rows.rows.empty() || rows.rows[0].empty() || !rows.rows[0][0]) {
        result.error.kind = BackendError::Kind::internal;
        return result;
    }
    result.json = std::move(*rows.rows[0][0]);
    return result;
}

BackendResult SqlBackend::cached_list(Catalog which, const char* sql, const CallerContext& caller) {
    std::uint64_t generation = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        // Per caller: the lists name only the datasets the caller may see.
        const CacheEntry& entry = cache_[which][caller.identity.api_key_id];
        if (entry.valid && Clock::now() - entry.fetched < catalog_ttl) {
            return {entry.json, {}};
        }
        generation = generation_;
    }
    BackendResult fetched = single_json("catalog", sql, {}, caller, true, nullptr);
    if (fetched.ok()) {
        std::lock_guard<std::mutex> lock(mutex_);
        // A change announced while we fetched makes this answer stale: serve it, keep it not.
        if (generation == generation_) {
            auto& entries = cache_[which];
            if (entries.size() >= max_cached_callers) {
                entries.clear();
            }
            entries[caller.identity.api_key_id] = CacheEntry{fetched.json, Clock::now(), generation, true};
        }
    }
    return fetched;
}

BackendResult SqlBackend::list_tools(const CallerContext& caller) {
    return cached_list(tools, tools_sql, caller);
}

BackendResult SqlBackend::list_resources(const CallerContext& caller) {
    return cached_list(resources, resources_sql, caller);
}

BackendResult SqlBackend::list_resource_templates(const CallerContext& caller) {
    return cached_list(templates, templates_sql, caller);
}

BackendResult SqlBackend::list_prompts(const CallerContext& caller) {
    return cached_list(prompts, prompts_sql, caller);
}

BackendResult SqlBackend::call_tool(const CallerContext& caller, std::string_view name,
                                    std::string_view arguments_json, CancelToken& cancel) {
    PgQuery query;
    query.sql =
        "SELECT result, is_error, insufficient_scope"
        " FROM mcp.call_tool_result($1, $2::jsonb, $3::jsonb)";
    query.params = {std::string(name), std::string(arguments_json), context_json(caller)};
    query.role = db_role_for(caller.identity.role);
    query.caller = caller.identity.api_key_id;
    // Not retried: a query may have run before its connection broke.
    query.retry_on_broken_connection = false;
    PgRows rows;
    PgError error;
    BackendResult result;
    bool ran;
    {
        PhaseTimer timing(metrics_, Metrics::Phase::sql_call);
        ran = pool_.run(query, rows, error, &cancel);
    }
    if (!ran) {
        result.error = from_pg(error);
        if (result.error.kind == BackendError::Kind::internal) {
            logger_.event("call_tool failed with SQLSTATE " + error.sqlstate);
        }
        if (result.error.kind == BackendError::Kind::unavailable ||
            result.error.kind == BackendError::Kind::busy) {
            record_unreached_call(caller, name, arguments_json,
                                  result.error.kind == BackendError::Kind::busy
                                      ? "every connection to the metadata database stayed busy"
                                      : "the metadata database was not reachable");
        }
        return result;
    }
    if (rows.rows.empty() || !rows.rows[0][0]) {
        result.error.kind = BackendError::Kind::internal;
        return result;
    }
    result.json = std::move(*rows.rows[0][0]);
    result.tool_error = rows.rows[0][1] == "t";
    if (rows.rows[0].size() > 2 && rows.rows[0][2]) {
        result.insufficient_scope = *rows.rows[0][2];
    }
    return result;
}

BackendResult SqlBackend::read_resource(const CallerContext& caller, std::string_view uri) {
    return single_json(
        "read_resource",
        "SELECT jsonb_build_object('contents', coalesce(jsonb_agg(jsonb_build_object('uri', r.uri,"
        " 'mimeType', r.mime_type, 'text', r.content)), '[]'))::text FROM mcp.read_resource($1) r",
        {std::string(uri)}, caller, true, nullptr);
}

BackendResult SqlBackend::get_prompt(const CallerContext& caller, std::string_view name,
                                     std::string_view arguments_json) {
    return single_json("get_prompt", "SELECT mcp.get_prompt($1, $2::jsonb)::text",
                       {std::string(name), std::string(arguments_json)}, caller, true, nullptr);
}

void SqlBackend::record_unreached_call(const CallerContext& caller, std::string_view tool,
                                      std::string_view arguments_json, std::string_view reason) {
    if (unreached_ != nullptr) unreached_->record(tool, arguments_json, context_json(caller), reason);
}

std::optional<std::string> SqlBackend::open_session(const Identity& identity,
                                                    const NewSession& session) {
    PgQuery query;
    query.sql = "SELECT mcp.open_session($1::integer, $2, $3::jsonb, $4::jsonb, $5, $6, $7::interval)";
    query.params = {std::to_string(identity.api_key_id), session.protocol_version,
                    session.client_info_json, session.capabilities_json,
                    session.user_agent.empty() ? std::nullopt : std::optional(session.user_agent),
                    session.transport, idle_timeout_};
    query.role = db_role_for(identity.role);
    query.retry_on_broken_connection = false;
    PgRows rows;
    PgError error;
    if (!pool_.run(query, rows, error) || rows.rows.empty() || !rows.rows[0][0]) {
        if (error.kind == PgError::Kind::server) {
            logger_.event("open_session failed with SQLSTATE " + error.sqlstate);
        }
        return std::nullopt;
    }
    return rows.rows[0][0];
}

SessionLookup SqlBackend::resume_session(std::string_view session_id, const Identity& identity,
                                         SessionRecord& out) {
    PhaseTimer timing(metrics_, Metrics::Phase::session);
    std::uint64_t generation = 0;
    if (cached_session(session_id, identity, out, generation)) {
        return SessionLookup::found;
    }
    const auto asked = Clock::now();
    PgQuery query;
    query.sql =
        "SELECT protocol_version, client_name, client_version, user_agent, log_level, initialized"
        " FROM mcp.resume_session($1, $2::integer, $3::interval)";
    query.params = {std::string(session_id), std::to_string(identity.api_key_id), idle_timeout_};
    query.role = db_role_for(identity.role);
    PgRows rows;
    PgError error;
    if (!pool_.run(query, rows, error)) {
        if (error.kind == PgError::Kind::server) {
            // Typically 42501: the bridge's login role may not SET ROLE mcp_reader/mcp_admin.
            logger_.event("resume_session failed with SQLSTATE " + error.sqlstate);
        }
        return SessionLookup::unavailable;  // also when busy: either way, not the client's fault
    }
    if (rows.rows.empty()) {
        return SessionLookup::not_found;
    }
    const auto& row = rows.rows[0];
    out.id = std::string(session_id);
    out.protocol_version = row[0].value_or("");
    out.client_name = row[1].value_or("");
    out.client_version = row[2].value_or("");
    out.user_agent = row[3].value_or("");
    out.log_level = row[4].value_or("info");
    out.initialized = row[5].value_or("f") == "t";
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    if (watching_ && session_cache_ttl_.count() > 0 && generation == sessions_generation_) {
        if (sessions_.size() >= max_cached_sessions) {
            sessions_.clear();
        }
        // Counted from before the question: the answer may already be that old.
        sessions_[out.id] = CachedSession{out, identity.api_key_id, asked + session_cache_ttl_};
    }
    return SessionLookup::found;
}

bool SqlBackend::update_session(std::string_view session_id, const Identity& identity,
                                std::optional<bool> initialized,
                                std::optional<std::string> log_level) {
    forget_session(session_id);
    PgQuery query;
    query.sql = "SELECT mcp.update_session($1, $2::integer, $3::boolean, $4)";
    query.params = {std::string(session_id), std::to_string(identity.api_key_id),
                    initialized ? std::optional(bool_text(*initialized)) : std::nullopt,
                    std::move(log_level)};
    query.role = db_role_for(identity.role);
    PgRows rows;
    PgError error;
    const bool updated = pool_.run(query, rows, error) && !rows.rows.empty() && rows.rows[0][0] == "t";
    forget_session(session_id);  // and again: a lookup that raced the change is not kept
    return updated;
}

SessionLookup SqlBackend::close_session(std::string_view session_id, const Identity& identity) {
    forget_session(session_id);
    PgQuery query;
    query.sql = "SELECT mcp.close_session($1, $2::integer)";
    query.params = {std::string(session_id), std::to_string(identity.api_key_id)};
    query.role = db_role_for(identity.role);
    PgRows rows;
    PgError error;
    const bool ran = pool_.run(query, rows, error);
    forget_session(session_id);  // and again: a lookup that raced the close is not kept
    if (!ran) {
        return SessionLookup::unavailable;
    }
    return !rows.rows.empty() && rows.rows[0][0] == "t" ? SessionLookup::found
                                                        : SessionLookup::not_found;
}

}  // namespace mcp::bridge
