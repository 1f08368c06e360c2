#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <future>
#include <vector>

#include "pg_health.hpp"
#include "test_support.hpp"

namespace mcp::bridge {
namespace {

using test::missing_database_message;
using test::test_database_url;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Terminates the backends of one application_name from a separate connection, and waits
// until they are gone.
void terminate_backends(const std::string& url, const std::string& application_name) {
    PGconn* admin = PQconnectdb(url.c_str());
    ASSERT_EQ(PQstatus(admin), CONNECTION_OK);
    const char* params[] = {application_name.c_str()};
    PGresult* result = PQexecParams(
        admin,
        // In the select list, not the WHERE clause: there the planner may call it on any row.
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE application_name = $1",
        1, nullptr, params, nullptr, nullptr, 0);
    ASSERT_EQ(PQresultStatus(result), PGRES_TUPLES_OK) << PQerrorMessage(admin);
    ASSERT_EQ(PQntuples(result), 1);
    EXPECT_STREQ(PQgetvalue(result, 0, 0), "t");
    PQclear(result);
    PQfinish(admin);
}

TEST(PgHealth, ReportsUnconfiguredWithoutADatabaseUrl) {
    PgHealth health("");
    EXPECT_EQ(health.check().state, DatabaseState::unconfigured);
}

TEST(PgHealth, ReportsReachableWithLatencyForALiveDatabase) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgHealth health(*url);
    const HealthReport report = health.check();
    EXPECT_EQ(report.state, DatabaseState::reachable);
    EXPECT_GT(report.latency_ms, 0.0);
    EXPECT_LT(report.latency_ms, 2000.0);
}

TEST(PgHealth, ReusesOneCachedConnectionAcrossChecks) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgHealth health(*url);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(health.check().state, DatabaseState::reachable);
    }
    EXPECT_EQ(health.connections_opened(), 1u);
}

TEST(PgHealth, ReconnectsWhenTheCachedConnectionIsKilled) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    const std::string name = "mcp-bridge-reconnect-test";
    PgHealth health(test::with_application_name(*url, name));
    ASSERT_EQ(health.check().state, DatabaseState::reachable);
    terminate_backends(*url, name);
    EXPECT_EQ(health.check().state, DatabaseState::reachable);
    EXPECT_EQ(health.connections_opened(), 2u);
}

TEST(PgHealth, ReportsUnreachableQuicklyWhenThePortIsClosed) {
    const auto start = std::chrono::steady_clock::now();
    PgHealth health("host=127.0.0.1 port=" + std::to_string(test::closed_port()) +
                    " user=nobody dbname=nothing connect_timeout=30");
    EXPECT_EQ(health.check().state, DatabaseState::unreachable);
    EXPECT_LT(seconds_since(start), 1.0);
}

TEST(PgHealth, GivesUpAtItsDeadlineWhenTheServerNeverAnswers) {
    test::SilentListener blackhole;
    PgHealthOptions options;
    options.check_timeout = std::chrono::milliseconds(300);
    options.wait_timeout = std::chrono::milliseconds(600);
    PgHealth health("host=127.0.0.1 port=" + std::to_string(blackhole.port()) +
                        " user=nobody dbname=nothing sslmode=disable",
                    options);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(health.check().state, DatabaseState::unreachable);
    const double elapsed = seconds_since(start);
    EXPECT_GE(elapsed, 0.25);
    EXPECT_LT(elapsed, 1.0);
}

TEST(PgHealth, ConcurrentCallersShareOneCheckInsteadOfQueueing) {
    test::SilentListener blackhole;
    PgHealthOptions options;
    options.check_timeout = std::chrono::milliseconds(500);
    options.wait_timeout = std::chrono::milliseconds(1000);
    PgHealth health("host=127.0.0.1 port=" + std::to_string(blackhole.port()) +
                        " user=nobody dbname=nothing sslmode=disable",
                    options);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::future<HealthReport>> reports;
    for (int i = 0; i < 6; ++i) {
        reports.push_back(std::async(std::launch::async, [&] { return health.check(); }));
    }
    for (auto& report : reports) {
        EXPECT_EQ(report.get().state, DatabaseState::unreachable);
    }
    // Six serialized checks would take three seconds.
    EXPECT_LT(seconds_since(start), 1.5);
}

}  // namespace
}  // namespace mcp::bridge
