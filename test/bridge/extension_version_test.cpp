#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include "extension_version.hpp"
#include "health_routes.hpp"
#include "pg_health.hpp"
#include "test_support.hpp"

namespace mcp::bridge {
namespace {

using test::missing_database_message;
using test::test_database_url;

TEST(ExtensionVersion, TheCurrentVersionIsSupported) {
    EXPECT_EQ(extension_version_problem(std::string("0.4.0")), "");
}

TEST(ExtensionVersion, AnOlderVersionIsRefusedWithTheUpgradeToRun) {
    for (const char* older : {"0.1.0", "0.2.0", "0.3.0"}) {
        const std::string problem = extension_version_problem(std::string(older));
        EXPECT_NE(problem.find(std::string("mcp_analytics ") + older), std::string::npos) << problem;
        EXPECT_NE(problem.find("ALTER EXTENSION mcp_analytics UPDATE"), std::string::npos) << problem;
        EXPECT_NE(problem.find("0.4.0"), std::string::npos) << "names what it needs: " << problem;
    }
}

TEST(ExtensionVersion, ANewerOrStrangeVersionIsRefused) {
    for (const char* version : {"0.5.0", "1.0", "", "0.4.0 ", "0.4"}) {
        EXPECT_NE(extension_version_problem(std::string(version)), "") << version;
    }
}

TEST(ExtensionVersion, AMissingExtensionIsRefusedWithCreateExtension) {
    const std::string problem = extension_version_problem(std::nullopt);
    EXPECT_NE(problem.find("CREATE EXTENSION mcp_analytics"), std::string::npos) << problem;
}

TEST(ExtensionVersion, HealthReportsTheVersionOfTheTestDatabase) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgHealth health(*url);
    const HealthReport report = health.check();
    EXPECT_EQ(report.state, DatabaseState::reachable);
    EXPECT_EQ(report.extension_version, "0.4.0");
    EXPECT_EQ(report.problem, "");
}

TEST(ExtensionVersion, HealthzIsUnavailableForADatabaseWithoutTheExtension) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    PgHealth health(*url + " dbname=postgres");
    const HealthReport report = health.check();
    EXPECT_EQ(report.state, DatabaseState::incompatible);
    const Response response = healthz_response(report);
    EXPECT_EQ(response.result(), http::status::service_unavailable);
    rapidjson::Document body;
    body.Parse(response.body().c_str());
    ASSERT_TRUE(body.IsObject()) << response.body();
    EXPECT_STREQ(body["status"].GetString(), "unavailable");
    EXPECT_STREQ(body["database"].GetString(), "incompatible");
    EXPECT_NE(std::string(body["error"].GetString()).find("CREATE EXTENSION"), std::string::npos);
}

TEST(ExtensionVersion, StartupCheckPassesTheTestDatabaseAndAnUnreachableOne) {
    const auto url = test_database_url();
    ASSERT_TRUE(url) << missing_database_message;
    EXPECT_EQ(startup_extension_problem(*url, std::chrono::seconds(5)), "");
    // Nobody listens there: the bridge starts anyway and /healthz reports the database.
    EXPECT_EQ(startup_extension_problem("host=127.0.0.1 port=1 connect_timeout=1", std::chrono::seconds(2)), "");
    EXPECT_EQ(startup_extension_problem("", std::chrono::seconds(1)), "");
}

}  // namespace
}  // namespace mcp::bridge
