// AES-256-GCM encryption of dataset connection strings, with the key read from the file
// named by mcp_analytics.key_file. Each ciphertext names the key that sealed it, so a wrong
// key is reported as such instead of producing garbage.
#pragma once

#include "secret.hpp"

#include <array>
#include <string>
#include <vector>

namespace mcp::ext::crypto {

constexpr size_t kKeyBytes = 32;

class Key {
public:
    Key(const std::array<unsigned char, kKeyBytes>& bytes);
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;
    Key(Key&&) noexcept;
    ~Key();

    const unsigned char* bytes() const { return bytes_.data(); }
    // 16 hex digits derived from the key by a one-way hash: safe to show and log.
    const std::string& id() const { return id_; }

private:
    std::array<unsigned char, kKeyBytes> bytes_;
    std::string id_;
};

// Reads and checks a key file: a regular file, not readable by group or others, holding
// 32 raw bytes or 64 hex digits. Throws PgError (SQLSTATE F0000) otherwise; `what` names
// the file in messages ("the new key file"), since its path may be secret to the caller.
Key load_key_file(const std::string& path, const std::string& what);

// The key named by mcp_analytics.key_file.
Key load_configured_key();

// Layout: version(1) | key id(8) | nonce(12) | ciphertext | tag(16); the first 9 bytes are
// authenticated as associated data.
std::vector<unsigned char> encrypt(const Key& key, const std::string& plaintext);
SecretString decrypt(const Key& key, const unsigned char* sealed, size_t length);

// The hex key id a ciphertext was sealed with; throws PgError if it is not our format.
std::string key_id_of(const unsigned char* sealed, size_t length);

// A bytea column's text form (\x and hex digits, as SPI returns a stored ciphertext) as bytes;
// empty when the text is not of that form.
std::vector<unsigned char> bytes_from_bytea_text(const std::string& text);

}  // namespace mcp::ext::crypto
