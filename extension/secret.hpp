// Owning holders for secret bytes that are wiped when they go away.
#pragma once

#include <openssl/crypto.h>

#include <string>
#include <vector>

namespace mcp::ext {

// A string holding a secret (a connection string with its password). Wiped on destruction
// so the password does not linger in freed heap memory of a long-lived backend.
class SecretString {
public:
    SecretString() = default;
    explicit SecretString(std::string value) : value_(std::move(value)) {}
    SecretString(const SecretString&) = delete;
    SecretString& operator=(const SecretString&) = delete;
    SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) {
        other.wipe();
    }
    SecretString& operator=(SecretString&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            other.wipe();
        }
        return *this;
    }
    ~SecretString() { wipe(); }

    const std::string& view() const { return value_; }
    const char* c_str() const { return value_.c_str(); }
    bool empty() const { return value_.empty(); }

private:
    void wipe() noexcept {
        if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
        value_.clear();
    }
    std::string value_;
};

}  // namespace mcp::ext
