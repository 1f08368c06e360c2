#include "phase_timings.hpp"

#include "pg_guard.hpp"
#include "pg_values.hpp"

extern "C" {
#include "fmgr.h"
}

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>

namespace mcp::ext::phase_timings {

namespace {

struct Figure {
    long calls = 0;
    double total_ms = 0;
};

// Backend-local: each backend runs one call at a time, so no lock.
std::array<Figure, phase_count> figures;

const char* const kNames[phase_count] = {
    "arguments", "dataset_lookup", "guard",       "cache_lookup", "remote_connect",
    "remote_pipeline", "format",   "cache_store", "log_write",    "total"};

}  // namespace

void add(Phase phase, double ms) {
    figures[phase].calls += 1;
    figures[phase].total_ms += ms;
}

std::string report_json(bool reset) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> out(buffer);
    out.StartObject();
    for (int p = 0; p < phase_count; ++p) {
        const Figure& figure = figures[p];
        out.Key(kNames[p]);
        out.StartObject();
        out.Key("calls");
        out.Int64(figure.calls);
        out.Key("total_ms");
        out.Double(figure.total_ms);
        out.Key("mean_us");
        out.Double(figure.calls > 0 ? 1000 * figure.total_ms / static_cast<double>(figure.calls) : 0);
        out.EndObject();
    }
    out.EndObject();
    if (reset) figures = {};
    return buffer.GetString();
}

}  // namespace mcp::ext::phase_timings

extern "C" {
PG_FUNCTION_INFO_V1(mcp_execution_phases);

Datum mcp_execution_phases(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] {
        return mcp::ext::jsonb_datum(mcp::ext::phase_timings::report_json(PG_GETARG_BOOL(0)));
    });
}
}
