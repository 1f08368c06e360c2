#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "config.hpp"

namespace mcp::bridge::test {

// What the harness must provide; the message tells whoever runs the tests by hand.
constexpr const char* missing_database_message =
    "MCP_TEST_DATABASE_URL is not set: point it at a live PostgreSQL, e.g. "
    "MCP_TEST_DATABASE_URL='host=127.0.0.1 port=5432 user=postgres dbname=postgres'";

std::optional<std::string> test_database_url();

// The same URL with application_name set, so a test can find its own backend.
std::string with_application_name(const std::string& url, const std::string& name);

// Listens on 127.0.0.1, port 0, with short limits, so tests run in parallel and fast.
Config test_config();

struct HttpReply {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;

    std::string header(const std::string& lower_case_name) const;
};

// A blocking HTTP client on a plain socket. Every wait has a timeout, so a misbehaving server
// fails the test instead of hanging it, and requests can be sent byte for byte as written.
class RawClient {
public:
    explicit RawClient(std::uint16_t port);  // connects to 127.0.0.1; throws on failure
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    void send(std::string_view data);
    // nullopt when the connection ends or the timeout passes before a whole reply arrived.
    std::optional<HttpReply> read_reply(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                        bool head = false);
    // True when the server closes the connection (end of stream or reset) within `timeout`.
    bool wait_closed(std::chrono::milliseconds timeout);
    // Raw bytes received so far plus whatever arrives until `needle` shows up (or the
    // timeout passes, or the connection ends); for streamed answers such as SSE.
    std::string read_until(std::string_view needle, std::chrono::milliseconds timeout);
    void close();

private:
    enum class Received { data, closed, timeout };
    Received receive_some(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string pending_;
};

std::string get_request(std::string_view target, bool keep_alive = true,
                        std::string_view method = "GET");

// One request on its own connection; throws when no reply arrives.
HttpReply fetch(std::uint16_t port, std::string_view target, std::string_view method = "GET");

// True when a TCP connection to 127.0.0.1:port is refused.
bool connection_refused(std::uint16_t port);

// Terminates the backends with this application_name from a separate connection (what a
// database restart does to them); returns how many there were.
int terminate_backends(const std::string& url, const std::string& application_name);

// Runs one statement on a fresh connection; returns the first value of the first row.
std::string query_value(const std::string& url, const std::string& sql);

// A port that nothing listens on (it was just free).
std::uint16_t closed_port();

// A TCP listener that never accepts: the kernel completes handshakes, nobody ever answers,
// which is what a blackholed database looks like to libpq after connect.
class SilentListener {
public:
    SilentListener();
    ~SilentListener();
    SilentListener(const SilentListener&) = delete;
    SilentListener& operator=(const SilentListener&) = delete;
    std::uint16_t port() const { return port_; }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace mcp::bridge::test
