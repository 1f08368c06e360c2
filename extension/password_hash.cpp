#include "password_hash.hpp"

#include "pg_guard.hpp"
#include "pg_values.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <vector>

namespace mcp::ext::password_hash {

namespace {

constexpr int kSaltBytes = 16;
constexpr int kHashBytes = 32;
constexpr int kBlockSize = 8;     // r
constexpr int kParallelism = 1;   // p
constexpr size_t kMaxPasswordBytes = 1024;

std::string base64(const unsigned char* data, size_t length) {
    std::string out(4 * ((length + 2) / 3) + 1, '\0');
    int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, (int)length);
    out.resize(written);
    return out;
}

bool unbase64(const std::string& text, size_t expected, std::vector<unsigned char>& out) {
    if (text.empty() || text.size() % 4 != 0) return false;
    std::vector<unsigned char> buffer(3 * text.size() / 4 + 1);
    int written = EVP_DecodeBlock(buffer.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                  (int)text.size());
    if (written < 0) return false;
    size_t padding = 0;
    for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) ++padding;
    size_t length = (size_t)written - padding;
    if (length != expected) return false;
    out.assign(buffer.begin(), buffer.begin() + length);
    return true;
}

// scrypt needs 128 * r * N bytes; allow that plus room for the p lanes.
bool derive(const std::string& password, const unsigned char* salt, int log_n, int r, int p,
            unsigned char* out) {
    const uint64_t n = uint64_t(1) << log_n;
    const uint64_t max_memory = 128 * uint64_t(r) * n * 2 + (uint64_t(1) << 20);
    return EVP_PBE_scrypt(password.data(), password.size(), salt, kSaltBytes, n, r, p,
                          max_memory, out, kHashBytes) == 1;
}

void check_password_size(const std::string& password) {
    if (password.size() > kMaxPasswordBytes)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "a password is at most 1024 bytes long");
}

}  // namespace

std::string hash(const std::string& password, int log_n) {
    check_password_size(password);
    if (log_n < kMinLogN || log_n > kMaxLogN)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "the scrypt cost must lie between 10 and 20",
                      "Got " + std::to_string(log_n) + ".", "15 (32 MiB per hash) is the default.");
    unsigned char salt[kSaltBytes];
    unsigned char digest[kHashBytes];
    if (RAND_bytes(salt, kSaltBytes) != 1 ||
        !derive(password, salt, log_n, kBlockSize, kParallelism, digest))
        throw PgError(ERRCODE_INTERNAL_ERROR, "scrypt failed in OpenSSL");
    std::string out = "$scrypt$ln=" + std::to_string(log_n) + ",r=" + std::to_string(kBlockSize) +
                      ",p=" + std::to_string(kParallelism) + "$" + base64(salt, kSaltBytes) + "$" +
                      base64(digest, kHashBytes);
    OPENSSL_cleanse(digest, kHashBytes);
    return out;
}

bool verify(const std::string& password, const std::string& stored) {
    if (password.size() > kMaxPasswordBytes) return false;
    int log_n = 0, r = 0, p = 0, consumed = 0;
    if (std::sscanf(stored.c_str(), "$scrypt$ln=%d,r=%d,p=%d$%n", &log_n, &r, &p, &consumed) != 3 ||
        consumed == 0)
        return false;
    // Refuse costs we would not have written: a forged row must not make us allocate gigabytes.
    if (log_n < kMinLogN || log_n > kMaxLogN || r != kBlockSize || p != kParallelism) return false;
    const std::string rest = stored.substr(consumed);
    const size_t dollar = rest.find('$');
    if (dollar == std::string::npos) return false;
    std::vector<unsigned char> salt, expected;
    if (!unbase64(rest.substr(0, dollar), kSaltBytes, salt) ||
        !unbase64(rest.substr(dollar + 1), kHashBytes, expected))
        return false;
    unsigned char digest[kHashBytes];
    if (!derive(password, salt.data(), log_n, r, p, digest))
        throw PgError(ERRCODE_INTERNAL_ERROR, "scrypt failed in OpenSSL");
    const bool same = CRYPTO_memcmp(digest, expected.data(), kHashBytes) == 0;
    OPENSSL_cleanse(digest, kHashBytes);
    return same;
}

namespace {

Datum hash_password(FunctionCallInfo fcinfo) {
    const int log_n = pg_call([&] { return PG_GETARG_INT32(1); });
    return text_datum(hash(text_argument(fcinfo, 0), log_n));
}

Datum verify_password(FunctionCallInfo fcinfo) {
    const bool same = verify(text_argument(fcinfo, 0), text_argument(fcinfo, 1));
    return BoolGetDatum(same);
}

}  // namespace

}  // namespace mcp::ext::password_hash

extern "C" {
PG_FUNCTION_INFO_V1(mcp_hash_password);
PG_FUNCTION_INFO_V1(mcp_verify_password);

Datum mcp_hash_password(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::password_hash::hash_password(fcinfo); });
}
Datum mcp_verify_password(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::password_hash::verify_password(fcinfo); });
}
}
