#include <gtest/gtest.h>

#include "ui_form.hpp"

namespace mcp::bridge {
namespace {

Request form_post(std::string body, std::string type = "application/x-www-form-urlencoded") {
    Request request{http::verb::post, "/ui/x", 11};
    if (!type.empty()) request.set(http::field::content_type, type);
    request.body() = std::move(body);
    return request;
}

TEST(UiForm, DecodesFieldsInOrderAndKeepsRepeatedNames) {
    const auto form = FormData::parse("from=A1&to=A&from=B%2B1&to=B+b&empty=&flag");
    ASSERT_TRUE(form);
    EXPECT_EQ(form->all("from"), (std::vector<std::string>{"A1", "B+1"}));
    EXPECT_EQ(form->all("to"), (std::vector<std::string>{"A", "B b"}));
    EXPECT_EQ(form->get("empty", "fallback"), "");
    EXPECT_EQ(form->find("flag"), std::optional<std::string>(""));
    EXPECT_EQ(form->find("missing"), std::nullopt);
    EXPECT_EQ(form->get("from"), "A1") << "get() answers the first value";
}

TEST(UiForm, RefusesBrokenEscapesAndTooManyFields) {
    EXPECT_FALSE(FormData::parse("a=%zz"));
    EXPECT_FALSE(FormData::parse("a=%4"));
    std::string many;
    for (std::size_t i = 0; i <= FormData::max_fields; ++i) many += "x=1&";
    EXPECT_FALSE(FormData::parse(many)) << "no page sends that many fields";
}

TEST(UiForm, BodyMustBeUrlEncoded) {
    EXPECT_TRUE(FormData::from_body(form_post("a=1")));
    EXPECT_TRUE(
        FormData::from_body(form_post("a=1", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")));
    EXPECT_FALSE(FormData::from_body(form_post("{\"a\":1}", "application/json")));
    EXPECT_FALSE(FormData::from_body(form_post("a=1", "")));
}

TEST(UiForm, QueryStringOfATarget) {
    const auto form = FormData::from_target("/ui/logs?client=claude%20code&range=24h#top");
    ASSERT_TRUE(form);
    EXPECT_EQ(form->get("client"), "claude code");
    EXPECT_EQ(form->get("range"), "24h");
    EXPECT_TRUE(FormData::from_target("/ui/logs")->fields().empty());
}

TEST(UiForm, UrlEncodeEscapesEverythingButUnreservedCharacters) {
    EXPECT_EQ(url_encode("a-b_c.d~e"), "a-b_c.d~e");
    EXPECT_EQ(url_encode("x y&z=/?#\"<"), "x%20y%26z%3D%2F%3F%23%22%3C");
    EXPECT_EQ(url_encode("é"), "%C3%A9");
}

}  // namespace
}  // namespace mcp::bridge
