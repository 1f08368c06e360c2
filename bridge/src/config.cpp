#include "config.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstdlib>
#include <sstream>
#include <string_view>

namespace mcp::bridge {

namespace {

// An empty reason means the value was accepted.
using Apply = std::function<std::string(Config&, const std::string&)>;

struct Setting {
    std::string_view flag;
    std::string_view env;
    std::string_view value_name;  // empty: a switch, given without a value
    std::string_view help;
    // The database URL carries a password: its value is never echoed in an error.
    bool secret;
    Apply apply;
};

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return value;
}

std::string apply_listen(Config& config, const std::string& value) {
    const std::string expected = "expected HOST:PORT with PORT 0-65535";
    std::string host;
    std::string_view port_text;
    if (!value.empty() && value.front() == '[') {
        // IPv6 literals carry colons of their own, so they come bracketed.
        const auto close = value.find("]:");
        if (close == std::string::npos) {
            return expected;
        }
        host = value.substr(1, close - 1);
        port_text = std::string_view(value).substr(close + 2);
    } else {
        const auto colon = value.rfind(':');
        if (colon == std::string::npos) {
            return expected;
        }
        host = value.substr(0, colon);
        port_text = std::string_view(value).substr(colon + 1);
    }
    const auto port = parse_unsigned(port_text);
    if (host.empty() || !port || *port > 65535) {
        return expected;
    }
    config.listen.host = host;
    config.listen.port = static_cast<std::uint16_t>(*port);
    return {};
}

std::string apply_database_url(Config& config, const std::string& value) {
    if (!value.empty()) {
        // Checked at start so a typo fails loudly instead of as a permanently unreachable database.
        // libpq's own message may quote the string, so it is discarded.
        char* message = nullptr;
        PQconninfoOption* options = PQconninfoParse(value.c_str(), &message);
        PQfreemem(message);
        if (options == nullptr) {
            return "not a libpq connection string or URI";
        }
        PQconninfoFree(options);
    }
    config.database_url = value;
    return {};
}

Apply unsigned_in_range(std::uint64_t min, std::uint64_t max,
                        std::function<void(Config&, std::uint64_t)> store) {
    return [=](Config& config, const std::string& value) -> std::string {
        const auto number = parse_unsigned(value);
        if (!number || *number < min || *number > max) {
            return "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
        }
        store(config, *number);
        return {};
    };
}

// Accepts "30" (seconds), "30s", "500ms" or "1h": tests and operators think in different
// units. No minutes: "5m" reads too much like milliseconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::uint64_t scale = 1000;
    if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
        scale = 1;
        text.remove_suffix(2);
    } else if (text.size() > 1 && text.back() == 's') {
        text.remove_suffix(1);
    } else if (text.size() > 1 && text.back() == 'h') {
        scale = 3'600'000;
        text.remove_suffix(1);
    }
    const auto number = parse_unsigned(text);
    constexpr std::uint64_t one_day_ms = 24ULL * 3600 * 1000;
    if (!number || *number == 0 || *number > one_day_ms / scale) {
        return std::nullopt;
    }
    return std::chrono::milliseconds(*number * scale);
}

Apply duration(std::function<void(Config&, std::chrono::milliseconds)> store) {
    return [=](Config& config, const std::string& value) -> std::string {
        const auto parsed = parse_duration(value);
        if (!parsed) {
            return "expected a positive duration such as 30, 30s, 500ms or 1h (at most one day)";
        }
        store(config, *parsed);
        return {};
    };
}

std::string apply_switch(bool Config::*member, Config& config, const std::string& value) {
    if (value == "1" || value == "true" || value == "yes" || value == "on") {
        config.*member = true;
    } else if (value == "0" || value == "false" || value == "no" || value == "off") {
        config.*member = false;
    } else {
        return "expected true or false";
    }
    return {};
}

// The non-empty items of a comma-separated list, trimmed.
std::vector<std::string_view> list_items(std::string_view rest) {
    std::vector<std::string_view> items;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') {
            item.remove_prefix(1);
        }
        while (!item.empty() && item.back() == ' ') {
            item.remove_suffix(1);
        }
        if (!item.empty()) {
            items.push_back(item);
        }
    }
    return items;
}

std::string apply_origins(Config& config, const std::string& value) {
    config.allowed_origins.clear();
    for (const std::string_view item : list_items(value)) {
        if (item != "*" && item.find("://") == std::string_view::npos) {
            return "expected a comma-separated list of origins such as https://app.example.com, or *";
        }
        config.allowed_origins.emplace_back(item);
    }
    return {};
}

std::string apply_trusted_proxies(Config& config, const std::string& value) {
    return parse_trusted_proxies(value, config.proxy_trust).value_or(std::string());
}

std::string apply_public_url(Config& config, const std::string& value) {
    return parse_public_url(value, config.proxy_trust.public_url).value_or(std::string());
}

std::string apply_hosts(Config& config, const std::string& value) {
    config.allowed_hosts.clear();
    for (const std::string_view item : list_items(value)) {
        if (item != "*" && (item.find('/') != std::string_view::npos ||
                            item.find_first_of(" \t@?#") != std::string_view::npos)) {
            return "expected a comma-separated list of host names such as mcp.example.com, or *";
        }
        config.allowed_hosts.emplace_back(item);
    }
    return {};
}

const std::vector<Setting>& settings() {
    static const std::vector<Setting> table = {
        {"--listen", "MCP_BRIDGE_LISTEN", "HOST:PORT",
         "address to listen on; port 0 picks a free port (default 127.0.0.1:8080)", false,
         apply_listen},
        {"--database-url", "MCP_BRIDGE_DATABASE_URL", "URL",
         "libpq conninfo or URI of the metadata database; prefer the environment variable, "
         "flags are visible in the process list (default: none, /healthz reports unconfigured)",
         true, apply_database_url},
        {"--threads", "MCP_BRIDGE_THREADS", "N", "I/O threads, 1-64 (default 2)", false,
         unsigned_in_range(1, 64,
                           [](Config& c, std::uint64_t n) { c.threads = static_cast<unsigned>(n); })},
        {"--max-header-bytes", "MCP_BRIDGE_MAX_HEADER_BYTES", "N",
         "largest accepted request header, 1024-1048576 (default 8192)", false,
         unsigned_in_range(1024, 1024 * 1024,
                           [](Config& c, std::uint64_t n) { c.limits.max_header_bytes = n; })},
        {"--max-body-bytes", "MCP_BRIDGE_MAX_BODY_BYTES", "N",
         "largest accepted request body, 0-1073741824 (default 1048576)", false,
         unsigned_in_range(0, 1024ULL * 1024 * 1024,
                           [](Config& c, std::uint64_t n) { c.limits.max_body_bytes = n; })},
        {"--read-timeout", "MCP_BRIDGE_READ_TIMEOUT", "DURATION",
         "time allowed to receive one request (default 30s)", false,
         duration([](Config& c, std::chrono::milliseconds d) { c.limits.read_timeout = d; })},
        {"--idle-timeout", "MCP_BRIDGE_IDLE_TIMEOUT", "DURATION",
         "time a keep-alive connection may wait for its next request (default 60s)", false,
         duration([](Config& c, std::chrono::milliseconds d) { c.limits.idle_timeout = d; })},
        {"--shutdown-timeout", "MCP_BRIDGE_SHUTDOWN_TIMEOUT", "DURATION",
         "time requests in flight get to finish on SIGTERM/SIGINT (default 10s)", false,
         duration([](Config& c, std::chrono::milliseconds d) { c.shutdown_timeout = d; })},
        {"--workers", "MCP_BRIDGE_WORKERS", "N",
         "threads that run requests in --stdio mode, 1-256 (default 16); over HTTP, requests run as fibers on the I/O threads", false,
         unsigned_in_range(1, 256,
                           [](Config& c, std::uint64_t n) { c.workers = static_cast<unsigned>(n); })},
        {"--db-pool-size", "MCP_BRIDGE_DB_POOL_SIZE", "N",
         "connections to the metadata database, 1-256 (default 8)", false,
         unsigned_in_range(1, 256, [](Config& c, std::uint64_t n) { c.db_pool_size = n; })},
        {"--query-timeout", "MCP_BRIDGE_QUERY_TIMEOUT", "DURATION",
         "statement_timeout of every database call, tool calls included (default 60s)", false,
         duration([](Config& c, std::chrono::milliseconds d) { c.query_timeout = d; })},
        {"--auth-cache-ttl", "MCP_BRIDGE_AUTH_CACHE_TTL", "DURATION",
         "how long a checked API key is trusted before it is checked again; revocations "
         "reach the bridge at once through NOTIFY (default 10s)", false,
         duration([](Config& c, std::chrono::milliseconds d) { c.auth_cache_ttl = d; })},
        {"--session-idle-timeout", "MCP_BRIDGE_SESSION_IDLE_TIMEOUT", "DURATION",
         "an MCP session unused this long is forgotten (default 24h)", false,
         duration([](Config& c, std::chrono::milliseconds d) {
             c.session_idle_timeout = std::chrono::duration_cast<std::chrono::seconds>(d);
         })},
        {"--sse-heartbeat", "MCP_BRIDGE_SSE_HEARTBEAT", "DURATION",
         "interval of keep-alive comments on idle event streams (default 15s)", false,
         duration([](Config& c, std::chrono::milliseconds d) { c.limits.sse_heartbeat = d; })},
        {"--allowed-origins", "MCP_BRIDGE_ALLOWED_ORIGINS", "LIST",
         "browser origins allowed to call /mcp and /api besides loopback ones, comma-separated, "
         "or * (default: none)", false, apply_origins},
        {"--trusted-proxies", "MCP_BRIDGE_TRUSTED_PROXIES", "LIST",
         "peers whose X-Forwarded-Proto/-Host and Forwarded headers count (TLS proxies): addresses "
         "and networks, comma-separated, or * when only a proxy can reach the bridge (default: none)",
         false, apply_trusted_proxies},
        {"--public-url", "MCP_BRIDGE_PUBLIC_URL", "URL",
         "the URL clients reach the bridge at, such as https://analytics.example.com: its scheme "
         "and host are believed over any header, it is used in links, and it turns on OAuth "
         "sign-in for MCP clients (ChatGPT, Claude) with this URL as issuer (default: none, "
         "API keys only)",
         false, apply_public_url},
        {"--allowed-hosts", "MCP_BRIDGE_ALLOWED_HOSTS", "LIST",
         "Host header names /mcp answers besides localhost, 127.0.0.1 and [::1], "
         "comma-separated, or * for any; checked always on a loopback listener, on others "
         "only when set (default: none)", false, apply_hosts},
        {"--stdio", "MCP_BRIDGE_STDIO", "",
         "serve one MCP session on stdin/stdout (desktop clients) instead of HTTP; the API key "
         "comes from the environment variable MCP_API_KEY", false,
         [](Config& c, const std::string& v) { return apply_switch(&Config::stdio, c, v); }},
    };
    return table;
}

const Setting* find_setting(std::string_view flag) {
    for (const auto& setting : settings()) {
        if (setting.flag == flag) {
            return &setting;
        }
    }
    return nullptr;
}

struct RawValue {
    const Setting* setting;
    std::string source;  // the flag or variable name, for the error message
    std::string value;
};

std::string describe_error(const RawValue& raw, const std::string& reason) {
    std::string message = "invalid " + raw.source + " value";
    if (!raw.setting->secret) {
        message += " '" + raw.value + "'";
    }
    return message + ": " + reason;
}

ParseResult error_result(std::string message) {
    ParseResult result;
    result.outcome = ParseOutcome::error;
    result.error = std::move(message);
    return result;
}

}  // namespace

EnvLookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) {
            return std::nullopt;
        }
        return std::string(value);
    };
}

ParseResult parse_config(const std::vector<std::string>& args, const EnvLookup& env) {
    for (const auto& arg : args) {
        if (arg == "--help" || arg == "-h") {
            ParseResult result;
            result.outcome = ParseOutcome::help;
            return result;
        }
    }

    // One slot per setting: a flag replaces the variable, so a bad variable that a flag
    // overrides is not an error.
    const auto& table = settings();
    std::vector<std::optional<RawValue>> chosen(table.size());
    for (std::size_t s = 0; s < table.size(); ++s) {
        const std::string env_name(table[s].env);
        auto value = env(env_name);
        // An empty variable counts as unset, as shells make it easy to export one by accident.
        if (value && !value->empty()) {
            chosen[s] = RawValue{&table[s], env_name, *value};
        }
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        const auto equals = arg.find('=');
        const std::string flag = arg.substr(0, equals);
        const Setting* setting = arg.rfind("--", 0) == 0 ? find_setting(flag) : nullptr;
        if (setting == nullptr) {
            return error_result(arg.rfind("-", 0) == 0 ? "unknown flag '" + flag + "' (see --help)"
                                                       : "unexpected argument '" + arg + "'");
        }
        auto& slot = chosen[static_cast<std::size_t>(setting - table.data())];
        if (setting->value_name.empty()) {
            slot = RawValue{setting, flag, equals != std::string::npos ? arg.substr(equals + 1) : "true"};
        } else if (equals != std::string::npos) {
            slot = RawValue{setting, flag, arg.substr(equals + 1)};
        } else if (i + 1 < args.size()) {
            slot = RawValue{setting, flag, args[++i]};
        } else {
            return error_result("missing value for " + flag);
        }
    }

    ParseResult result;
    if (auto key = env("MCP_API_KEY"); key && !key->empty()) {
        result.config.api_key = *key;
    }
    for (const auto& raw : chosen) {
        if (!raw) {
            continue;
        }
        const std::string reason = raw->setting->apply(result.config, raw->value);
        if (!reason.empty()) {
            return error_result(describe_error(*raw, reason));
        }
    }
    return result;
}

std::string usage_text() {
    std::ostringstream out;
    out << "Usage: mcp-bridge [FLAGS]\n\n"
           "HTTP front end of mcp_analytics. Every flag has an environment variable;\n"
           "flags win over the environment. Durations: 30, 30s, 500ms or 1h.\n\n";
    for (const auto& setting : settings()) {
        out << "  " << setting.flag;
        if (!setting.value_name.empty()) {
            out << ' ' << setting.value_name;
        }
        out << "  (env " << setting.env << ")\n      " << setting.help << '\n';
    }
    out << "  MCP_API_KEY (environment only)\n"
           "      the API key of the --stdio session\n";
    out << "  --help\n      print this text and exit\n";
    return out.str();
}

}  // namespace mcp::bridge
