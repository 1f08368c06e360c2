#pragma once

#include <string>
#include <vector>

#include "pg_listener.hpp"

namespace mcp::bridge {

class Authenticator;
class Logger;
class Metrics;
class SqlBackend;
class StreamHub;

// Hot reload: the extension NOTIFYs channel mcp_analytics when a dataset, the tool catalog or
// an API key changes, and when sessions are closed. Dataset and catalog changes drop the cached catalogs and send
// notifications/tools/list_changed and notifications/resources/list_changed on every open
// session stream; key changes drop the cached key checks, closed sessions the cached
// sessions. A reconnect counts as all three, since
// notifications sent meanwhile were lost.
class HotReload {
public:
    HotReload(const std::string& conninfo, SqlBackend& backend, Authenticator& auth,
              StreamHub& streams, Metrics& metrics, Logger& logger);

    void start();
    void stop();
    bool listening() const { return listener_.listening(); }

    // What a batch of payloads calls for (exposed for tests).
    struct Effects {
        bool catalogs = false;
        bool keys = false;
        bool sessions = false;
    };
    static Effects effects_of(const std::vector<std::string>& payloads);

private:
    void apply(Effects effects);

    SqlBackend& backend_;
    Authenticator& auth_;
    StreamHub& streams_;
    Metrics& metrics_;
    Logger& logger_;
    PgListener listener_;
};

}  // namespace mcp::bridge
