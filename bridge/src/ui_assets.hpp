#pragma once

#include <cstddef>
#include <string_view>

namespace mcp::bridge {

// A file of the dashboard compiled into the bridge (ui/embed.cmake): a template under
// "templates/", a static file under "static/" (our CSS and JS) or "static/vendor/" (htmx,
// Alpine.js, uPlot from npm).
struct UiAsset {
    std::string_view name;
    std::string_view content_type;
    const char* data;
    std::size_t size;

    std::string_view bytes() const { return {data, size}; }
};

// The generated table (ui_assets_data.cpp).
const UiAsset* ui_assets_begin();
std::size_t ui_asset_count();

// nullptr when there is no such file.
const UiAsset* find_ui_asset(std::string_view name);

// A strong validator of an asset's bytes, for ETag and cache-busting URLs.
std::string_view ui_asset_version(const UiAsset& asset);

}  // namespace mcp::bridge
