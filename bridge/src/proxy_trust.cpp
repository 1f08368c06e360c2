#include "proxy_trust.hpp"

#include <array>

#include "http_headers.hpp"

namespace mcp::bridge {

namespace {

namespace ip = boost::asio::ip;

// IPv4-mapped IPv6 peers (::ffff:10.0.0.1, from a dual-stack listener) match IPv4 networks.
ip::address unmapped(const ip::address& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        return ip::make_address_v4(ip::v4_mapped, address.to_v6());
    }
    return address;
}

bool in_network(const ip::address& peer, const ProxyTrust::Network& network) {
    if (peer.is_v4() != network.address.is_v4()) {
        return false;
    }
    std::array<unsigned char, 16> a{};
    std::array<unsigned char, 16> b{};
    std::size_t size = 0;
    if (peer.is_v4()) {
        const auto pa = peer.to_v4().to_bytes();
        const auto pb = network.address.to_v4().to_bytes();
        std::copy(pa.begin(), pa.end(), a.begin());
        std::copy(pb.begin(), pb.end(), b.begin());
        size = 4;
    } else {
        a = peer.to_v6().to_bytes();
        b = network.address.to_v6().to_bytes();
        size = 16;
    }
    unsigned bits = network.prefix;
    for (std::size_t i = 0; i < size && bits > 0; ++i) {
        const unsigned take = bits >= 8 ? 8 : bits;
        const unsigned mask = (0xffu << (8 - take)) & 0xffu;
        if ((a[i] & mask) != (b[i] & mask)) {
            return false;
        }
        bits -= take;
    }
    return true;
}

std::string_view trim_view(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// proto= and host= of the first (client-nearest proxy's) element of a Forwarded header.
void read_forwarded(std::string_view value, std::string& proto, std::string& host) {
    value = value.substr(0, value.find(','));
    while (!value.empty()) {
        const auto semicolon = value.find(';');
        std::string_view pair = trim_view(value.substr(0, semicolon));
        value = semicolon == std::string_view::npos ? std::string_view() : value.substr(semicolon + 1);
        const auto equals = pair.find('=');
        if (equals == std::string_view::npos) continue;
        std::string key = lowercase(trim_view(pair.substr(0, equals)));
        std::string_view item = trim_view(pair.substr(equals + 1));
        if (item.size() >= 2 && item.front() == '"' && item.back() == '"') {
            item = item.substr(1, item.size() - 2);
        }
        if (key == "proto") proto = lowercase(item);
        if (key == "host") host = std::string(item);
    }
}

}  // namespace

bool ProxyTrust::trusts(const ip::address& peer) const {
    if (any) return true;
    const ip::address plain = unmapped(peer);
    for (const Network& network : networks) {
        if (in_network(plain, network)) return true;
    }
    return false;
}

std::optional<std::string> parse_trusted_proxies(std::string_view text, ProxyTrust& trust) {
    const std::string expected =
        "expected * or a comma-separated list of addresses and networks such as 10.0.0.0/8, fd00::/8";
    std::vector<ProxyTrust::Network> networks;
    bool any = false;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view item = trim_view(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        if (item.empty()) continue;
        if (item == "*") {
            any = true;
            continue;
        }
        const auto slash = item.find('/');
        boost::system::error_code ec;
        const ip::address address = ip::make_address(std::string(item.substr(0, slash)), ec);
        if (ec) return expected;
        const unsigned max_prefix = address.is_v4() ? 32 : 128;
        unsigned prefix = max_prefix;
        if (slash != std::string_view::npos) {
            const std::string_view digits = item.substr(slash + 1);
            if (digits.empty() || digits.size() > 3 ||
                digits.find_first_not_of("0123456789") != std::string_view::npos) {
                return expected;
            }
            prefix = static_cast<unsigned>(std::stoul(std::string(digits)));
            if (prefix > max_prefix) return expected;
        }
        networks.push_back({unmapped(address), prefix});
    }
    trust.networks = std::move(networks);
    trust.any = any;
    return std::nullopt;
}

std::optional<std::string> parse_public_url(std::string_view text, std::string& url) {
    text = trim_view(text);
    while (!text.empty() && text.back() == '/') text.remove_suffix(1);
    if (text.empty()) {
        url.clear();
        return std::nullopt;
    }
    const std::string lower = lowercase(text);
    const std::size_t scheme_end = lower.rfind("https://", 0) == 0 ? 8 : lower.rfind("http://", 0) == 0 ? 7 : 0;
    const std::string_view authority = scheme_end ? text.substr(scheme_end) : std::string_view();
    if (scheme_end == 0 || authority.empty() ||
        authority.find_first_of("/?#@ \t\"<>\\") != std::string_view::npos) {
        return "expected the URL clients use to reach the bridge, such as https://analytics.example.com "
               "(scheme and host, optionally a port; no path)";
    }
    url = lower.substr(0, scheme_end) + std::string(authority);
    return std::nullopt;
}

void apply_proxy_trust(Request& request, const ip::address& peer, const ProxyTrust& trust) {
    if (trust.trusts(peer)) {
        // Forwarded (standard) fills in what the X-Forwarded-* headers do not say.
        const std::string forwarded = header_value(request, "Forwarded");
        if (!forwarded.empty()) {
            std::string proto, host;
            read_forwarded(forwarded, proto, host);
            if (!proto.empty() && header_value(request, "X-Forwarded-Proto").empty())
                request.set("X-Forwarded-Proto", proto);
            if (!host.empty() && header_value(request, "X-Forwarded-Host").empty())
                request.set("X-Forwarded-Host", host);
        }
    } else {
        request.erase("X-Forwarded-Proto");
        request.erase("X-Forwarded-Host");
        request.erase("X-Forwarded-For");
        request.erase("Forwarded");
    }
    // The client's address, for rate limits: what a trusted proxy says it forwarded for (its
    // last hop), else the peer itself. Set on every request, so a client cannot send its own.
    std::string client = peer.to_string();
    if (trust.trusts(peer)) {
        const std::string forwarded_for = header_value(request, "X-Forwarded-For");
        const std::string_view last =
            trim_view(std::string_view(forwarded_for).substr(forwarded_for.rfind(',') + 1));
        if (!last.empty()) client = std::string(last);
    }
    request.set(client_address_header, client);
    if (!trust.public_url.empty()) {
        const bool https = trust.public_url.rfind("https://", 0) == 0;
        request.set("X-Forwarded-Proto", https ? "https" : "http");
        request.set("X-Forwarded-Host", trust.public_url.substr(https ? 8 : 7));
    }
}

std::string public_base_url(const Request& request) {
    const bool https = lowercase(trim_view(header_value(request, "X-Forwarded-Proto"))) == "https";
    std::string host(trim_view(header_value(request, "X-Forwarded-Host")));
    if (host.empty()) host = std::string(trim_view(header_value(request, "Host")));
    if (host.empty()) host = "localhost";
    return (https ? "https://" : "http://") + host;
}

}  // namespace mcp::bridge
