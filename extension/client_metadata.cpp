// OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): an MCP
// client whose client_id is an https URL publishes its metadata there, and this server fetches
// it. mcp._client_metadata_fetch does the fetch with the draft's limits (https only, a few
// kilobytes, a short timeout, no redirect, no private address unless an admin allows it) and
// answers the JSON object and how long it may be cached; what the document must say is
// checked in SQL (77_oauth_client_metadata.sql).
#include "http_fetch.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <cstdlib>
#include <string>

namespace mcp::ext::client_metadata {

namespace {

constexpr size_t kMaxDocumentBytes = 5120;  // the draft's guidance: 5 kilobytes
constexpr long kTimeoutMs = 5000;

PgError refusal(const std::string& message, const std::string& detail = {}) {
    return PgError(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "client metadata document: " + message, detail);
}

// max-age of a Cache-Control header (0 for no-store / no-cache), -1 when it says nothing.
long max_age(const std::string& cache_control) {
    std::string lower;
    for (char c : cache_control) lower += (char)std::tolower((unsigned char)c);
    if (lower.find("no-store") != std::string::npos || lower.find("no-cache") != std::string::npos) return 0;
    const size_t at = lower.find("max-age=");
    if (at == std::string::npos) return -1;
    const char* digits = lower.c_str() + at + 8;
    if (!std::isdigit((unsigned char)*digits)) return -1;
    return std::strtol(digits, nullptr, 10);
}

std::string fetch_document(const std::string& url, bool allow_private, const std::string& ca_file) {
    http_fetch::Limits limits;
    limits.max_bytes = kMaxDocumentBytes;
    limits.timeout_ms = kTimeoutMs;
    limits.https_only = true;
    limits.public_addresses_only = !allow_private;
    limits.ca_file = ca_file;
    limits.user_agent = "mcp_analytics-client-metadata";
    const http_fetch::Outcome outcome = http_fetch::request(url, limits);
    switch (outcome.failure) {
        case http_fetch::Failure::not_allowed_url: throw refusal("the client_id URL must be https");
        case http_fetch::Failure::private_address:
            throw refusal("the client_id URL's host is not on a public address", outcome.detail);
        case http_fetch::Failure::too_large:
            throw refusal("the document is larger than " + std::to_string(kMaxDocumentBytes) + " bytes");
        case http_fetch::Failure::timeout:
            throw refusal("the document did not arrive within " + std::to_string(kTimeoutMs / 1000) + " s");
        case http_fetch::Failure::unreachable: throw refusal("the client_id URL could not be fetched", outcome.detail);
        case http_fetch::Failure::none: break;
    }
    const http_fetch::Answer& answer = outcome.answer;
    if (answer.status != 200)
        throw refusal("the client_id URL answered HTTP " + std::to_string(answer.status) + ", not 200",
                      answer.status >= 300 && answer.status < 400 ? "Redirects are not followed." : "");
    const std::string type = answer.content_type.substr(0, answer.content_type.find(';'));
    if (type != "application/json" && !(type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0))
        throw refusal("the document is not JSON (Content-Type " + (type.empty() ? std::string("missing") : type) + ")");
    rapidjson::Document document;
    document.Parse(answer.body.c_str(), answer.body.size());
    if (document.HasParseError() || !document.IsObject()) throw refusal("the document is not a JSON object");
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.StartObject();
    writer.Key("document");
    document.Accept(writer);
    writer.Key("max_age");
    const long age = max_age(answer.cache_control);
    if (age < 0) writer.Null();
    else writer.Int64(age);
    writer.EndObject();
    return buffer.GetString();
}

Datum client_metadata_fetch(FunctionCallInfo fcinfo) {
    if (argument_is_null(fcinfo, 0)) throw refusal("no client_id URL");
    const bool allow_private = !argument_is_null(fcinfo, 1) && PG_GETARG_BOOL(1);
    const std::string ca_file = argument_is_null(fcinfo, 2) ? std::string() : text_argument(fcinfo, 2);
    return jsonb_datum(fetch_document(text_argument(fcinfo, 0), allow_private, ca_file));
}

}  // namespace

}  // namespace mcp::ext::client_metadata

extern "C" {
PG_FUNCTION_INFO_V1(mcp_client_metadata_fetch);

Datum mcp_client_metadata_fetch(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::client_metadata::client_metadata_fetch(fcinfo); });
}
}
