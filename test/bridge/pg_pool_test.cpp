#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "cancel_token.hpp"
#include "fiber.hpp"
#include "pg_pool.hpp"
#include "test_support.hpp"

namespace mcp::bridge {
namespace {

using namespace std::chrono_literals;
using test::missing_database_message;
using test::test_database_url;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

PgQuery query(std::string sql, PgParams params = {}, DbRole role = DbRole::login) {
    PgQuery q;
    q.sql = std::move(sql);
    q.params = std::move(params);
    q.role = role;
    return q;
}

TEST(PgPool, RunsParameterizedStatementsAndReturnsTextRows) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgPool pool(*url);
    PgRows rows;
    PgError error;
    ASSERT_TRUE(pool.run(query("SELECT $1::integer + 1, NULL::text, $2", {"41", std::nullopt}), rows, error));
    ASSERT_EQ(rows.rows.size(), 1u);
    EXPECT_EQ(rows.rows[0][0], "42");
    EXPECT_FALSE(rows.rows[0][1]);
    EXPECT_FALSE(rows.rows[0][2]) << "a NULL parameter arrives as NULL";
    // Parameters are never spliced into the text.
    ASSERT_TRUE(pool.run(query("SELECT $1::text", {"'); DROP TABLE x; --"}), rows, error));
    EXPECT_EQ(rows.rows[0][0], "'); DROP TABLE x; --");
}

TEST(PgPool, ServerErrorsCarryTheirFieldsAndLeaveTheConnectionUsable) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgPool pool(*url, PgPoolOptions{1});
    PgRows rows;
    PgError error;
    EXPECT_FALSE(pool.run(query("DO $$BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '22023', "
                                "DETAIL = 'the detail', HINT = 'the hint'; END$$"),
                          rows, error));
    EXPECT_EQ(error.kind, PgError::Kind::server);
    EXPECT_EQ(error.sqlstate, "22023");
    EXPECT_EQ(error.message, "boom");
    EXPECT_EQ(error.detail, "the detail");
    EXPECT_EQ(error.hint, "the hint");
    EXPECT_TRUE(pool.run(query("SELECT 1"), rows, error));
    EXPECT_EQ(pool.stats().connections_opened, 1u);
}

TEST(PgPool, StatementsRunAsTheRoleOfTheApiKey) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgPool pool(*url, PgPoolOptions{1});
    PgRows rows;
    PgError error;
    ASSERT_TRUE(pool.run(query("SELECT current_user", {}, DbRole::reader), rows, error)) << error.message;
    EXPECT_EQ(rows.rows[0][0], "mcp_reader");
    ASSERT_TRUE(pool.run(query("SELECT current_user", {}, DbRole::admin), rows, error)) << error.message;
    EXPECT_EQ(rows.rows[0][0], "mcp_admin");
    ASSERT_TRUE(pool.run(query("SELECT current_user = session_user", {}, DbRole::login), rows, error));
    EXPECT_EQ(rows.rows[0][0], "t");
    // As a reader, the GRANTs apply.
    EXPECT_FALSE(pool.run(query("SELECT mcp.create_api_key('pool test', 'admin')", {}, DbRole::reader),
                          rows, error));
    EXPECT_EQ(error.sqlstate, "42501");
}

TEST(PgPool, ReconnectsWhenItsConnectionsWereKilledAsByARestart) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    const std::string name = "mcp-bridge-pool-restart-test";
    PgPool pool(test::with_application_name(*url, name), PgPoolOptions{2});
    PgRows rows;
    PgError error;
    ASSERT_TRUE(pool.run(query("SELECT 1"), rows, error));
    ASSERT_EQ(test::terminate_backends(*url, name), 1);
    EXPECT_TRUE(pool.run(query("SELECT 2"), rows, error)) << static_cast<int>(error.kind);
    EXPECT_EQ(rows.rows[0][0], "2");
    EXPECT_EQ(pool.stats().connections_opened, 2u);
}

TEST(PgPool, TheQueryTimeoutIsEnforcedByTheServer) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgPoolOptions options;
    options.size = 1;
    options.query_timeout = 300ms;
    PgPool pool(*url, options);
    PgRows rows;
    PgError error;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(pool.run(query("SELECT pg_sleep(10)"), rows, error));
    EXPECT_LT(seconds_since(start), 3.0);
    EXPECT_EQ(error.sqlstate, "57014");
    EXPECT_TRUE(pool.run(query("SELECT 1"), rows, error)) << "the connection survives a timeout";
}

TEST(PgPool, ACancelTokenStopsARunningStatement) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgPool pool(*url, PgPoolOptions{1});
    CancelToken token;
    auto running = std::async(std::launch::async, [&] {
        PgRows rows;
        PgError error;
        pool.run(query("SELECT pg_sleep(10)"), rows, error, &token);
        return error.kind;
    });
    std::this_thread::sleep_for(300ms);
    const auto start = std::chrono::steady_clock::now();
    token.cancel();
    EXPECT_EQ(running.get(), PgError::Kind::cancelled);
    EXPECT_LT(seconds_since(start), 2.0);
}

TEST(PgPool, AnExhaustedPoolAnswersBusyAfterTheAcquireTimeout) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgPoolOptions options;
    options.size = 1;
    options.acquire_timeout = 200ms;
    PgPool pool(*url, options);
    auto busy = std::async(std::launch::async, [&] {
        PgRows rows;
        PgError error;
        return pool.run(query("SELECT pg_sleep(1.5)"), rows, error);
    });
    std::this_thread::sleep_for(300ms);
    PgRows rows;
    PgError error;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(pool.run(query("SELECT 1"), rows, error));
    EXPECT_EQ(error.kind, PgError::Kind::busy);
    EXPECT_LT(seconds_since(start), 1.0);
    EXPECT_EQ(pool.stats().acquire_timeouts, 1u);
    EXPECT_TRUE(busy.get());
}

TEST(PgPool, AnUnreachableDatabaseIsUnavailableQuickly) {
    PgPoolOptions options;
    options.connect_timeout = 1s;
    PgPool pool("host=127.0.0.1 port=" + std::to_string(test::closed_port()) + " user=x dbname=x", options);
    PgRows rows;
    PgError error;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(pool.run(query("SELECT 1"), rows, error));
    EXPECT_EQ(error.kind, PgError::Kind::unavailable);
    EXPECT_LT(seconds_since(start), 3.0);
    EXPECT_GE(pool.stats().connect_failures, 1u);
}

TEST(PgPool, ConcurrentCallersShareAFixedNumberOfConnections) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgPool pool(*url, PgPoolOptions{3});
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                PgRows rows;
                PgError error;
                ok += pool.run(query("SELECT 1"), rows, error) ? 1 : 0;
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(ok.load(), 200);
    EXPECT_LE(pool.stats().connections_opened, 3u);
    EXPECT_EQ(pool.stats().in_use, 0u);
}

TEST(PgPool, FibersWaitInLineForAConnectionWithoutHoldingTheirThread) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgPool pool(*url, PgPoolOptions{1});
    boost::asio::io_context io;  // one thread, as --threads 1
    constexpr int callers = 6;
    std::atomic<int> ok{0}, done{0};
    std::mutex order_mutex;
    std::vector<int> order;
    for (int i = 0; i < callers; ++i) {
        auto strand = boost::asio::make_strand(io);
        boost::asio::post(strand, [&, strand, i] {
            fiber::start(strand, [&, i] {
                PgRows rows;
                PgError error;
                const bool ran = pool.run(query("SELECT pg_sleep(0.05), $1::int", {std::to_string(i)}), rows, error);
                ok += ran ? 1 : 0;
                std::lock_guard<std::mutex> lock(order_mutex);
                order.push_back(i);
                ++done;
            });
        });
    }
    std::atomic<std::size_t> most_waiting{0};
    std::thread watcher([&] {
        const auto give_up = std::chrono::steady_clock::now() + 25s;
        while (done < callers && std::chrono::steady_clock::now() < give_up) {
            most_waiting = std::max<std::size_t>(most_waiting, pool.stats().waiting);
            std::this_thread::sleep_for(1ms);
        }
    });
    io.run_for(20s);
    watcher.join();
    EXPECT_EQ(ok.load(), callers);
    // Five fibers waited for the one connection at once, on the one thread that also ran the
    // sixth's query: no fiber held the thread while it waited.
    EXPECT_EQ(most_waiting.load(), static_cast<std::size_t>(callers - 1));
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5})) << "first come, first served";
    EXPECT_EQ(pool.stats().connections_opened, 1u);
}

TEST(PgPool, AFiberWaitingForABusyPoolGetsBusyAtTheAcquireTimeout) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgPoolOptions options{1};
    options.acquire_timeout = 200ms;
    PgPool pool(*url, options);
    boost::asio::io_context io;
    PgError first_error, second_error;
    std::atomic<int> done{0};
    for (int i = 0; i < 2; ++i) {
        auto strand = boost::asio::make_strand(io);
        boost::asio::post(strand, [&, strand, i] {
            fiber::start(strand, [&, i] {
                PgRows rows;
                pool.run(query(i == 0 ? "SELECT pg_sleep(1)" : "SELECT 1"), rows, i == 0 ? first_error : second_error);
                ++done;
            });
        });
    }
    io.run_for(20s);
    EXPECT_EQ(done.load(), 2);
    EXPECT_EQ(first_error.kind, PgError::Kind::none);
    EXPECT_EQ(second_error.kind, PgError::Kind::busy);
    EXPECT_EQ(pool.stats().acquire_timeouts, 1u);
    EXPECT_EQ(pool.stats().waiting, 0u);
}

}  // namespace
}  // namespace mcp::bridge
