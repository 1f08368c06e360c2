#include "ui_render.hpp"

#include <stdexcept>

#include "ui_assets.hpp"

namespace mcp::bridge {

namespace {

constexpr std::string_view template_prefix = "templates/";
constexpr std::string_view template_suffix = ".mustache";

const UiAsset* find_template(std::string_view name) {
    return find_ui_asset(std::string(template_prefix) + std::string(name) +
                         std::string(template_suffix));
}

void add_partials(View& view) {
    const UiAsset* assets = ui_assets_begin();
    for (std::size_t i = 0; i < ui_asset_count(); ++i) {
        const std::string_view asset_name = assets[i].name;
        if (asset_name.substr(0, template_prefix.size()) != template_prefix ||
            asset_name.size() <= template_prefix.size() + template_suffix.size()) {
            continue;
        }
        const std::string_view base =
            asset_name.substr(template_prefix.size(),
                              asset_name.size() - template_prefix.size() - template_suffix.size());
        const UiAsset* asset = assets + i;
        view.set("tpl_" + std::string(base),
                 kainjow::mustache::partial([asset] { return std::string(asset->bytes()); }));
    }
}

}  // namespace

std::string render_template(std::string_view name, View view) {
    const UiAsset* asset = find_template(name);
    if (!asset) {
        throw std::logic_error("no template " + std::string(name));
    }
    kainjow::mustache::mustache engine{std::string(asset->bytes())};
    if (!engine.is_valid()) {
        throw std::logic_error("template " + std::string(name) + ": " + engine.error_message());
    }
    add_partials(view);
    std::string out = engine.render(view);
    if (!engine.error_message().empty()) {
        throw std::logic_error("template " + std::string(name) + ": " + engine.error_message());
    }
    return out;
}

bool template_is_valid(std::string_view name, std::string& error) {
    const UiAsset* asset = find_template(name);
    if (!asset) {
        error = "no such template";
        return false;
    }
    kainjow::mustache::mustache engine{std::string(asset->bytes())};
    error = engine.error_message();
    return engine.is_valid();
}

Response html_response(http::status status, std::string body) {
    Response response{status, 11};
    response.set(http::field::content_type, "text/html; charset=utf-8");
    response.body() = std::move(body);
    return response;
}

}  // namespace mcp::bridge
