#include "hot_reload.hpp"

#include "auth.hpp"
#include "event_streams.hpp"
#include "json.hpp"
#include "logger.hpp"
#include "mcp_protocol.hpp"
#include "metrics.hpp"
#include "sql_backend.hpp"

namespace mcp::bridge {

HotReload::HotReload(const std::string& conninfo, SqlBackend& backend, Authenticator& auth,
                     StreamHub& streams, Metrics& metrics, Logger& logger)
    : backend_(backend),
      auth_(auth),
      streams_(streams),
      metrics_(metrics),
      logger_(logger),
      listener_(
          conninfo, "mcp_analytics",
          [this](const std::vector<std::string>& payloads) { apply(effects_of(payloads)); },
          [this] {
              logger_.event("reconnected to the metadata database; reloading catalogs");
              apply({true, true, true});
          }) {}

void HotReload::start() { listener_.start(); }

void HotReload::stop() { listener_.stop(); }

HotReload::Effects HotReload::effects_of(const std::vector<std::string>& payloads) {
    Effects effects;
    for (const auto& payload : payloads) {
        const auto document = parse_json(payload);
        const std::string event = document ? string_member(*document, "event") : std::string();
        if (event.rfind("api_key", 0) == 0) {
            effects.keys = true;
        } else if (event == "sessions_closed") {
            effects.sessions = true;
        } else {
            // Dataset events (insert, update, delete), tools_changed, and anything unknown:
            // reloading too often is harmless, too rarely is not.
            effects.catalogs = true;
        }
    }
    return effects;
}

void HotReload::apply(Effects effects) {
    if (effects.keys) {
        auth_.forget_all();
        backend_.forget_sessions();  // a revoked key's sessions end with it
    }
    if (effects.sessions) {
        backend_.forget_sessions();
    }
    if (!effects.catalogs) {
        return;
    }
    backend_.invalidate();
    metrics_.hot_reload();
    for (const char* method :
         {"notifications/tools/list_changed", "notifications/resources/list_changed"}) {
        const std::size_t sent = streams_.broadcast(rpc_notification(method));
        metrics_.notifications_sent(method, sent);
    }
}

}  // namespace mcp::bridge
