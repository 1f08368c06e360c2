#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <sstream>
#include <thread>
#include <vector>

#include "logger.hpp"

namespace mcp::bridge {
namespace {

RequestRecord sample_record() {
    RequestRecord record;
    record.ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
    record.method = "GET";
    record.path = "/healthz";
    record.status = 200;
    record.duration_ms = 1.23456;
    record.bytes = 57;
    return record;
}

TEST(Logger, RequestLineIsOneJsonObjectWithTheAgreedFields) {
    const std::string line = format_request_line(sample_record());
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    ASSERT_FALSE(doc.HasParseError()) << line;
    EXPECT_STREQ(doc["ts"].GetString(), "2023-11-14T22:13:20.123Z");
    EXPECT_STREQ(doc["method"].GetString(), "GET");
    EXPECT_STREQ(doc["path"].GetString(), "/healthz");
    EXPECT_EQ(doc["status"].GetUint(), 200u);
    EXPECT_NEAR(doc["duration_ms"].GetDouble(), 1.2345, 0.001);  // three decimals
    EXPECT_EQ(doc["bytes"].GetUint(), 57u);
    EXPECT_EQ(doc.MemberCount(), 6u);
}

TEST(Logger, HostileBytesInThePathStayInsideOneValidAsciiLine) {
    RequestRecord record = sample_record();
    record.path = std::string("/x\"\n\r\x01\xff\xc3", 8) + "}";
    const std::string line = format_request_line(record);
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    for (const char c : line) {
        EXPECT_LT(static_cast<unsigned char>(c), 0x80);
    }
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    ASSERT_FALSE(doc.HasParseError()) << line;
    EXPECT_STREQ(doc["path"].GetString(), "/x\"%0A%0D%01%FF%C3}");
}

TEST(Logger, LinesFromManyThreadsDoNotInterleave) {
    std::ostringstream out;
    Logger logger(out);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                logger.request(sample_record());
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    std::istringstream lines(out.str());
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
        rapidjson::Document doc;
        doc.Parse(line.c_str());
        ASSERT_FALSE(doc.HasParseError()) << line;
        ++count;
    }
    EXPECT_EQ(count, 800);
}

}  // namespace
}  // namespace mcp::bridge
