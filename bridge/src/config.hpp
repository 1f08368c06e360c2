#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mcp::bridge {

// Protocol limits. They bound the memory and the time one client can take from the server.
struct Limits {
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_body_bytes = 1024 * 1024;
    // From the first byte of a request (or from accept) to the last byte of its body.
    std::chrono::milliseconds read_timeout{30'000};
    // How long a keep-alive connection may sit between two requests.
    std::chrono::milliseconds idle_timeout{60'000};
};

struct ListenAddress {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  // 0 lets the kernel pick a free port
};

struct Config {
    ListenAddress listen;
    // libpq conninfo or URI of the metadata database; empty means unconfigured.
    std::string database_url;
    unsigned threads = 2;
    Limits limits;
    // Upper bound on a graceful stop; requests still running after it are cut off.
    std::chrono::milliseconds shutdown_timeout{10'000};
};

enum class ParseOutcome { run, help, error };

struct ParseResult {
    ParseOutcome outcome = ParseOutcome::run;
    Config config;
    std::string error;  // one line, set when outcome == error; never contains the database URL
};

// Looks up one environment variable; injectable so tests do not depend on the real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

EnvLookup process_environment();

// Environment first, then flags, so flags win. `args` excludes the program name.
ParseResult parse_config(const std::vector<std::string>& args, const EnvLookup& env);

std::string usage_text();

}  // namespace mcp::bridge
