#include "logger.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <utility>
#include <cstdio>
#include <ctime>

namespace mcp::bridge {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(JsonWriter& writer, const char* key, const std::string& value) {
    writer.Key(key);
    writer.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

std::string iso8601_utc(std::chrono::system_clock::time_point ts) {
    const auto since_epoch = ts.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    std::tm utc{};
    gmtime_r(&t, &utc);
    char text[64];  // sized for any int the compiler can imagine in each field
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(millis));
    return text;
}

std::string sanitize_for_log(std::string_view text) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte >= 0x7f) {
            // Percent-encoding keeps the line ASCII, even for invalid UTF-8.
            out += '%';
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

std::string format_request_line(const RequestRecord& record) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.SetMaxDecimalPlaces(3);
    writer.StartObject();
    write_string(writer, "ts", iso8601_utc(record.ts));
    write_string(writer, "method", sanitize_for_log(record.method));
    write_string(writer, "path", sanitize_for_log(record.path));
    writer.Key("status");
    writer.Uint(record.status);
    writer.Key("duration_ms");
    writer.Double(std::isfinite(record.duration_ms) ? record.duration_ms : 0.0);
    writer.Key("bytes");
    writer.Uint64(record.bytes);
    const std::pair<const char*, const std::string*> optional_fields[] = {
        {"route", &record.route},
        {"rpc", &record.rpc_method},
        {"tool", &record.tool},
        {"client", &record.client}};
    for (const auto& [key, value] : optional_fields) {
        if (!value->empty()) {
            write_string(writer, key, sanitize_for_log(*value));
        }
    }
    if (record.api_key_id > 0) {
        writer.Key("api_key_id");
        writer.Int(record.api_key_id);
    }
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize()) + '\n';
}

std::string format_event_line(std::chrono::system_clock::time_point ts, std::string_view event) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_string(writer, "ts", iso8601_utc(ts));
    write_string(writer, "event", sanitize_for_log(event));
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize()) + '\n';
}

Logger::Logger(std::ostream& out) : out_(out) {}

void Logger::request(const RequestRecord& record) { write_line(format_request_line(record)); }

void Logger::event(std::string_view event) {
    write_line(format_event_line(std::chrono::system_clock::now(), event));
}

void Logger::write_line(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    out_ << line << std::flush;
}

}  // namespace mcp::bridge
