#include <gtest/gtest.h>

#include <atomic>

#include "event_streams.hpp"
#include "hot_reload.hpp"

namespace mcp::bridge {
namespace {

TEST(EventStreams, AMessageGoesToTheNewestStreamOfEachSessionOnly) {
    StreamHub hub;
    auto old_stream = hub.open("s1");
    auto new_stream = hub.open("s1");
    auto other = hub.open("s2");
    EXPECT_EQ(hub.broadcast("m"), 2u);
    std::string message;
    EXPECT_FALSE(old_stream->pop(message));
    EXPECT_TRUE(new_stream->pop(message));
    EXPECT_EQ(message, "m");
    EXPECT_TRUE(other->pop(message));
}

TEST(EventStreams, ClosedAndDroppedStreamsAreSkipped) {
    StreamHub hub;
    auto first = hub.open("s1");
    {
        auto dropped = hub.open("s1");
    }
    EXPECT_TRUE(hub.send("s1", "to first"));
    std::string message;
    EXPECT_TRUE(first->pop(message));
    first->close();
    EXPECT_FALSE(hub.send("s1", "nobody"));
    EXPECT_EQ(hub.open_streams(), 0u);
}

TEST(EventStreams, ThePusherWakesTheConsumer) {
    StreamHub hub;
    auto stream = hub.open("s");
    std::atomic<int> wakes{0};
    stream->set_waker([&] { ++wakes; });
    hub.broadcast("a");
    stream->close();
    EXPECT_EQ(wakes.load(), 2) << "one push, one close";
    EXPECT_TRUE(stream->closed());
}

TEST(EventStreams, AConsumerThatFallsBehindIsCutOff) {
    EventChannel channel("s");
    for (std::size_t i = 0; i < EventChannel::max_queued; ++i) {
        ASSERT_TRUE(channel.push("x"));
    }
    EXPECT_FALSE(channel.push("one too many"));
    EXPECT_TRUE(channel.closed());
}

TEST(EventStreams, DeletingASessionEndsItsStreams) {
    StreamHub hub;
    auto a = hub.open("s1");
    auto b = hub.open("s2");
    hub.close_session("s1");
    EXPECT_TRUE(a->closed());
    EXPECT_FALSE(b->closed());
    hub.close_all();
    EXPECT_TRUE(b->closed());
}

TEST(HotReload, DatasetAndCatalogEventsReloadKeyEventsForgetKeys) {
    auto effects = HotReload::effects_of({R"({"event" : "update", "dataset_id" : 3, "status" : "approved"})"});
    EXPECT_TRUE(effects.catalogs);
    EXPECT_FALSE(effects.keys);
    effects = HotReload::effects_of({R"({"event": "api_key_update", "api_key_id": 4})"});
    EXPECT_FALSE(effects.catalogs);
    EXPECT_TRUE(effects.keys);
    effects = HotReload::effects_of({R"({"event": "tools_changed"})", "not json"});
    EXPECT_TRUE(effects.catalogs);
    EXPECT_TRUE(effects.datasets.empty());
}

TEST(HotReload, DatasetAndMetadataEventsNameTheDatasetsOnce) {
    const auto effects = HotReload::effects_of(
        {R"({"event": "update", "dataset_id": 3, "status": "approved"})",
         R"({"event": "metadata", "dataset_id": 5})", R"({"event": "update", "dataset_id": 3})",
         R"({"event": "update", "dataset_id": "7"})", R"({"event": "update", "dataset_id": 1e99})"});
    EXPECT_TRUE(effects.catalogs);
    EXPECT_EQ(effects.datasets, (std::vector<int>{3, 5}));
}

TEST(StreamHub, SessionsListsThoseWithAnOpenStream) {
    StreamHub hub;
    auto a = hub.open("s1");
    auto b = hub.open("s2");
    b->close();
    EXPECT_EQ(hub.sessions(), std::vector<std::string>{"s1"});
    a.reset();
    EXPECT_TRUE(hub.sessions().empty());
}

TEST(HotReload, ClosedSessionsForgetCachedSessionsOnly) {
    auto effects = HotReload::effects_of({R"({"event": "sessions_closed"})"});
    EXPECT_TRUE(effects.sessions);
    EXPECT_FALSE(effects.catalogs);  // no list_changed broadcast for a closed session
    EXPECT_FALSE(effects.keys);
    effects = HotReload::effects_of({R"({"event": "sessions_closed"})", R"({"event": "api_key_delete"})"});
    EXPECT_TRUE(effects.sessions);
    EXPECT_TRUE(effects.keys);
}

}  // namespace
}  // namespace mcp::bridge
