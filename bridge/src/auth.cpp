#include "auth.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "mcp_protocol.hpp"
#include "http_headers.hpp"
#include "metrics.hpp"
#include "pg_pool.hpp"
#include "proxy_trust.hpp"
#include "responses.hpp"

namespace mcp::bridge {

namespace {

constexpr std::size_t max_cached_keys = 10'000;
constexpr std::size_t max_secret_bytes = 200;

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        const char a = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
        if (a != prefix[i]) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string sha256_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

Authenticator::Authenticator(PgPool& pool, std::chrono::milliseconds cache_ttl,
                             std::string resource, std::string resource_metadata_url)
    : pool_(pool),
      cache_ttl_(cache_ttl),
      resource_(std::move(resource)),
      resource_metadata_url_(std::move(resource_metadata_url)) {}

std::optional<std::string> Authenticator::credential(const Request& request) {
    const auto authorization = request.find(http::field::authorization);
    if (authorization != request.end()) {
        const std::string_view value = trim(authorization->value());
        if (iequals_prefix(value, "bearer ")) {
            const std::string_view secret = trim(value.substr(7));
            if (!secret.empty()) {
                return std::string(secret);
            }
        }
        return std::string();  // present but not a bearer token: a wrong credential
    }
    const auto api_key = request.find("X-API-Key");
    if (api_key != request.end()) {
        return std::string(trim(api_key->value()));
    }
    return std::nullopt;
}

AuthResult Authenticator::authenticate(const Request& request) {
    const auto secret = credential(request);
    if (!secret) {
        return {AuthStatus::missing, {}};
    }
    const std::string client = header_value(request, client_address_header);
    if (const long long wait = throttle_.refused_for(client);
        wait > 0 && !verified_before(sha256_hex(*secret))) {
        return {AuthStatus::throttled, {}, wait};
    }
    AuthResult result = check_secret(*secret);
    if (result.status == AuthStatus::invalid) {
        throttle_.record_failure(client);
    }
    return result;
}

bool Authenticator::verified_before(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    return verified_.count(key) > 0;
}

AuthResult Authenticator::check_secret(std::string_view secret) {
    if (secret.empty() || secret.size() > max_secret_bytes) {
        return {AuthStatus::invalid, {}};
    }
    PhaseTimer timing(metrics_, Metrics::Phase::auth);
    const std::string key = sha256_hex(secret);
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = cache_.find(key);
        if (found != cache_.end()) {
            if (found->second.expires > now) {
                return {AuthStatus::ok, found->second.identity};
            }
            cache_.erase(found);
        }
    }
    PgQuery query;
    // An OAuth access token is checked against the resource it must have been issued for.
    query.sql =
        "SELECT api_key_id, name, role,"
        " (extract(epoch FROM expires_at - now()) * 1000)::bigint"
        " FROM mcp.authenticate_bearer($1, nullif($2, '')) WHERE error IS NULL";
    query.params = {std::string(secret), resource_};
    query.role = DbRole::reader;
    PgRows rows;
    PgError error;
    if (!pool_.run(query, rows, error)) {
        return {AuthStatus::unavailable, {}};
    }
    if (rows.rows.empty() || !rows.rows[0][0] || !rows.rows[0][2]) {
        std::lock_guard<std::mutex> lock(mutex_);
        verified_.erase(key);  // revoked or expired since
        return {AuthStatus::invalid, {}};
    }
    Identity identity;
    identity.api_key_id = std::stoi(*rows.rows[0][0]);
    identity.name = rows.rows[0][1].value_or("");
    identity.role = *rows.rows[0][2];
    auto ttl = cache_ttl_;
    if (rows.rows[0][3]) {  // a token: trusted no longer than it lives
        ttl = std::min(ttl, std::chrono::milliseconds(std::max<long long>(0, std::stoll(*rows.rows[0][3]))));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (cache_.size() >= max_cached_keys) {
        cache_.clear();
    }
    cache_[key] = Cached{identity, now + ttl};
    if (verified_.size() >= max_cached_keys) {
        verified_.clear();
    }
    verified_.insert(key);
    return {AuthStatus::ok, identity};
}

void Authenticator::forget_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    cache_.clear();
}

}  // namespace mcp::bridge

namespace mcp::bridge {

Response auth_failure_response(const AuthResult& auth, bool jsonrpc,
                               std::string_view resource_metadata_url) {
    const AuthStatus status = auth.status;
    if (status == AuthStatus::throttled) {
        const std::string wait = std::to_string(auth.retry_after_s);
        const std::string text = "too many failed authentication attempts from this address; retry in " +
                                 wait + " s";
        rapidjson::Value null_id;
        Response response = json_response(
            http::status::too_many_requests,
            jsonrpc ? rpc_error_message(null_id, rpc_error::bad_request, "Too Many Requests: " + text)
                    : json_error(http::status::too_many_requests, text).body());
        response.set(http::field::retry_after, wait);
        return response;
    }
    const bool unavailable = status == AuthStatus::unavailable;
    const bool oauth = !resource_metadata_url.empty();
    const char* text = unavailable ? "the metadata database is not reachable; try again shortly"
                       : status == AuthStatus::missing
                           ? (oauth ? "sign-in required: send Authorization: Bearer <access token or API key>"
                                    : "an API key is required: send Authorization: Bearer <key>")
                           : (oauth ? "the access token or API key is unknown, revoked, expired or for another server"
                                    : "the API key is unknown, revoked or expired");
    std::string body;
    if (jsonrpc) {
        rapidjson::Value null_id;
        body = rpc_error_message(null_id, unavailable ? rpc_error::internal_error : rpc_error::bad_request,
                                 std::string(unavailable ? "Service unavailable: " : "Unauthorized: ") + text);
    } else {
        body = json_error(http::status::unauthorized, text).body();
    }
    Response response = json_response(
        unavailable ? http::status::service_unavailable : http::status::unauthorized, std::move(body));
    if (!unavailable && oauth) {
        // RFC 9728 section 5.1: where the client finds how to get a token.
        const std::string metadata = "resource_metadata=\"" + std::string(resource_metadata_url) + "\"";
        response.set(http::field::www_authenticate,
                     status == AuthStatus::missing
                         ? "Bearer " + metadata + ", scope=\"datasets:read datasets:query\""
                         : "Bearer error=\"invalid_token\", " + metadata);
    } else if (!unavailable) {
        response.set(http::field::www_authenticate,
                     status == AuthStatus::missing
                         ? "Bearer realm=\"mcp-analytics\""
                         : "Bearer realm=\"mcp-analytics\", error=\"invalid_token\"");
    } else {
        response.set(http::field::retry_after, "5");
    }
    return response;
}

}  // namespace mcp::bridge
