#include "hot_reload.hpp"

#include <algorithm>

#include "auth.hpp"
#include "event_streams.hpp"
#include "json.hpp"
#include "logger.hpp"
#include "mcp_listen.hpp"
#include "mcp_protocol.hpp"
#include "metrics.hpp"
#include "sql_backend.hpp"

namespace mcp::bridge {

HotReload::HotReload(const std::string& conninfo, SqlBackend& backend, Authenticator& auth,
                     StreamHub& streams, Metrics& metrics, Logger& logger, ListenHub* listeners)
    : backend_(backend),
      auth_(auth),
      streams_(streams),
      listeners_(listeners),
      metrics_(metrics),
      logger_(logger),
      listener_(
          conninfo, "mcp_analytics",
          [this](const std::vector<std::string>& payloads) { apply(effects_of(payloads)); },
          [this] {
              logger_.event("reconnected to the metadata database; reloading catalogs");
              apply({true, true, true, {}});
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
            if (document && document->IsObject() && document->HasMember("dataset_id") &&
                (*document)["dataset_id"].IsInt()) {
                const int id = (*document)["dataset_id"].GetInt();
                if (std::find(effects.datasets.begin(), effects.datasets.end(), id) ==
                    effects.datasets.end()) {
                    effects.datasets.push_back(id);
                }
            }
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
        std::size_t sent = streams_.broadcast(rpc_notification(method));
        if (listeners_ != nullptr) {
            sent += listeners_->list_changed(method);
        }
        metrics_.notifications_sent(method, sent);
    }
    notify_subscribers(effects.datasets);
}

void HotReload::notify_subscribers(const std::vector<int>& datasets) {
    if (datasets.empty()) {
        return;
    }
    if (listeners_ != nullptr) {
        metrics_.notifications_sent("notifications/resources/updated",
                                    listeners_->resources_changed(datasets));
    }
    const std::vector<std::string> sessions = streams_.sessions();
    if (sessions.empty()) {
        return;  // nobody here to tell: no query
    }
    std::size_t sent = 0;
    for (const auto& [session, uri] : backend_.resource_subscribers(datasets, sessions)) {
        rapidjson::StringBuffer buffer;
        JsonWriter writer(buffer);
        writer.StartObject();
        write_key_string(writer, "uri", uri);
        writer.EndObject();
        const std::string message = rpc_notification(
            "notifications/resources/updated", std::string_view(buffer.GetString(), buffer.GetSize()));
        sent += streams_.send(session, message) ? 1 : 0;
    }
    metrics_.notifications_sent("notifications/resources/updated", sent);
}

}  // namespace mcp::bridge
