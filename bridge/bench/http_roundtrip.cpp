// The raw-client side of the bridge benchmark: keep-alive HTTP/1.1 POSTs of one body from N
// client threads, each on its own TCP connection (TCP_NODELAY), for a fixed time. No SDK and
// no JSON parsing, so what it measures is the bridge. Prints one JSON line:
// {"clients", "calls", "errors", "seconds", "calls_per_s", "p50_ms", "p95_ms"}.
// A call counts as an error when the status is not 200 or the body contains --error-text.
//
//   http_roundtrip --port P --path /mcp --body JSON [--header "Name: value"]...
//                  [--clients N] [--seconds S] [--error-text '"isError":true']
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string path = "/mcp";
    std::string body;
    std::vector<std::string> headers;
    std::string error_text;
    int clients = 1;
    double seconds = 5;
};

bool parse(int argc, char** argv, Options& options) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--host") {
            options.host = value;
        } else if (flag == "--port") {
            options.port = std::atoi(value.c_str());
        } else if (flag == "--path") {
            options.path = value;
        } else if (flag == "--body") {
            options.body = value;
        } else if (flag == "--header") {
            options.headers.push_back(value);
        } else if (flag == "--error-text") {
            options.error_text = value;
        } else if (flag == "--clients") {
            options.clients = std::max(1, std::atoi(value.c_str()));
        } else if (flag == "--seconds") {
            options.seconds = std::max(0.1, std::atof(value.c_str()));
        } else {
            return false;
        }
    }
    return options.port > 0 && argc % 2 == 1;
}

double percentile(std::vector<double>& values, double q) {
    if (values.empty()) {
        return 0;
    }
    const auto index = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
    std::nth_element(values.begin(), values.begin() + static_cast<long>(index), values.end());
    return values[index];
}

int open_connection(const Options& options) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(options.port));
    if (::inet_pton(AF_INET, options.host.c_str(), &address.sin_addr) != 1 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

bool send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

// Content-Length of a header block, or -1 (the bridge always sends one for JSON answers).
long content_length(const std::string& head) {
    std::string lower(head);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto at = lower.find("\r\ncontent-length:");
    return at == std::string::npos ? -1 : std::atol(lower.c_str() + at + 17);
}

// Reads one response; `buffer` keeps what arrived past it. Returns the status, 0 on failure.
int read_response(int fd, std::string& buffer, std::string& body) {
    char chunk[16384];
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            return 0;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
    const std::string head = buffer.substr(0, head_end);
    const long length = content_length(head);
    if (length < 0 || head.size() < 12) {
        return 0;
    }
    const std::size_t total = head_end + 4 + static_cast<std::size_t>(length);
    while (buffer.size() < total) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            return 0;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
    body.assign(buffer, head_end + 4, static_cast<std::size_t>(length));
    buffer.erase(0, total);
    return std::atoi(head.c_str() + 9);  // "HTTP/1.1 200"
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse(argc, argv, options)) {
        std::fprintf(stderr,
                     "usage: http_roundtrip --port P [--host IP] [--path /mcp] --body JSON "
                     "[--header 'Name: value']... [--clients N] [--seconds S] [--error-text T]\n");
        return 2;
    }
    std::string request = "POST " + options.path + " HTTP/1.1\r\nHost: " + options.host +
                          "\r\nContent-Type: application/json\r\n"
                          "Accept: application/json, text/event-stream\r\n";
    for (const auto& header : options.headers) {
        request += header + "\r\n";
    }
    request += "Content-Length: " + std::to_string(options.body.size()) + "\r\n\r\n" + options.body;

    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(options.clients));
    std::atomic<bool> failed{false};
    std::atomic<long> errors{0};
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    Clock::time_point end;
    std::string first_error;
    std::vector<std::thread> threads;
    for (int c = 0; c < options.clients; ++c) {
        threads.emplace_back([&, c] {
            const int fd = open_connection(options);
            std::string buffer, body;
            // One call before the clock starts: the connection and the bridge's pool warm up.
            if (fd < 0 || !send_all(fd, request) || read_response(fd, buffer, body) == 0) {
                failed = true;
                ++ready;
                if (fd >= 0) ::close(fd);
                return;
            }
            ++ready;
            while (!go) {
                std::this_thread::yield();
            }
            auto& mine = latencies[static_cast<std::size_t>(c)];
            mine.reserve(200000);
            while (Clock::now() < end) {
                const auto start = Clock::now();
                if (!send_all(fd, request)) {
                    failed = true;
                    break;
                }
                const int status = read_response(fd, buffer, body);
                if (status == 0) {
                    failed = true;
                    break;
                }
                mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
                if (status != 200 ||
                    (!options.error_text.empty() && body.find(options.error_text) != std::string::npos)) {
                    if (errors++ == 0) first_error = std::to_string(status) + " " + body.substr(0, 300);
                }
            }
            ::close(fd);
        });
    }
    while (ready < options.clients) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto start = Clock::now();
    end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
    go = true;
    for (auto& thread : threads) {
        thread.join();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (failed) {
        std::fprintf(stderr, "http_roundtrip: a connection failed or an answer was malformed\n");
        return 1;
    }
    if (errors > 0) {
        std::fprintf(stderr, "http_roundtrip: first error: %s\n", first_error.c_str());
    }
    std::vector<double> all;
    for (const auto& list : latencies) {
        all.insert(all.end(), list.begin(), list.end());
    }
    const std::size_t calls = all.size();
    const double p50 = percentile(all, 0.50);
    const double p95 = percentile(all, 0.95);
    std::printf("{\"clients\":%d,\"calls\":%zu,\"errors\":%ld,\"seconds\":%.3f,\"calls_per_s\":%.1f,"
                "\"p50_ms\":%.4f,\"p95_ms\":%.4f}\n",
                options.clients, calls, errors.load(), elapsed, static_cast<double>(calls) / elapsed,
                p50, p95);
    return 0;
}
