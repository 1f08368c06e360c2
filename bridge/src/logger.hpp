#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>

namespace mcp::bridge {

// What is logged about one request. Deliberately no headers and no bodies: they carry
// credentials and user data.
struct RequestRecord {
    std::chrono::system_clock::time_point ts;
    std::string method;
    std::string path;  // without the query string, which may carry tokens
    unsigned status = 0;
    double duration_ms = 0;
    std::size_t bytes = 0;  // response body bytes sent
    // Written only when set: the route pattern, and for MCP the JSON-RPC method, the tool,
    // the client's self-declared name and the API key's id (never the key).
    std::string route;
    std::string rpc_method;
    std::string tool;
    std::string client;
    int api_key_id = 0;
    // Where the time went (seconds; negative when the phase did not happen), for the
    // phase histograms: reading, waiting for the handler to start, the handler, waiting for
    // the answer to be written, writing.
    double read_s = -1, queue_s = -1, handler_s = -1, reply_wait_s = -1, write_s = -1;
};

// Sees every finished request (metrics); called on an I/O thread, so it must be quick.
using RequestObserver = std::function<void(const RequestRecord&)>;

// One JSON object per line so log shippers need no parser configuration.
std::string format_request_line(const RequestRecord& record);
std::string format_event_line(std::chrono::system_clock::time_point ts, std::string_view event);

// "2026-12-04T21:46:41.123Z"
std::string iso8601_utc(std::chrono::system_clock::time_point ts);

// Client-controlled text becomes printable ASCII, so a line stays one valid JSON line.
std::string sanitize_for_log(std::string_view text);

class Logger {
public:
    explicit Logger(std::ostream& out);

    void request(const RequestRecord& record);
    void event(std::string_view event);

private:
    void write_line(const std::string& line);

    std::mutex mutex_;  // lines from several threads must not interleave
    std::ostream& out_;
};

}  // namespace mcp::bridge
