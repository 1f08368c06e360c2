#pragma once

#include <string>
#include <vector>

#include "pg_listener.hpp"

namespace mcp::bridge {

class Authenticator;
class ListenHub;
class Logger;
class Metrics;
class SqlBackend;
class StreamHub;

// Hot reload: the extension NOTIFYs channel mcp_analytics when a dataset, the tool catalog or
// an API key changes, and when sessions are closed. Dataset and catalog changes drop the
// cached catalogs and send notifications/tools/list_changed and
// notifications/resources/list_changed on every open session stream; key changes drop the
// cached key checks, closed sessions the cached sessions. A reconnect counts as all three,
// since notifications sent meanwhile were lost. Sessions that subscribed to a changed
// dataset's resources (resources/subscribe) get notifications/resources/updated for each.
class HotReload {
public:
    // `listeners` (2026-07-28 subscriptions/listen streams) get the same notifications,
    // as their filters ask.
    HotReload(const std::string& conninfo, SqlBackend& backend, Authenticator& auth,
              StreamHub& streams, Metrics& metrics, Logger& logger, ListenHub* listeners = nullptr);

    void start();
    void stop();
    bool listening() const { return listener_.listening(); }

    // What a batch of payloads calls for (exposed for tests).
    struct Effects {
        bool catalogs = false;
        bool keys = false;
        bool sessions = false;
        // Datasets whose resources changed (profile, metadata, status): their subscribers
        // get notifications/resources/updated.
        std::vector<int> datasets;
    };
    static Effects effects_of(const std::vector<std::string>& payloads);

private:
    void apply(Effects effects);
    void notify_subscribers(const std::vector<int>& datasets);

    SqlBackend& backend_;
    Authenticator& auth_;
    StreamHub& streams_;
    ListenHub* listeners_;
    Metrics& metrics_;
    Logger& logger_;
    PgListener listener_;
};

}  // namespace mcp::bridge
