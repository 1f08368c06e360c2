#include "crypto.hpp"

#include "gucs.hpp"
#include "pg_guard.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

namespace mcp::ext::crypto {

namespace {

constexpr unsigned char kFormatVersion = 1;
constexpr size_t kKeyIdBytes = 8;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kHeaderBytes = 1 + kKeyIdBytes;
constexpr size_t kOverheadBytes = kHeaderBytes + kNonceBytes + kTagBytes;

const char* const kKeyFileHint =
    "Create a key with \"openssl rand -hex 32 > FILE; chmod 600 FILE\" (owned by the server's "
    "user), then ALTER SYSTEM SET mcp_analytics.key_file = 'FILE' and SELECT pg_reload_conf().";

[[noreturn]] void key_file_error(const std::string& message, const std::string& detail = {}) {
    throw PgError(ERRCODE_CONFIG_FILE_ERROR, message, detail, kKeyFileHint);
}

[[noreturn]] void corrupted(const std::string& detail) {
    throw PgError(ERRCODE_DATA_CORRUPTED,
                  "stored connection string could not be decrypted: it is corrupted or was "
                  "tampered with",
                  detail, "Register the dataset's connection string again with mcp.update_dataset.");
}

struct CipherContextDeleter {
    void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;

CipherContext new_cipher_context() {
    CipherContext context(EVP_CIPHER_CTX_new());
    if (!context) throw std::bad_alloc();
    return context;
}

[[noreturn]] void openssl_failure(const char* step) {
    throw PgError(ERRCODE_INTERNAL_ERROR, std::string("OpenSSL failed during ") + step);
}

std::string to_hex(const unsigned char* bytes, size_t length) {
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(length * 2);
    for (size_t i = 0; i < length; ++i) {
        hex.push_back(digits[bytes[i] >> 4]);
        hex.push_back(digits[bytes[i] & 0x0f]);
    }
    return hex;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The id is a hash of the key, so it identifies a key without revealing it.
std::array<unsigned char, kKeyIdBytes> derive_key_id(const unsigned char* key) {
    static const char label[] = "mcp_analytics key id v1";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(),
                                                                &EVP_MD_CTX_free);
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(md.get(), label, sizeof label - 1) != 1 ||
        EVP_DigestUpdate(md.get(), key, kKeyBytes) != 1 ||
        EVP_DigestFinal_ex(md.get(), digest, &digest_length) != 1)
        openssl_failure("key id derivation");
    std::array<unsigned char, kKeyIdBytes> id{};
    std::memcpy(id.data(), digest, kKeyIdBytes);
    return id;
}

SecretString read_small_file(const std::string& path, const std::string& what) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        key_file_error("could not open " + what,
                       std::strerror(errno));
    struct stat info {};
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        key_file_error(what + " is not a regular file");
    }
    if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        key_file_error(what + " is accessible to group or others",
                       "A key must be readable by the server's user only (mode 0600 or 0400).");
    }
    if (info.st_size > 4096) {
        close(fd);
        key_file_error(what + " is too large",
                       "Expected 32 raw bytes or 64 hex digits.");
    }
    std::string content(static_cast<size_t>(info.st_size), '\0');
    ssize_t got = read(fd, content.data(), content.size());
    int read_errno = errno;
    close(fd);
    if (got < 0 || static_cast<size_t>(got) != content.size())
        key_file_error("could not read " + what,
                       got < 0 ? std::strerror(read_errno) : "short read");
    return SecretString(std::move(content));
}

std::array<unsigned char, kKeyBytes> parse_key(const std::string& content, const std::string& what) {
    std::array<unsigned char, kKeyBytes> key{};
    if (content.size() == kKeyBytes) {
        std::memcpy(key.data(), content.data(), kKeyBytes);
        return key;
    }
    size_t end = content.size();
    while (end > 0 && std::isspace(static_cast<unsigned char>(content[end - 1]))) --end;
    if (end != kKeyBytes * 2)
        key_file_error(what + " does not hold a 256-bit key",
                       "Expected 32 raw bytes or 64 hex digits, found " +
                           std::to_string(content.size()) + " bytes.");
    for (size_t i = 0; i < kKeyBytes; ++i) {
        int high = hex_value(content[2 * i]);
        int low = hex_value(content[2 * i + 1]);
        if (high < 0 || low < 0)
            key_file_error(what + " holds a non-hex character",
                           "Expected 32 raw bytes or 64 hex digits.");
        key[i] = static_cast<unsigned char>(high << 4 | low);
    }
    return key;
}

}  // namespace

Key::Key(const std::array<unsigned char, kKeyBytes>& bytes) : bytes_(bytes) {
    auto raw_id = derive_key_id(bytes_.data());
    id_ = to_hex(raw_id.data(), raw_id.size());
}

Key::Key(Key&& other) noexcept : bytes_(other.bytes_), id_(std::move(other.id_)) {
    OPENSSL_cleanse(other.bytes_.data(), other.bytes_.size());
}

Key::~Key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

Key load_key_file(const std::string& path, const std::string& what) {
    if (path.empty()) key_file_error(what + " is not set");
    SecretString content = read_small_file(path, what);
    auto bytes = parse_key(content.view(), what);
    Key key(bytes);
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return key;
}

Key load_configured_key() {
    const std::string path = mcp_key_file != nullptr ? mcp_key_file : "";
    return load_key_file(path, path.empty() ? "mcp_analytics.key_file"
                                            : "the key file named by mcp_analytics.key_file");
}

std::vector<unsigned char> encrypt(const Key& key, const std::string& plaintext) {
    std::vector<unsigned char> sealed(kOverheadBytes + plaintext.size());
    unsigned char* header = sealed.data();
    unsigned char* nonce = header + kHeaderBytes;
    unsigned char* body = nonce + kNonceBytes;
    unsigned char* tag = body + plaintext.size();

    header[0] = kFormatVersion;
    auto raw_id = derive_key_id(key.bytes());
    std::memcpy(header + 1, raw_id.data(), kKeyIdBytes);
    if (RAND_bytes(nonce, kNonceBytes) != 1) openssl_failure("nonce generation");

    CipherContext context = new_cipher_context();
    int length = 0;
    if (EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, key.bytes(), nonce) != 1 ||
        EVP_EncryptUpdate(context.get(), nullptr, &length, header, kHeaderBytes) != 1 ||
        EVP_EncryptUpdate(context.get(), body, &length,
                          reinterpret_cast<const unsigned char*>(plaintext.data()),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(context.get(), body + length, &length) != 1 ||
        EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1)
        openssl_failure("encryption");
    return sealed;
}

std::string key_id_of(const unsigned char* sealed, size_t length) {
    if (length < kOverheadBytes || sealed[0] != kFormatVersion)
        corrupted("The value is not in the mcp_analytics ciphertext format (version 1).");
    return to_hex(sealed + 1, kKeyIdBytes);
}

SecretString decrypt(const Key& key, const unsigned char* sealed, size_t length) {
    std::string sealed_with = key_id_of(sealed, length);
    if (sealed_with != key.id())
        throw PgError(ERRCODE_CONFIG_FILE_ERROR,
                      "the connection string was encrypted with a different key",
                      "It was sealed with key " + sealed_with +
                          "; mcp_analytics.key_file holds key " + key.id() + ".",
                      "Point mcp_analytics.key_file at the key file with id " + sealed_with +
                          " (after mcp.rotate_key, reload the configuration).");
    const unsigned char* nonce = sealed + kHeaderBytes;
    const unsigned char* body = nonce + kNonceBytes;
    size_t body_length = length - kOverheadBytes;
    unsigned char tag[kTagBytes];
    std::memcpy(tag, body + body_length, kTagBytes);

    std::string plaintext(body_length, '\0');
    CipherContext context = new_cipher_context();
    int produced = 0;
    int final_length = 0;
    unsigned char final_block[kTagBytes];
    if (EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, key.bytes(), nonce) != 1 ||
        EVP_DecryptUpdate(context.get(), nullptr, &produced, sealed, kHeaderBytes) != 1 ||
        EVP_DecryptUpdate(context.get(), reinterpret_cast<unsigned char*>(plaintext.data()),
                          &produced, body, static_cast<int>(body_length)) != 1 ||
        EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1)
        openssl_failure("decryption");
    SecretString result(std::move(plaintext));
    if (EVP_DecryptFinal_ex(context.get(), final_block, &final_length) != 1)
        corrupted("The authentication tag does not match.");
    return result;
}

std::vector<unsigned char> bytes_from_bytea_text(const std::string& text) {
    std::vector<unsigned char> bytes;
    if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return {};
    bytes.reserve((text.size() - 2) / 2);
    for (size_t i = 2; i < text.size(); i += 2) {
        const int high = hex_value(text[i]);
        const int low = hex_value(text[i + 1]);
        if (high < 0 || low < 0) return {};
        bytes.push_back(static_cast<unsigned char>(high << 4 | low));
    }
    return bytes;
}

}  // namespace mcp::ext::crypto
