#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "auth_throttle.hpp"
#include "http_types.hpp"
#include "mcp_backend.hpp"

namespace mcp::bridge {

class Metrics;
class PgPool;

enum class AuthStatus { ok, missing, invalid, unavailable, throttled };

struct AuthResult {
    AuthStatus status = AuthStatus::missing;
    Identity identity;
    long long retry_after_s = 0;  // throttled: when the client may try again
};

// API keys and OAuth access tokens: `Authorization: Bearer <secret>` (or `X-API-Key:
// <secret>`), checked by mcp.authenticate_bearer in the metadata database; an access token
// must have been issued for `resource` (this bridge's /mcp URL when OAuth is on). A successful
// check is remembered for a few seconds (never past a token's expiry) under the secret's
// SHA-256 (never the secret itself), and forgotten at once when the database announces a key
// or token change. Repeated failures from one client address are throttled (AuthThrottle)
// before they reach the database.
class Authenticator {
public:
    Authenticator(PgPool& pool, std::chrono::milliseconds cache_ttl, std::string resource = {},
                  std::string resource_metadata_url = {});

    // Empty when OAuth is off: 401s then advertise no OAuth discovery.
    const std::string& resource_metadata_url() const { return resource_metadata_url_; }

    AuthResult authenticate(const Request& request);
    AuthResult check_secret(std::string_view secret);
    void forget_all();
    // Where the auth phase histogram goes (none: not measured).
    void set_metrics(Metrics* metrics) { metrics_ = metrics; }

    // The credential a request carries, if any.
    static std::optional<std::string> credential(const Request& request);

private:
    bool verified_before(const std::string& key);

    struct Cached {
        Identity identity;
        std::chrono::steady_clock::time_point expires;
    };

    PgPool& pool_;
    Metrics* metrics_ = nullptr;
    const std::chrono::milliseconds cache_ttl_;
    const std::string resource_;
    const std::string resource_metadata_url_;
    std::mutex mutex_;
    std::unordered_map<std::string, Cached> cache_;
    // Hashes of keys the database has accepted since start (bounded): a throttled address may
    // still present one of them, since guessing is what the throttle stops, not known keys.
    std::unordered_set<std::string> verified_;
    AuthThrottle throttle_;
};

// Hex SHA-256, for cache keys.
std::string sha256_hex(std::string_view text);

}  // namespace mcp::bridge

namespace mcp::bridge {

// The answer to a request that failed authentication: 401 with WWW-Authenticate, 429 with
// Retry-After for a throttled client, or 503 when the database could not be asked. `jsonrpc`
// shapes the body as a JSON-RPC error for /mcp. Without a resource metadata URL the challenge
// is a plain Bearer one (static keys: no OAuth discovery to send clients astray); with one, it
// points OAuth clients at it (RFC 9728).
Response auth_failure_response(const AuthResult& auth, bool jsonrpc,
                               std::string_view resource_metadata_url = {});

}  // namespace mcp::bridge
