#include "test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include <libpq-fe.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace mcp::bridge::test {

namespace http = boost::beast::http;

namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

int connect_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw_errno("socket");
    }
    const sockaddr_in address = loopback(port);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

std::uint16_t bound_port(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw_errno("getsockname");
    }
    return ntohs(address.sin_port);
}

int listen_loopback(int backlog) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw_errno("socket");
    }
    const sockaddr_in address = loopback(0);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd, backlog) != 0) {
        ::close(fd);
        throw_errno("bind/listen");
    }
    return fd;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

}  // namespace

std::optional<std::string> test_database_url() {
    const char* url = std::getenv("MCP_TEST_DATABASE_URL");
    if (url == nullptr || *url == '\0') {
        return std::nullopt;
    }
    return std::string(url);
}

std::string with_application_name(const std::string& url, const std::string& name) {
    if (url.find("://") != std::string::npos) {
        return url + (url.find('?') == std::string::npos ? "?" : "&") + "application_name=" + name;
    }
    return url + " application_name=" + name;
}

Config test_config() {
    Config config;
    config.listen = {"127.0.0.1", 0};
    config.threads = 2;
    config.limits.read_timeout = std::chrono::seconds(5);
    config.limits.idle_timeout = std::chrono::seconds(5);
    config.shutdown_timeout = std::chrono::seconds(5);
    return config;
}

std::string HttpReply::header(const std::string& lower_case_name) const {
    const auto found = headers.find(lower_case_name);
    return found == headers.end() ? std::string() : found->second;
}

RawClient::RawClient(std::uint16_t port) : fd_(connect_loopback(port)) {
    if (fd_ < 0) {
        throw_errno("connect");
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawClient::~RawClient() { close(); }

void RawClient::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

void RawClient::send(std::string_view data) {
    while (!data.empty()) {
        const ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("send");
        }
        data.remove_prefix(static_cast<std::size_t>(sent));
    }
}

RawClient::Received RawClient::receive_some(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd entry{fd_, POLLIN, 0};
        const int ready = ::poll(&entry, 1, static_cast<int>(std::max<long long>(0, left.count())));
        if (ready == 0) {
            return Received::timeout;
        }
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("poll");
        }
        char chunk[16384];
        const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
        if (got > 0) {
            pending_.append(chunk, static_cast<std::size_t>(got));
            return Received::data;
        }
        if (got < 0 && errno == EINTR) {
            continue;
        }
        return Received::closed;  // end of stream or reset
    }
}

std::optional<HttpReply> RawClient::read_reply(std::chrono::milliseconds timeout, bool head) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.skip(head);  // a reply to HEAD announces a body it does not carry
    for (;;) {
        if (!pending_.empty()) {
            boost::beast::error_code ec;
            const std::size_t used =
                parser.put(boost::asio::buffer(pending_.data(), pending_.size()), ec);
            pending_.erase(0, used);
            if (ec && ec != http::error::need_more) {
                return std::nullopt;
            }
            if (parser.is_done()) {
                break;
            }
            if (!ec && used > 0) {
                continue;
            }
        }
        const Received received = receive_some(deadline);
        if (received == Received::timeout) {
            return std::nullopt;
        }
        if (received == Received::closed) {
            boost::beast::error_code ec;
            parser.put_eof(ec);
            if (ec || !parser.is_done()) {
                return std::nullopt;
            }
            break;
        }
    }
    const auto& message = parser.get();
    HttpReply reply;
    reply.status = message.result_int();
    for (const auto& field : message) {
        reply.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    }
    reply.body = message.body();
    return reply;
}

bool RawClient::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        switch (receive_some(deadline)) {
            case Received::closed:
                return true;
            case Received::timeout:
                return false;
            case Received::data:
                pending_.clear();  // whatever the server says last does not matter here
                break;
        }
    }
}

std::string RawClient::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pending_.find(needle) == std::string::npos) {
        if (receive_some(deadline) != Received::data) {
            break;
        }
    }
    return pending_;
}

int terminate_backends(const std::string& url, const std::string& application_name) {
    PGconn* admin = PQconnectdb(url.c_str());
    if (PQstatus(admin) != CONNECTION_OK) {
        PQfinish(admin);
        throw std::runtime_error("cannot connect to terminate backends");
    }
    const char* params[] = {application_name.c_str()};
    PGresult* result = PQexecParams(
        admin,
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
        "WHERE application_name = $1 AND pid <> pg_backend_pid()",
        1, nullptr, params, nullptr, nullptr, 0);
    const int count = PQresultStatus(result) == PGRES_TUPLES_OK ? std::stoi(PQgetvalue(result, 0, 0)) : -1;
    PQclear(result);
    PQfinish(admin);
    return count;
}

std::string query_value(const std::string& url, const std::string& sql) {
    PGconn* conn = PQconnectdb(url.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        throw std::runtime_error("cannot connect");
    }
    PGresult* result = PQexec(conn, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    std::string value;
    if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) {
        value = PQgetvalue(result, 0, 0);
    }
    const std::string error = PQerrorMessage(conn);
    PQclear(result);
    PQfinish(conn);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        throw std::runtime_error("query failed: " + error);
    }
    return value;
}

std::string get_request(std::string_view target, bool keep_alive, std::string_view method) {
    std::string request;
    request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: localhost\r\n");
    if (!keep_alive) {
        request += "Connection: close\r\n";
    }
    return request + "\r\n";
}

HttpReply fetch(std::uint16_t port, std::string_view target, std::string_view method) {
    RawClient client(port);
    client.send(get_request(target, false, method));
    auto reply = client.read_reply(std::chrono::seconds(10), method == "HEAD");
    if (!reply) {
        throw std::runtime_error("no HTTP reply for " + std::string(target));
    }
    return *reply;
}

bool connection_refused(std::uint16_t port) {
    const int fd = connect_loopback(port);
    if (fd >= 0) {
        ::close(fd);
        return false;
    }
    return errno == ECONNREFUSED;
}

std::uint16_t closed_port() {
    const int fd = listen_loopback(1);
    const std::uint16_t port = bound_port(fd);
    ::close(fd);
    return port;
}

SilentListener::SilentListener() : fd_(listen_loopback(16)), port_(bound_port(fd_)) {}

SilentListener::~SilentListener() { ::close(fd_); }

}  // namespace mcp::bridge::test
