#include "http_fetch.hpp"

#include "pg_guard.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

namespace mcp::ext::http_fetch {

namespace {

struct Transfer {
    const Limits* limits = nullptr;
    Answer* answer = nullptr;
    bool too_large = false;
    bool refused_address = false;
    bool failed = false;  // a callback could not do its work (out of memory): the transfer is void
    std::string refused;  // the address refused, for the detail
};

// libcurl calls these from C: no C++ exception may cross its frames, so each one ends here
// and aborts the transfer (returning `on_failure`).
template <typename Result, typename Body>
Result within_callback(Transfer* transfer, Result on_failure, Body body) noexcept {
    try {
        return body();
    } catch (...) {
        transfer->failed = true;
        return on_failure;
    }
}

bool non_public_v4(uint32_t host_order) {
    const uint32_t a = host_order >> 24, b = (host_order >> 16) & 0xff, c = (host_order >> 8) & 0xff;
    return a == 0 || a == 10 || a == 127 || a >= 224 ||      // this network, private, loopback, multicast, reserved
           (a == 100 && (b & 0xc0) == 64) ||                 // shared address space (carrier NAT)
           (a == 169 && b == 254) ||                         // link-local (cloud metadata services)
           (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168) ||
           (a == 192 && b == 0 && c == 0) || (a == 198 && (b & 0xfe) == 18);
}

bool non_public(const sockaddr* address, std::string& text) {
    char buffer[INET6_ADDRSTRLEN] = "";
    if (address->sa_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
        inet_ntop(AF_INET, &v4->sin_addr, buffer, sizeof buffer);
        text = buffer;
        return non_public_v4(ntohl(v4->sin_addr.s_addr));
    }
    if (address->sa_family != AF_INET6) return true;
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &v6->sin6_addr, buffer, sizeof buffer);
    text = buffer;
    const unsigned char* b = v6->sin6_addr.s6_addr;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::memcmp(b, mapped, 12) == 0 || std::memcmp(b, nat64, 12) == 0)
        return non_public_v4((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
    bool leading_zeros = true;  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
    for (int i = 0; i < 12; ++i) leading_zeros = leading_zeros && b[i] == 0;
    return leading_zeros || b[0] == 0xff || (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
           (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8);
}

// Called for the address libcurl is about to connect to, after DNS: the place where a check
// cannot be raced by a second lookup.
extern "C" curl_socket_t open_socket(void* user, curlsocktype, curl_sockaddr* address) {
    auto* transfer = static_cast<Transfer*>(user);
    return within_callback(transfer, CURL_SOCKET_BAD, [&]() -> curl_socket_t {
        if (transfer->limits->public_addresses_only && non_public(&address->addr, transfer->refused)) {
            transfer->refused_address = true;
            return CURL_SOCKET_BAD;
        }
        return socket(address->family, address->socktype, address->protocol);
    });
}

extern "C" size_t collect(char* data, size_t size, size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    return within_callback(transfer, size_t{0}, [&] {
        const size_t bytes = size * count;
        if (transfer->answer->body.size() + bytes > transfer->limits->max_bytes) {
            transfer->too_large = true;
            return size_t{0};  // aborts the transfer
        }
        transfer->answer->body.append(data, bytes);
        return bytes;
    });
}

extern "C" size_t header_line(char* data, size_t size, size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    return within_callback(transfer, size_t{0}, [&] {
        const size_t bytes = size * count;
        std::string line(data, bytes);
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
        const size_t colon = line.find(':');
        if (colon == std::string::npos || line.size() > 2000) return bytes;
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        if (name == "content-type") {
            std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
            transfer->answer->content_type = value;
        } else if (name == "cache-control") {
            transfer->answer->cache_control = value;
        }
        return bytes;
    });
}

}  // namespace

Outcome request(const std::string& url, const Limits& limits, const std::optional<std::string>& form_body) {
    Outcome outcome;
    const bool https = url.rfind("https://", 0) == 0;
    if (!https && (limits.https_only || url.rfind("http://", 0) != 0)) {
        outcome.failure = Failure::not_allowed_url;
        return outcome;
    }
    static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!ready) throw PgError(ERRCODE_INTERNAL_ERROR, "libcurl could not be initialized");
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw PgError(ERRCODE_OUT_OF_MEMORY, "libcurl could not start a transfer");
    CURL* c = curl.get();
    Transfer transfer{&limits, &outcome.answer};
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(
        curl_slist_append(nullptr, "Accept: application/json"), curl_slist_free_all);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, limits.https_only ? "https" : "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, limits.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, limits.timeout_ms);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // a proxy would connect where the check cannot see
    curl_easy_setopt(c, CURLOPT_USERAGENT, limits.user_agent);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_line);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)limits.max_bytes);
    if (!limits.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, limits.ca_file.c_str());
    if (form_body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form_body->c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form_body->size());
    }
    const CURLcode code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &outcome.answer.status);
    if (transfer.failed) {
        throw PgError(ERRCODE_OUT_OF_MEMORY, "out of memory while fetching " + url);
    } else if (transfer.refused_address) {
        outcome.failure = Failure::private_address;
        outcome.detail = "The host name resolves to " + transfer.refused + ", which is not a public address.";
    } else if (transfer.too_large || code == CURLE_FILESIZE_EXCEEDED) {
        outcome.failure = Failure::too_large;
        outcome.detail = "The answer is longer than " + std::to_string(limits.max_bytes) + " bytes.";
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        outcome.failure = Failure::timeout;
        outcome.detail = "No complete answer within " + std::to_string(limits.timeout_ms) + " ms.";
    } else if (code != CURLE_OK) {
        outcome.failure = Failure::unreachable;
        outcome.detail = std::string("libcurl: ") + curl_easy_strerror(code) + ".";
    }
    if (outcome.failure != Failure::none) outcome.answer.body.clear();
    return outcome;
}

}  // namespace mcp::ext::http_fetch
