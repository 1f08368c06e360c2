#include <gtest/gtest.h>

#include <stdexcept>

#include "responses.hpp"
#include "router.hpp"

namespace mcp::bridge {
namespace {

Request make_request(http::verb method, std::string target) {
    Request request{method, target, 11};
    return request;
}

Router sample_router() {
    Router router;
    router.add(http::verb::get, "/thing",
               [](const Request&) { return json_response(http::status::ok, R"({"got":1})"); });
    router.add(http::verb::post, "/thing",
               [](const Request&) { return json_response(http::status::created, "{}"); });
    return router;
}

TEST(Router, UnknownPathAnswers404WithJsonError) {
    const Response response = sample_router().route(make_request(http::verb::get, "/nothing"));
    EXPECT_EQ(response.result(), http::status::not_found);
    EXPECT_EQ(response.body(), R"({"error":"not found"})");
    EXPECT_EQ(response[http::field::content_type], "application/json");
}

TEST(Router, KnownPathWithOtherMethodAnswers405WithAllow) {
    const Response response = sample_router().route(make_request(http::verb::delete_, "/thing"));
    EXPECT_EQ(response.result(), http::status::method_not_allowed);
    EXPECT_EQ(response[http::field::allow], "GET, HEAD, POST");
    EXPECT_EQ(response.body(), R"({"error":"method not allowed"})");
}

TEST(Router, MethodPicksItsOwnHandler) {
    const Router router = sample_router();
    EXPECT_EQ(router.route(make_request(http::verb::get, "/thing")).result(), http::status::ok);
    EXPECT_EQ(router.route(make_request(http::verb::post, "/thing")).result(),
              http::status::created);
}

TEST(Router, HeadIsServedByTheGetHandler) {
    const Response response = sample_router().route(make_request(http::verb::head, "/thing"));
    EXPECT_EQ(response.result(), http::status::ok);
}

TEST(Router, QueryStringDoesNotAffectRouting) {
    const Response response =
        sample_router().route(make_request(http::verb::get, "/thing?x=1&y=%20"));
    EXPECT_EQ(response.result(), http::status::ok);
}

TEST(Router, PathMatchIsExact) {
    const Router router = sample_router();
    EXPECT_EQ(router.route(make_request(http::verb::get, "/thing/")).result(),
              http::status::not_found);
    EXPECT_EQ(router.route(make_request(http::verb::get, "/THING")).result(),
              http::status::not_found);
}

TEST(Router, RegisteringTheSameRouteTwiceThrows) {
    Router router = sample_router();
    EXPECT_THROW(router.add(http::verb::get, "/thing",
                            [](const Request&) { return json_response(http::status::ok, "{}"); }),
                 std::logic_error);
}

Reply params_reply(const RouteParams& params) {
    std::string body;
    for (const auto& [name, value] : params) {
        body += name + "=" + value + ";";
    }
    return Reply{json_response(http::status::ok, body), nullptr, {}};
}

Router pattern_router() {
    Router router = sample_router();
    auto echo = Router::ReplyHandler(
        [](const Request&, const RouteParams& params) { return params_reply(params); });
    router.add(http::verb::get, "/api/datasets/{id}", echo);
    router.add(http::verb::patch, "/api/datasets/{id}/approve", echo);
    router.add(http::verb::get, "/ui/static/{path*}", echo);
    return router;
}

TEST(Router, PatternsCaptureSegments) {
    const Router router = pattern_router();
    EXPECT_EQ(router.route(make_request(http::verb::get, "/api/datasets/42")).body(), "id=42;");
    EXPECT_EQ(router.route(make_request(http::verb::patch, "/api/datasets/7/approve?x=1")).body(), "id=7;");
    EXPECT_EQ(router.route(make_request(http::verb::get, "/ui/static/css/app.css")).body(),
              "path=css/app.css;");
}

TEST(Router, PatternsMatchWholeSegmentsOnly) {
    const Router router = pattern_router();
    EXPECT_EQ(router.route(make_request(http::verb::get, "/api/datasets/")).result(), http::status::not_found);
    EXPECT_EQ(router.route(make_request(http::verb::get, "/api/datasets/1/2")).result(), http::status::not_found);
    EXPECT_EQ(router.route(make_request(http::verb::get, "/ui/static/")).result(), http::status::not_found);
    EXPECT_EQ(router.route(make_request(http::verb::delete_, "/api/datasets/1")).result(),
              http::status::method_not_allowed);
}

TEST(Router, DispatchNamesTheMatchedRouteForLogsAndMetrics) {
    const Router router = pattern_router();
    EXPECT_EQ(router.dispatch(make_request(http::verb::get, "/api/datasets/9")).log.route, "/api/datasets/{id}");
    EXPECT_EQ(router.dispatch(make_request(http::verb::get, "/thing")).log.route, "/thing");
    EXPECT_EQ(router.dispatch(make_request(http::verb::get, "/nope/9")).log.route, "unmatched");
}

TEST(Router, DecoratorsReachErrorsAnd405sUnderTheirPrefix) {
    Router router = pattern_router();
    router.decorate("/api/", [](const Request&, Response& response) { response.set("X-Seen", "1"); });
    EXPECT_EQ(router.route(make_request(http::verb::get, "/api/datasets/1"))["X-Seen"], "1");
    EXPECT_EQ(router.route(make_request(http::verb::put, "/api/datasets/1"))["X-Seen"], "1");
    EXPECT_EQ(router.route(make_request(http::verb::get, "/api/unknown"))["X-Seen"], "1");
    EXPECT_EQ(router.route(make_request(http::verb::get, "/thing"))["X-Seen"], "");
}

TEST(Router, PathWithoutQueryStripsQueryAndFragment) {
    EXPECT_EQ(path_without_query("/a/b?c=d"), "/a/b");
    EXPECT_EQ(path_without_query("/a#frag"), "/a");
    EXPECT_EQ(path_without_query("/plain"), "/plain");
}

}  // namespace
}  // namespace mcp::bridge
