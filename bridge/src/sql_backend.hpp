#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mcp_backend.hpp"
#include "pg_connection.hpp"

namespace mcp::bridge {

class Logger;
class Metrics;
class PgPool;
class UnreachedCalls;

// McpBackend over the extension's SQL functions: mcp.mcp_tools, mcp.call_tool,
// mcp.mcp_resources, mcp.read_resource, mcp.mcp_prompts, mcp.get_prompt and the session
// functions. Each operation is one parameterized call. The catalogs are cached until the
// database announces a change (invalidate), or a minute passes.
class SqlBackend final : public McpBackend {
public:
    SqlBackend(PgPool& pool, Logger& logger, std::chrono::seconds session_idle_timeout,
               UnreachedCalls* unreached = nullptr);

    void invalidate();

    // Sessions found by resume_session are remembered for a moment (session_cache_ttl, at
    // most half the idle timeout) so that a request costs one SQL call, not two; only while
    // `watching` says the database's NOTIFYs arrive (a closed session announces itself:
    // forget_sessions), and this bridge's own close and update take effect at once.
    void watch_sessions(std::function<bool()> watching);
    void forget_sessions();

    // Where the session and sql_call phase histograms go (none: not measured).
    void set_metrics(Metrics* metrics) { metrics_ = metrics; }

    BackendResult list_tools(const CallerContext& caller) override;
    BackendResult list_resources(const CallerContext& caller) override;
    BackendResult list_resource_templates(const CallerContext& caller) override;
    BackendResult list_prompts(const CallerContext& caller) override;
    BackendResult call_tool(const CallerContext& caller, std::string_view name,
                            std::string_view arguments_json, CancelToken& cancel) override;
    BackendResult read_resource(const CallerContext& caller, std::string_view uri) override;
    BackendResult get_prompt(const CallerContext& caller, std::string_view name,
                             std::string_view arguments_json) override;

    BackendResult complete(const CallerContext& caller, std::string_view ref_json,
                           std::string_view argument_json, std::string_view context_json) override;
    BackendResult subscribe_resource(const CallerContext& caller, std::string_view uri,
                                     bool subscribed) override;
    BackendResult create_task(const CallerContext& caller, std::string_view tool,
                              std::string_view arguments_json) override;
    BackendResult run_task(const CallerContext& caller, std::string_view task_id) override;
    BackendResult get_task(const CallerContext& caller, std::string_view task_id) override;
    BackendResult cancel_task(const CallerContext& caller, std::string_view task_id) override;
    // Which of `session_ids` subscribed to a resource of one of `dataset_ids`: (session, uri)
    // pairs, for notifications/resources/updated. Empty when the database is unreachable.
    std::vector<std::pair<std::string, std::string>> resource_subscribers(
        const std::vector<int>& dataset_ids, const std::vector<std::string>& session_ids);

    std::optional<std::string> open_session(const Identity& identity,
                                            const NewSession& session) override;
    SessionLookup resume_session(std::string_view session_id, const Identity& identity,
                                 SessionRecord& out) override;
    bool update_session(std::string_view session_id, const Identity& identity,
                        std::optional<bool> initialized,
                        std::optional<std::string> log_level) override;
    SessionLookup close_session(std::string_view session_id, const Identity& identity) override;
    void record_unreached_call(const CallerContext& caller, std::string_view tool,
                               std::string_view arguments_json, std::string_view reason) override;

    // The caller as the query log wants it: {client_name, client_version, user_agent,
    // session_id, api_key_id}.
    static std::string context_json(const CallerContext& caller);

private:
    enum Catalog { tools, resources, templates, prompts, catalog_count };
    struct CacheEntry {
        std::string json;
        std::chrono::steady_clock::time_point fetched;
        std::uint64_t generation = 0;
        bool valid = false;
    };

    BackendResult cached_list(Catalog which, const char* sql, const CallerContext& caller);
    BackendResult single_json(const char* what, const std::string& sql, PgParams params,
                              const CallerContext& caller, bool retry, CancelToken* cancel);

    struct CachedSession {
        SessionRecord record;
        int api_key_id = 0;
        std::chrono::steady_clock::time_point expires;
    };
    // Also returns the generation to store an answer under: one asked for before a forget
    // (a close here, a NOTIFY) may be stale, and is not kept.
    bool cached_session(std::string_view session_id, const Identity& identity, SessionRecord& out,
                        std::uint64_t& generation);
    void forget_session(std::string_view session_id);

    PgPool& pool_;
    Logger& logger_;
    Metrics* metrics_ = nullptr;
    UnreachedCalls* unreached_;
    const std::string idle_timeout_;  // an interval literal for the SQL functions
    const std::chrono::milliseconds session_cache_ttl_;
    std::function<bool()> watching_;
    std::mutex sessions_mutex_;
    std::unordered_map<std::string, CachedSession> sessions_;
    std::uint64_t sessions_generation_ = 0;
    std::mutex mutex_;
    static constexpr std::size_t max_cached_callers = 1000;
    std::unordered_map<int, CacheEntry> cache_[catalog_count];
    std::uint64_t generation_ = 0;
};

}  // namespace mcp::bridge
