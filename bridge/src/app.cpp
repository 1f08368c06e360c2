#include "app.hpp"

#include <istream>
#include <ostream>
#include <string>

#include "auth.hpp"
#include "cors.hpp"
#include "event_streams.hpp"
#include "fiber.hpp"
#include "health_routes.hpp"
#include "host_policy.hpp"
#include "hot_reload.hpp"
#include "http_server.hpp"
#include "mcp_dispatch.hpp"
#include "mcp_http.hpp"
#include "mcp_listen.hpp"
#include "mcp_tasks.hpp"
#include "mcp_stdio.hpp"
#include "oauth_routes.hpp"
#include "metrics.hpp"
#include "metrics_routes.hpp"
#include "pg_health.hpp"
#include "pg_pool.hpp"
#include "rest_routes.hpp"
#include "sql_backend.hpp"
#include "unreached_calls.hpp"
#include "ui_routes.hpp"

namespace mcp::bridge {

namespace {

McpDispatcher::Options dispatcher_options() {
    McpDispatcher::Options options;
    options.pause = [](std::chrono::milliseconds span) { fiber::sleep_until(fiber::Clock::now() + span); };
    return options;
}

PgPoolOptions pool_options(const Config& config) {
    PgPoolOptions options;
    options.size = config.db_pool_size;
    options.query_timeout = config.query_timeout;
    return options;
}

void append_metric(std::string& out, const char* type, const char* name, const char* help,
                   std::uint64_t value) {
    out += std::string("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n' +
           name + ' ' + std::to_string(value) + '\n';
}

void append_gauge(std::string& out, const char* name, const char* help, std::uint64_t value) {
    append_metric(out, "gauge", name, help, value);
}

void append_counter(std::string& out, const char* name, const char* help, std::uint64_t value) {
    append_metric(out, "counter", name, help, value);
}

// What OAuth access tokens are bound to: this bridge's MCP endpoint; empty without OAuth.
std::string oauth_resource(const Config& config) {
    return config.proxy_trust.public_url.empty() ? std::string() : config.proxy_trust.public_url + "/mcp";
}

}  // namespace

// Members in dependency order: each is built from the ones above it and destroyed before
// them; the server goes first, so no handler outlives what it uses.
struct App::Parts {
    Parts(const Config& config, Logger& logger, std::ostream& announce)
        : config(config),
          logger(logger),
          health(config.database_url),
          pool(config.database_url, pool_options(config)),
          auth(pool, config.auth_cache_ttl, oauth_resource(config),
               config.proxy_trust.public_url.empty()
                   ? std::string()
                   : config.proxy_trust.public_url + "/.well-known/oauth-protected-resource/mcp"),
          unreached(pool, logger),
          backend(pool, logger, config.session_idle_timeout, &unreached),
          dispatcher(backend, in_flight, dispatcher_options(), &metrics),
          origins(config.allowed_origins),
          hot_reload(config.database_url, backend, auth, streams, metrics, logger, &listeners),
          hosts(config.listen.host, config.allowed_hosts),
          mcp_deps{dispatcher, backend, auth, origins, streams, metrics, pool.configured(), &hosts, &listeners},
          rest_deps{pool, auth, origins, metrics},
          ui_deps{pool},
          oauth_deps{pool, config.proxy_trust.public_url, oauth_resource(config)},
          server(config, build_router(), logger, announce,
                 [this](const RequestRecord& record) { observe(record); }) {
        dispatcher.set_task_runner(&tasks);
        register_collectors();
        // Sessions are cached only while the NOTIFYs that end them can arrive.
        backend.watch_sessions([this] { return hot_reload.listening(); });
        auth.set_metrics(&metrics);
        backend.set_metrics(&metrics);
    }

    Router build_router() {
        Router router;
        add_health_routes(router, health);
        add_metrics_routes(router, metrics);
        add_mcp_routes(router, mcp_deps);
        add_rest_routes(router, rest_deps);
        add_ui_routes(router, ui_deps);
        if (!config.proxy_trust.public_url.empty()) {
            add_oauth_routes(router, oauth_deps);
        }
        return router;
    }

    void observe(const RequestRecord& record) {
        metrics.http_request(record.route.empty() ? "unmatched" : record.route, record.method,
                             record.status, record.duration_ms / 1000.0);
        const std::pair<double, Metrics::Phase> phases[] = {
            {record.read_s, Metrics::Phase::http_read},
            {record.queue_s, Metrics::Phase::queue_wait},
            {record.handler_s, Metrics::Phase::handler},
            {record.reply_wait_s, Metrics::Phase::reply_wait},
            {record.write_s, Metrics::Phase::http_write}};
        for (const auto& [seconds, phase] : phases) {
            if (seconds >= 0) {
                metrics.phase(phase, seconds);
            }
        }
    }

    void register_collectors() {
        metrics.add_collector([this](std::string& out) {
            const PgPoolStats stats = pool.stats();
            append_gauge(out, "mcp_bridge_db_pool_size", "Connections the pool may open.",
                         static_cast<std::uint64_t>(stats.size));
            append_gauge(out, "mcp_bridge_db_pool_open", "Connections open now.",
                         static_cast<std::uint64_t>(stats.open));
            append_gauge(out, "mcp_bridge_db_pool_in_use", "Connections running a statement now.",
                         static_cast<std::uint64_t>(stats.in_use));
            append_gauge(out, "mcp_bridge_db_pool_waiting", "Requests waiting for a connection.",
                         static_cast<std::uint64_t>(stats.waiting));
            append_counter(out, "mcp_bridge_db_connections_opened_total",
                           "Connections opened since start (reconnects included).",
                           static_cast<std::uint64_t>(stats.connections_opened));
            append_counter(out, "mcp_bridge_db_pool_timeouts_total",
                           "Requests that found no free connection in time.",
                           static_cast<std::uint64_t>(stats.acquire_timeouts));
            append_counter(out, "mcp_bridge_db_connect_failures_total",
                           "Failed attempts to connect to the metadata database.",
                           static_cast<std::uint64_t>(stats.connect_failures));
            append_gauge(out, "mcp_bridge_event_streams", "Open server-to-client event streams.",
                         static_cast<std::uint64_t>(streams.open_streams() +
                                                    listeners.open_streams()));
            append_gauge(out, "mcp_bridge_listening",
                         "1 when LISTEN mcp_analytics is active (hot reload works).",
                         hot_reload.listening() ? 1 : 0);
        });
    }

    const Config config;
    Logger& logger;
    Metrics metrics;
    PgHealth health;
    PgPool pool;
    Authenticator auth;
    UnreachedCalls unreached;
    SqlBackend backend;
    InFlightRequests in_flight;
    McpDispatcher dispatcher;
    TaskRunner tasks{backend};
    StreamHub streams;
    ListenHub listeners;
    OriginPolicy origins;
    HotReload hot_reload;
    HostPolicy hosts;
    McpHttpDeps mcp_deps;
    RestDeps rest_deps;
    UiDeps ui_deps;
    OAuthDeps oauth_deps;
    HttpServer server;
};

App::App(const Config& config, Logger& logger, std::ostream& announce)
    : parts_(std::make_unique<Parts>(config, logger, announce)) {}

App::~App() {
    if (parts_) {
        parts_->hot_reload.stop();
    }
}

void App::start() {
    parts_->unreached.start();
    parts_->hot_reload.start();
    parts_->server.start();
}

std::uint16_t App::port() const { return parts_->server.port(); }

bool App::stop(std::chrono::milliseconds timeout) {
    // Event streams have no end of their own: end them, then let requests in flight finish.
    parts_->streams.close_all();
    parts_->listeners.close_all();
    parts_->tasks.stop();
    const bool graceful = parts_->server.stop(timeout);
    parts_->hot_reload.stop();
    parts_->unreached.stop();  // after the last request: its calls get their rows too
    return graceful;
}

int App::run_stdio(std::istream& in, std::ostream& out) {
    parts_->unreached.start();
    parts_->hot_reload.start();
    StdioServer server(parts_->dispatcher, parts_->backend, parts_->auth, parts_->streams,
                       parts_->logger, parts_->config.workers);
    const int code = server.run(parts_->config.api_key, in, out);
    parts_->hot_reload.stop();
    parts_->unreached.stop();
    return code;
}

}  // namespace mcp::bridge
