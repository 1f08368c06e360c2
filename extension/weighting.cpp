#include "weighting.hpp"

extern "C" {
#include "postgres.h"
#include "utils/guc.h"
}

namespace {
int min_base_setting = 50;
}

namespace mcp::ext {

void define_weighting_gucs() {
    DefineCustomIntVariable(
        "mcp_analytics.min_base",
        "Unweighted base under which a weighted figure is flagged low_base.",
        "Figures on fewer users are still returned, flagged, so that clients caveat them.",
        &min_base_setting, 50, 0, 1000000000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

std::int64_t weighting_min_base() { return min_base_setting; }

}  // namespace mcp::ext
