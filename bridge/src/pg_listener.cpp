#include "pg_listener.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "pg_connection.hpp"

namespace mcp::bridge {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto connect_timeout = std::chrono::seconds(5);
constexpr auto first_backoff = std::chrono::milliseconds(200);
constexpr auto max_backoff = std::chrono::seconds(5);
// A silent connection is pinged now and then, so a dead one is noticed even without traffic.
constexpr auto keepalive_interval = std::chrono::seconds(30);

bool is_identifier(const std::string& name) {
    return !name.empty() && name.size() < 64 &&
           name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
}

}  // namespace

PgListener::PgListener(std::string conninfo, std::string channel, PayloadHandler on_payloads,
                       ReconnectHandler on_reconnect)
    : conninfo_(std::move(conninfo)),
      channel_(std::move(channel)),
      on_payloads_(std::move(on_payloads)),
      on_reconnect_(std::move(on_reconnect)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

PgListener::~PgListener() {
    stop();
    if (wake_fd_ >= 0) {
        ::close(wake_fd_);
    }
}

void PgListener::start() {
    if (conninfo_.empty() || !is_identifier(channel_) || thread_.joinable()) {
        return;
    }
    thread_ = std::thread([this] { run(); });
}

void PgListener::stop() {
    stopping_ = true;
    const std::uint64_t one = 1;
    if (wake_fd_ >= 0) {
        [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
    }
    if (thread_.joinable()) {
        thread_.join();
    }
}

bool PgListener::sleep_unless_stopped(std::chrono::milliseconds duration) {
    pollfd entry{wake_fd_, POLLIN, 0};
    ::poll(&entry, 1, static_cast<int>(duration.count()));
    return !stopping_;
}

void PgListener::run() {
    auto backoff = first_backoff;
    bool first_connection = true;
    while (!stopping_) {
        PgConnection connection;
        PgRows ignored;
        PgError error;
        const auto deadline = Clock::now() + connect_timeout;
        // The channel name is checked to be a plain identifier: LISTEN takes no parameter.
        if (!connection.connect(conninfo_, deadline) ||
            !connection.exec("LISTEN " + channel_, {}, deadline, ignored, error)) {
            if (!sleep_unless_stopped(backoff)) {
                break;
            }
            backoff = std::min<std::chrono::milliseconds>(backoff * 2, max_backoff);
            continue;
        }
        backoff = first_backoff;
        listening_ = true;
        if (!first_connection && on_reconnect_) {
            on_reconnect_();
        }
        first_connection = false;
        auto last_traffic = Clock::now();
        while (!stopping_) {
            pollfd entries[2] = {{connection.socket(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
            const int ready = ::poll(entries, 2, 1000);
            if (ready < 0 && errno != EINTR) {
                break;
            }
            if (stopping_) {
                break;
            }
            if (ready > 0 && (entries[0].revents != 0)) {
                std::vector<std::string> payloads;
                if (!connection.read_notifications(payloads)) {
                    break;
                }
                last_traffic = Clock::now();
                if (!payloads.empty() && on_payloads_) {
                    on_payloads_(payloads);
                }
            } else if (Clock::now() - last_traffic > keepalive_interval) {
                if (!connection.ping(Clock::now() + connect_timeout)) {
                    break;
                }
                last_traffic = Clock::now();
                // A ping may have carried notifications in with it.
                std::vector<std::string> payloads;
                if (!connection.read_notifications(payloads)) {
                    break;
                }
                if (!payloads.empty() && on_payloads_) {
                    on_payloads_(payloads);
                }
            }
        }
        listening_ = false;
    }
}

}  // namespace mcp::bridge
