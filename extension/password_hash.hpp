// Passwords of people (mcp.users), hashed with scrypt (OpenSSL's EVP_PBE_scrypt): memory-hard,
// so a stolen table costs an attacker memory as well as time per guess. The stored form names
// its own cost and salt, so the cost can rise later without breaking existing passwords:
//   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<hash, base64>
#pragma once

#include <string>

namespace mcp::ext::password_hash {

constexpr int kMinLogN = 10;  // tests only; the shipped default is 15 (N = 32768, 32 MiB)
constexpr int kMaxLogN = 20;

// Hashes with a fresh 16-byte salt. Throws PgError on a cost outside [kMinLogN, kMaxLogN].
std::string hash(const std::string& password, int log_n);

// Whether password matches a stored hash, in time independent of where they differ. A stored
// text that is not our format never matches (and is not an error: a disabled password is '!').
bool verify(const std::string& password, const std::string& stored);

}  // namespace mcp::ext::password_hash
