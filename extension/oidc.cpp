// Sign-in through an upstream OpenID Connect provider (Microsoft Entra ID and the like): the
// two things SQL cannot do itself. mcp._oidc_fetch asks the provider (discovery document,
// JWKS, token endpoint) over HTTPS with libcurl; mcp._jwt_claims checks an ID token's RS256
// signature against the provider's JWKS and returns its claims. The rules (issuer, audience,
// expiry, nonce, allowed domains, group-to-role mapping) are in SQL (78_oidc.sql).
#include "http_fetch.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mcp::ext::oidc {

namespace {

std::string form_encode(const rapidjson::Value& form) {
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw PgError(ERRCODE_OUT_OF_MEMORY, "libcurl could not start a transfer");
    std::string out;
    for (auto it = form.MemberBegin(); it != form.MemberEnd(); ++it) {
        if (!it->value.IsString()) continue;
        char* key = curl_easy_escape(curl.get(), it->name.GetString(), (int)it->name.GetStringLength());
        char* value = curl_easy_escape(curl.get(), it->value.GetString(), (int)it->value.GetStringLength());
        if (!out.empty()) out += '&';
        out += std::string(key ? key : "") + "=" + (value ? value : "");
        curl_free(key);
        curl_free(value);
    }
    return out;
}

// GET, or POST of a form when `form` is an object; the body must be a JSON object.
std::string fetch(const std::string& url, const rapidjson::Value* form) {
    http_fetch::Limits limits;
    limits.user_agent = "mcp_analytics-oidc";
    std::optional<std::string> payload;
    if (form != nullptr) payload = form_encode(*form);
    const http_fetch::Outcome outcome = http_fetch::request(url, limits, payload);
    if (outcome.failure == http_fetch::Failure::not_allowed_url)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "the OpenID provider's URL must be http(s)");
    if (outcome.failure != http_fetch::Failure::none)
        throw PgError(ERRCODE_CONNECTION_FAILURE, "the OpenID provider could not be reached",
                      outcome.detail, "Check the setting oidc.issuer and that this server reaches it.");
    const std::string& body = outcome.answer.body;
    const long status = outcome.answer.status;
    rapidjson::Document document;
    document.Parse(body.c_str(), body.size());
    if (document.HasParseError() || !document.IsObject())
        throw PgError(ERRCODE_INVALID_TEXT_REPRESENTATION,
                      "the OpenID provider answered HTTP " + std::to_string(status) +
                          " without a JSON object");
    if (status >= 400) {
        // Token errors are JSON ({error, error_description}): the caller reads them.
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
        writer.StartObject();
        writer.Key("http_status");
        writer.Int((int)status);
        for (auto it = document.MemberBegin(); it != document.MemberEnd(); ++it) {
            if (!it->value.IsString()) continue;
            writer.Key(it->name.GetString());
            writer.String(it->value.GetString());
        }
        writer.EndObject();
        return buffer.GetString();
    }
    return body;
}

std::string base64url_decode(const std::string& text) {
    std::string b64 = text;
    for (char& ch : b64) {
        if (ch == '-') ch = '+';
        else if (ch == '_') ch = '/';
        else if (!(isalnum((unsigned char)ch) || ch == '+' || ch == '/'))
            throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "the ID token is not base64url");
    }
    while (b64.size() % 4 != 0) b64 += '=';
    std::string out(b64.size() / 4 * 3, '\0');
    const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                       reinterpret_cast<const unsigned char*>(b64.data()), (int)b64.size());
    if (length < 0) throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "the ID token is not base64url");
    size_t padding = 0;
    for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) ++padding;
    out.resize((size_t)length - padding);
    return out;
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)>;

// The RSA public key of a JWK {kty: RSA, n, e}.
PkeyPtr rsa_key(const rapidjson::Value& jwk) {
    const std::string n = base64url_decode(jwk["n"].GetString());
    const std::string e = base64url_decode(jwk["e"].GetString());
    std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> bn_n(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), (int)n.size(), nullptr), BN_free);
    std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> bn_e(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), (int)e.size(), nullptr), BN_free);
    std::unique_ptr<OSSL_PARAM_BLD, void (*)(OSSL_PARAM_BLD*)> build(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
    if (!bn_n || !bn_e || !build || !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
        !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
        throw PgError(ERRCODE_INTERNAL_ERROR, "OpenSSL could not read the provider's key");
    std::unique_ptr<OSSL_PARAM, void (*)(OSSL_PARAM*)> params(OSSL_PARAM_BLD_to_param(build.get()), OSSL_PARAM_free);
    std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr),
                                                               EVP_PKEY_CTX_free);
    EVP_PKEY* key = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
        throw PgError(ERRCODE_INTERNAL_ERROR, "OpenSSL could not read the provider's key");
    return PkeyPtr(key, EVP_PKEY_free);
}

bool verify_rs256(EVP_PKEY* key, const std::string& signed_part, const std::string& signature) {
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    return md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
           EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
}

// The claims of an RS256 ID token whose signature a key of the JWKS verifies.
std::string claims(const std::string& token, const std::string& jwks_text) {
    const size_t first = token.find('.');
    const size_t second = first == std::string::npos ? first : token.find('.', first + 1);
    if (token.size() > 16384 || second == std::string::npos || token.find('.', second + 1) != std::string::npos)
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "the ID token is not a signed JWT");
    rapidjson::Document header, payload, jwks;
    const std::string header_text = base64url_decode(token.substr(0, first));
    const std::string payload_text = base64url_decode(token.substr(first + 1, second - first - 1));
    header.Parse(header_text.c_str(), header_text.size());
    payload.Parse(payload_text.c_str(), payload_text.size());
    jwks.Parse(jwks_text.c_str(), jwks_text.size());
    if (header.HasParseError() || !header.IsObject() || payload.HasParseError() || !payload.IsObject())
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "the ID token is not a signed JWT");
    if (!header.HasMember("alg") || !header["alg"].IsString() || std::string(header["alg"].GetString()) != "RS256")
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "the ID token must be signed with RS256");
    if (jwks.HasParseError() || !jwks.IsObject() || !jwks.HasMember("keys") || !jwks["keys"].IsArray())
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "the provider's JWKS has no keys");
    const std::string kid = header.HasMember("kid") && header["kid"].IsString() ? header["kid"].GetString() : "";
    const std::string signature = base64url_decode(token.substr(second + 1));
    const std::string signed_part = token.substr(0, second);
    for (const auto& jwk : jwks["keys"].GetArray()) {
        if (!jwk.IsObject() || !jwk.HasMember("kty") || !jwk["kty"].IsString() ||
            std::string(jwk["kty"].GetString()) != "RSA" || !jwk.HasMember("n") || !jwk["n"].IsString() ||
            !jwk.HasMember("e") || !jwk["e"].IsString())
            continue;
        if (!kid.empty() && (!jwk.HasMember("kid") || !jwk["kid"].IsString() || kid != jwk["kid"].GetString()))
            continue;
        PkeyPtr key = rsa_key(jwk);
        if (verify_rs256(key.get(), signed_part, signature)) return payload_text;
    }
    throw PgError(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "the ID token's signature does not verify",
                  "No RSA key of the provider's JWKS" + std::string(kid.empty() ? "" : " with its kid") + " verifies it.");
}

std::string jsonb_text_argument(FunctionCallInfo fcinfo, int index) {
    Datum value = PG_GETARG_DATUM(index);
    char* text = pg_call([&] { return DatumGetCString(DirectFunctionCall1(jsonb_out, value)); });
    return std::string(text);
}

Datum oidc_fetch(FunctionCallInfo fcinfo) {
    const std::string url = text_argument(fcinfo, 0);
    std::string answer;
    if (argument_is_null(fcinfo, 1)) {
        answer = fetch(url, nullptr);
    } else {
        rapidjson::Document form;
        const std::string form_text = jsonb_text_argument(fcinfo, 1);
        form.Parse(form_text.c_str(), form_text.size());
        if (form.HasParseError() || !form.IsObject())
            throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "the form must be a JSON object of strings");
        answer = fetch(url, &form);
    }
    return jsonb_datum(answer);
}

Datum jwt_claims(FunctionCallInfo fcinfo) {
    return jsonb_datum(claims(text_argument(fcinfo, 0), jsonb_text_argument(fcinfo, 1)));
}

}  // namespace

}  // namespace mcp::ext::oidc

extern "C" {
PG_FUNCTION_INFO_V1(mcp_oidc_fetch);
PG_FUNCTION_INFO_V1(mcp_jwt_claims);

Datum mcp_oidc_fetch(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::oidc::oidc_fetch(fcinfo); });
}
Datum mcp_jwt_claims(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::oidc::jwt_claims(fcinfo); });
}
}
