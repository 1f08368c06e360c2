#include "conninfo.hpp"

#include "gucs.hpp"
#include "pg_guard.hpp"

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <set>

namespace mcp::ext {

namespace {

// Options that make the server read its own files or services on the caller's behalf;
// like dblink and postgres_fdw we leave them to superusers.
const std::set<std::string> kSuperuserOnlyOptions = {"passfile", "service", "sslkey", "sslcert",
                                                     "sslpassword"};

struct OptionsDeleter {
    void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
using OptionsPtr = std::unique_ptr<PQconninfoOption, OptionsDeleter>;

const std::set<std::string>& known_keywords() {
    static const std::set<std::string> keywords = [] {
        std::set<std::string> names;
        OptionsPtr defaults(PQconndefaults());
        for (PQconninfoOption* option = defaults.get(); option && option->keyword; ++option)
            names.insert(option->keyword);
        return names;
    }();
    return keywords;
}

}  // namespace

std::string redact_quoted_fragments(const std::string& libpq_message) {
    std::string out;
    size_t position = 0;
    while (position < libpq_message.size()) {
        size_t open = libpq_message.find('"', position);
        if (open == std::string::npos) break;
        size_t close = libpq_message.find('"', open + 1);
        if (close == std::string::npos) break;
        std::string fragment = libpq_message.substr(open + 1, close - open - 1);
        out.append(libpq_message, position, open - position);
        out += known_keywords().count(fragment) ? "\"" + fragment + "\"" : "\"…\"";
        position = close + 1;
    }
    out.append(libpq_message, std::min(position, libpq_message.size()), std::string::npos);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

ConnectionParams ConnectionParams::parse(const std::string& conninfo, bool caller_is_superuser) {
    if (conninfo.find_first_not_of(" \t\r\n") == std::string::npos)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "connection string is empty", {},
                      "Give a libpq connection string such as \"host=db.example.com port=5432 "
                      "dbname=panel user=reader password=...\" or a postgresql:// URI.");
    char* raw_error = nullptr;
    OptionsPtr options(PQconninfoParse(conninfo.c_str(), &raw_error));
    if (!options) {
        std::string reason = raw_error ? redact_quoted_fragments(raw_error) : "out of memory";
        if (raw_error) {
            OPENSSL_cleanse(raw_error, std::char_traits<char>::length(raw_error));
            PQfreemem(raw_error);
        }
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "connection string is malformed",
                      "libpq: " + reason + ". Quoted parts of the string are not repeated here.",
                      "Use keyword=value pairs separated by spaces (quote values with spaces in "
                      "single quotes) or a postgresql://user:password@host:port/dbname URI.");
    }

    ConnectionParams params;
    bool has_timeout = false, has_application = false;
    for (PQconninfoOption* option = options.get(); option->keyword; ++option) {
        if (option->val == nullptr) continue;
        std::string keyword = option->keyword;
        if (!caller_is_superuser && kSuperuserOnlyOptions.count(keyword))
            throw PgError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                          "connection option \"" + keyword + "\" is reserved to superusers",
                          "It makes the metadata server read its own files on your behalf.",
                          "Remove the option, or ask a superuser to register the dataset.");
        if (keyword == "client_encoding") continue;  // we always speak UTF8 to datasets
        if (keyword == "password") params.password_ = option->val;
        if (keyword == "connect_timeout") {
            has_timeout = true;
            params.connect_timeout_s_ = std::atoi(option->val);
            if (params.connect_timeout_s_ <= 0) params.connect_timeout_s_ = mcp_connect_timeout_s;
        }
        has_application |= keyword == "application_name";
        params.add(keyword, option->val);
        OPENSSL_cleanse(option->val, std::char_traits<char>::length(option->val));
    }
    if (!has_timeout) {
        params.connect_timeout_s_ = mcp_connect_timeout_s;
        params.add("connect_timeout", std::to_string(mcp_connect_timeout_s));
    }
    if (!has_application) params.add("application_name", "mcp_analytics");
    params.add("client_encoding", "UTF8");
    params.seal_arrays();
    return params;
}

ConnectionParams::~ConnectionParams() {
    for (std::string& value : values_) OPENSSL_cleanse(value.data(), value.size());
    OPENSSL_cleanse(password_.data(), password_.size());
}

void ConnectionParams::add(const std::string& keyword, const std::string& value) {
    keywords_.push_back(keyword);
    values_.push_back(value);
}

void ConnectionParams::seal_arrays() {
    for (size_t i = 0; i < keywords_.size(); ++i) {
        keyword_pointers_.push_back(keywords_[i].c_str());
        value_pointers_.push_back(values_[i].c_str());
    }
    keyword_pointers_.push_back(nullptr);
    value_pointers_.push_back(nullptr);
}

std::string ConnectionParams::scrub(std::string text) const {
    if (password_.empty()) return text;
    for (size_t at = text.find(password_); at != std::string::npos;
         at = text.find(password_, at + 3))
        text.replace(at, password_.size(), "***");
    return text;
}

}  // namespace mcp::ext
