#include "ui_assets.hpp"

#include <map>
#include <mutex>
#include <string>

#include "auth.hpp"

namespace mcp::bridge {

const UiAsset* find_ui_asset(std::string_view name) {
    const UiAsset* begin = ui_assets_begin();
    for (std::size_t i = 0; i < ui_asset_count(); ++i) {
        if (begin[i].name == name) {
            return begin + i;
        }
    }
    return nullptr;
}

std::string_view ui_asset_version(const UiAsset& asset) {
    // Computed once per asset; the table never changes while the process runs.
    static std::mutex mutex;
    static std::map<const UiAsset*, std::string> versions;
    std::lock_guard<std::mutex> lock(mutex);
    auto found = versions.find(&asset);
    if (found == versions.end()) {
        found = versions.emplace(&asset, sha256_hex(asset.bytes()).substr(0, 16)).first;
    }
    return found->second;
}

}  // namespace mcp::bridge
