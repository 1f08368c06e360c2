#include "health_routes.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "responses.hpp"

namespace mcp::bridge {

void add_health_routes(Router& router, PgHealth& health) {
    router.add(http::verb::get, "/healthz",
               [&health](const Request&) { return healthz_response(health.check()); });
}

Response healthz_response(const HealthReport& report) {
    const bool ok = report.state == DatabaseState::reachable;
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.SetMaxDecimalPlaces(3);
    writer.StartObject();
    writer.Key("status");
    writer.String(ok ? "ok" : "unavailable");
    writer.Key("database");
    const auto state = to_string(report.state);
    writer.String(state.data(), static_cast<rapidjson::SizeType>(state.size()));
    if (ok) {
        writer.Key("latency_ms");
        writer.Double(report.latency_ms);
    }
    if (!report.extension_version.empty()) {
        writer.Key("extension_version");
        writer.String(report.extension_version.c_str(),
                      static_cast<rapidjson::SizeType>(report.extension_version.size()));
    }
    if (!report.problem.empty()) {
        writer.Key("error");
        writer.String(report.problem.c_str(), static_cast<rapidjson::SizeType>(report.problem.size()));
    }
    writer.EndObject();
    return json_response(ok ? http::status::ok : http::status::service_unavailable,
                         std::string(buffer.GetString(), buffer.GetSize()));
}

}  // namespace mcp::bridge
