#include <gtest/gtest.h>

#include <regex>

#include "json.hpp"
#include "ui_assets.hpp"
#include "ui_render.hpp"
#include "ui_view.hpp"

namespace mcp::bridge {
namespace {

std::vector<std::string> template_names() {
    std::vector<std::string> names;
    const UiAsset* assets = ui_assets_begin();
    for (std::size_t i = 0; i < ui_asset_count(); ++i) {
        const std::string name(assets[i].name);
        if (name.rfind("templates/", 0) == 0) {
            names.push_back(name.substr(10, name.size() - 10 - 9));
        }
    }
    return names;
}

TEST(UiRender, EveryTemplateIsBuiltInAndParses) {
    const auto names = template_names();
    for (const char* wanted :
         {"layout", "sign_in", "datasets", "dataset", "dataset_new", "dataset_progress",
          "dataset_metadata", "logs", "log_entry", "settings", "keys", "message", "people",
          "person", "dataset_access", "oauth_clients"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), wanted), names.end()) << wanted;
    }
    for (const auto& name : names) {
        std::string error;
        EXPECT_TRUE(template_is_valid(name, error)) << name << ": " << error;
    }
}

TEST(UiRender, TemplatesNeverWriteUnescapedValues) {
    for (const auto& name : template_names()) {
        const UiAsset* asset = find_ui_asset("templates/" + name + ".mustache");
        ASSERT_TRUE(asset);
        const std::string text(asset->bytes());
        EXPECT_EQ(text.find("{{{"), std::string::npos) << name << " uses {{{ }}}";
        EXPECT_EQ(text.find("{{&"), std::string::npos) << name << " uses {{& }}";
        EXPECT_FALSE(std::regex_search(text, std::regex("<script(?![^>]*\\bsrc=)[^>]*>")))
            << name << ": inline script";
        EXPECT_FALSE(std::regex_search(text, std::regex("\\sstyle=|<style|\\son[a-z]+=")))
            << name << ": inline style or handler";
    }
}

TEST(UiRender, ValuesAreHtmlEscapedInTextAndAttributes) {
    View view;
    view.set("heading", "<script>alert(1)</script>");
    View error;
    error.set("message", "\" onmouseover=\"alert(2)");
    error.set("detail", "it's & <b>bold</b>");
    error.set("hint", false);
    error.set("sqlstate", "42501");
    view.set("error", error);
    const std::string html = render_template("message", view);
    EXPECT_EQ(html.find("<script>"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find("&quot; onmouseover=&quot;alert(2)"), std::string::npos);
    EXPECT_NE(html.find("it&apos;s &amp; &lt;b&gt;bold&lt;/b&gt;"), std::string::npos);
}

TEST(UiRender, DataCannotBecomeATemplate) {
    // A partial named by data would be parsed as a template: tpl_ names never come from data.
    const auto document =
        parse_json(R"({"tpl_error_box": "<img src=x>{{csrf_token}}", "name": "{{csrf_token}}"})");
    ASSERT_TRUE(document);
    const View data = json_view(*document);
    EXPECT_EQ(data.get("tpl_error_box"), nullptr);
    View view;
    view.set("heading", data.get("name")->string_value());
    view.set("error", false);
    view.set("csrf_token", "SECRET");
    const std::string html = render_template("message", view);
    EXPECT_NE(html.find("{{csrf_token}}"), std::string::npos) << "a value is text, not a template";
    EXPECT_EQ(html.find("SECRET"), std::string::npos);
}

TEST(UiView, JsonBecomesViewValues) {
    const auto document = parse_json(
        R"({"s": "x", "e": "", "n": 12.5, "t": true, "f": false, "z": null, "l": [1, "a"]})");
    ASSERT_TRUE(document);
    const View view = json_view(*document);
    EXPECT_EQ(view.get("s")->string_value(), "x");
    EXPECT_TRUE(view.get("e")->is_false()) << "empty text renders no section";
    EXPECT_EQ(view.get("n")->string_value(), "12.5");
    EXPECT_TRUE(view.get("t")->is_true());
    EXPECT_TRUE(view.get("f")->is_false());
    EXPECT_TRUE(view.get("z")->is_false());
    EXPECT_EQ(view.get("l")->list_value().size(), 2u);
    EXPECT_EQ(json_cell((*document)["z"]), std::nullopt);
    EXPECT_EQ(json_cell((*document)["l"]), std::optional<std::string>("[1,\"a\"]"));
}

TEST(UiView, Formatting) {
    EXPECT_EQ(format_timestamp("2026-11-25T14:04:52.73523+00:00"), "2026-11-25 14:04:52 UTC");
    EXPECT_EQ(format_timestamp("2026-11-25T14:04:52+05:30"), "2026-11-25 14:04:52 +05:30");
    EXPECT_EQ(format_timestamp("2026-07-01"), "2026-07-01");
    EXPECT_EQ(format_timestamp(""), "");
    EXPECT_EQ(format_count(0), "0");
    EXPECT_EQ(format_count(1234567), "1,234,567");
    EXPECT_EQ(format_count(-1000), "-1,000");
    EXPECT_EQ(format_decimal(6.9200, 1), "6.9");
    EXPECT_EQ(format_decimal(2.0, 3), "2");
    EXPECT_EQ(status_label("metadata_pending"), "metadata pending");
    EXPECT_EQ(split_lines("  one \r\n\n two\n   \n"), (std::vector<std::string>{"one", "two"}));
    EXPECT_EQ(join_lines({"a", "b"}), "a\nb");
}

std::string render_diff(const std::vector<DiffPart>& parts) {
    std::string out;
    for (const auto& part : parts) {
        out += part.kind == DiffPart::Kind::same    ? "="
               : part.kind == DiffPart::Kind::added ? "+"
                                                    : "-";
        out += "[" + part.text + "]";
    }
    return out;
}

TEST(UiView, WordDiffMarksWhatChanged) {
    EXPECT_EQ(render_diff(word_diff("the quick fox", "the slow fox")),
              "=[the ]-[quick ]+[slow ]=[fox]");
    EXPECT_EQ(render_diff(word_diff("", "new text")), "+[new text]");
    EXPECT_EQ(render_diff(word_diff("old", "")), "-[old]");
    EXPECT_EQ(render_diff(word_diff("same words", "same words")), "=[same words]");
    EXPECT_EQ(render_diff(word_diff("a b c", "Reviewed. a b c")), "+[Reviewed. ]=[a b c]");
}

}  // namespace
}  // namespace mcp::bridge
