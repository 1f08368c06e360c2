#include "query_cache.hpp"

#include "executor_settings.hpp"
#include "pg_guard.hpp"
#include "spi.hpp"

extern "C" {
#include "access/xact.h"
}

#include <openssl/evp.h>

#include <cctype>
#include <cstdlib>

namespace mcp::ext::query_cache {

namespace {

std::string sha256_hex(const std::string& text) {
    // Fetched once per backend: EVP_sha256() makes OpenSSL 3 look the algorithm up on every
    // digest, which cost as much as hashing a key.
    static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (sha256 == nullptr || EVP_Digest(text.data(), text.size(), digest, &length, sha256, nullptr) != 1)
        throw PgError(ERRCODE_INTERNAL_ERROR, "OpenSSL failed to hash a cache key");
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        hex += digits[digest[i] >> 4];
        hex += digits[digest[i] & 0x0f];
    }
    return hex;
}

// Copies a quoted run ('...', "...", or $tag$...$tag$) unchanged; returns the index after it.
size_t copy_quoted(const std::string& sql, size_t at, std::string& out) {
    if (sql[at] == '$') {
        size_t tag_end = sql.find('$', at + 1);
        if (tag_end == std::string::npos) return at;
        std::string tag = sql.substr(at, tag_end - at + 1);
        for (char c : tag.substr(1, tag.size() - 2))
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return at;
        size_t close = sql.find(tag, tag_end + 1);
        size_t end = close == std::string::npos ? sql.size() : close + tag.size();
        out.append(sql, at, end - at);
        return end;
    }
    char quote = sql[at];
    size_t i = at + 1;
    while (i < sql.size()) {
        if (sql[i] == quote) {
            if (i + 1 < sql.size() && sql[i + 1] == quote) {
                i += 2;
                continue;
            }
            ++i;
            break;
        }
        ++i;
    }
    out.append(sql, at, i - at);
    return i;
}

}  // namespace

std::string normalize_sql(const std::string& sql) {
    std::string out;
    bool pending_space = false;
    size_t i = 0;
    while (i < sql.size()) {
        char c = sql[i];
        if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            size_t end = sql.find('\n', i);
            i = end == std::string::npos ? sql.size() : end;
            pending_space = true;
            continue;
        }
        if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            size_t end = sql.find("*/", i + 2);
            i = end == std::string::npos ? sql.size() : end + 2;
            pending_space = true;
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(c))) {
            pending_space = true;
            ++i;
            continue;
        }
        if (pending_space && !out.empty()) out += ' ';
        pending_space = false;
        if (c == '\'' || c == '"' || c == '$') {
            size_t next = copy_quoted(sql, i, out);
            if (next != i) {
                i = next;
                continue;
            }
        }
        out += c;
        ++i;
    }
    while (!out.empty() && (out.back() == ';' || out.back() == ' ')) out.pop_back();
    return out;
}

std::string key(const DatasetRecord& dataset, const std::string& sql, int row_limit,
                const char* format) {
    return sha256_hex(std::to_string(dataset.id) + "\n" + std::to_string(dataset.credential_version) +
                      "\n" + std::to_string(row_limit) + "\n" + format + "\n" + normalize_sql(sql));
}

std::optional<Hit> lookup(const std::string& key) {
    if (executor_settings::cache_ttl_s == 0) return std::nullopt;
    auto rows = spi::query_saved(
        "SELECT result::text, row_count FROM mcp.query_cache "
        " WHERE cache_key = $1 AND expires_at > pg_catalog.now()",
        {key}, true);
    if (rows.empty()) return std::nullopt;
    return Hit{*rows[0][0], std::atol(rows[0][1]->c_str())};
}

void store(const std::string& key, int dataset_id, const std::string& result_json, long rows) {
    if (executor_settings::cache_ttl_s == 0 || XactReadOnly) return;
    spi::query_saved(
        "WITH expired AS (DELETE FROM mcp.query_cache WHERE expires_at <= pg_catalog.now()) "
        "INSERT INTO mcp.query_cache (cache_key, dataset_id, result, row_count, expires_at) "
        "VALUES ($1, $2::integer, $3::jsonb, $4::bigint, "
        "        pg_catalog.now() + pg_catalog.make_interval(secs => $5::integer)) "
        "ON CONFLICT (cache_key) DO UPDATE SET result = EXCLUDED.result, "
        "  row_count = EXCLUDED.row_count, expires_at = EXCLUDED.expires_at",
        {key, std::to_string(dataset_id), result_json, std::to_string(rows),
         std::to_string(executor_settings::cache_ttl_s)});
}

}  // namespace mcp::ext::query_cache
