#pragma once

#include <string>
#include <string_view>

#include "http_types.hpp"
#include "ui_view.hpp"

namespace mcp::bridge {

// Renders ui/templates/<name>.mustache with `view`. Every template is also a partial:
// {{>tpl_x}} includes ui/templates/x.mustache in the current context. Values are
// HTML-escaped by the engine ({{x}}); templates never use unescaped output.
// Throws std::logic_error for a missing or malformed template (a build defect).
std::string render_template(std::string_view name, View view);

// Whether a template exists and parses, with the engine's message when it does not.
bool template_is_valid(std::string_view name, std::string& error);

// text/html; charset=utf-8.
Response html_response(http::status status, std::string body);

}  // namespace mcp::bridge
