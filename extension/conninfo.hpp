// Dataset connection strings: parsing (libpq's own parser), the options we add, the options
// non-superusers may not use, and scrubbing secrets out of any text shown to a caller.
#pragma once

#include <string>
#include <vector>

namespace mcp::ext {

class ConnectionParams {
public:
    // Parses a keyword/value string or a postgresql:// URI. Throws PgError 22023 when it is
    // malformed (with libpq's reason, secrets removed) or uses an option reserved to
    // superusers. Adds connect_timeout, application_name and client_encoding when missing.
    static ConnectionParams parse(const std::string& conninfo, bool caller_is_superuser);

    ConnectionParams(const ConnectionParams&) = delete;
    ConnectionParams& operator=(const ConnectionParams&) = delete;
    ConnectionParams(ConnectionParams&&) = default;
    ~ConnectionParams();

    // Null-terminated arrays for PQconnectStartParams (expand_dbname = 0).
    const char* const* keywords() const { return keyword_pointers_.data(); }
    const char* const* values() const { return value_pointers_.data(); }
    bool has_password() const { return !password_.empty(); }
    // Our own bound on connecting: libpq ignores connect_timeout in non-blocking connects.
    int connect_timeout_s() const { return connect_timeout_s_; }

    // Replaces every occurrence of the password in text, for messages from libpq.
    std::string scrub(std::string text) const;

private:
    ConnectionParams() = default;
    void add(const std::string& keyword, const std::string& value);
    void seal_arrays();

    std::vector<std::string> keywords_;
    std::vector<std::string> values_;
    std::vector<const char*> keyword_pointers_;
    std::vector<const char*> value_pointers_;
    std::string password_;
    int connect_timeout_s_ = 10;
};

// Removes every double-quoted fragment of a libpq parse error that is not an option name:
// such fragments can quote parts of the string, password included.
std::string redact_quoted_fragments(const std::string& libpq_message);

}  // namespace mcp::ext
