#include "http_server.hpp"

#include <future>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "http_session.hpp"

namespace mcp::bridge {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// After an accept error such as EMFILE, retrying at once would spin a thread at 100%.
constexpr auto accept_retry_delay = std::chrono::milliseconds(50);
// How long a forced stop waits for cut-off connections to unwind.
constexpr auto forced_close_grace = std::chrono::seconds(1);

std::string host_for_url(const net::ip::address& address) {
    return address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
}

}  // namespace

struct HttpServer::Impl {
    Impl(const Config& config, Router router, Logger& logger, std::ostream& announce,
         RequestObserver observer)
        : config(config),
          announce(announce),
          context(std::make_shared<SessionContext>(std::move(router), config.limits, logger,
                                                   std::move(observer))),
          acceptor(net::make_strand(io)),
          retry_timer(acceptor.get_executor()) {
        context->proxy_trust = config.proxy_trust;
    }

    void start();
    void accept_next();
    void on_accept(boost::system::error_code ec, tcp::socket socket);
    void close_acceptor();
    bool stop(std::chrono::milliseconds timeout);

    const Config config;
    std::ostream& announce;
    // Declaration order is destruction order in reverse: sessions still queued in the
    // io_context are destroyed while the context they share still exists.
    net::io_context io;
    std::shared_ptr<SessionContext> context;
    tcp::acceptor acceptor;
    net::steady_timer retry_timer;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    tcp::endpoint local_endpoint;
    bool started = false;
    bool stopped = false;
};

void HttpServer::Impl::start() {
    if (started) {
        throw std::logic_error("server already started");
    }
    const auto& listen = config.listen;
    const std::string where = listen.host + ":" + std::to_string(listen.port);
    try {
        tcp::resolver resolver(io);
        const auto results = resolver.resolve(listen.host, std::to_string(listen.port),
                                              tcp::resolver::passive |
                                                  tcp::resolver::numeric_service);
        const tcp::endpoint endpoint = results.begin()->endpoint();
        acceptor.open(endpoint.protocol());
        acceptor.set_option(net::socket_base::reuse_address(true));
        acceptor.bind(endpoint);
        acceptor.listen(net::socket_base::max_listen_connections);
        local_endpoint = acceptor.local_endpoint();
    } catch (const boost::system::system_error& error) {
        throw std::runtime_error("cannot listen on " + where + ": " + error.code().message());
    }
    started = true;
    // Scripts and tests wait for this exact line to learn the port.
    announce << "mcp-bridge listening on http://" << host_for_url(local_endpoint.address())
             << ':' << local_endpoint.port() << std::endl;

    // The guard keeps the I/O threads running while nothing is pending (before the first
    // accept is posted, and while stop() winds down).
    work.emplace(io.get_executor());
    net::post(acceptor.get_executor(), [this] { accept_next(); });
    threads.reserve(config.threads);
    for (unsigned i = 0; i < config.threads; ++i) {
        threads.emplace_back([this] { io.run(); });
    }
}

void HttpServer::Impl::accept_next() {
    // Each connection gets its own strand: its handlers never run concurrently, yet
    // different connections use all threads.
    acceptor.async_accept(net::make_strand(io), [this](boost::system::error_code ec,
                                                       tcp::socket socket) {
        on_accept(ec, std::move(socket));
    });
}

void HttpServer::Impl::on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open() || ec == net::error::operation_aborted) {
        return;  // stopping
    }
    if (ec) {
        retry_timer.expires_after(accept_retry_delay);
        retry_timer.async_wait([this](boost::system::error_code wait_ec) {
            if (!wait_ec && acceptor.is_open()) {
                accept_next();
            }
        });
        return;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // small JSON answers should not wait
    auto session = std::make_shared<HttpSession>(std::move(socket), context);
    if (context->tracker.add(session)) {
        session->start();
    }
    accept_next();
}

void HttpServer::Impl::close_acceptor() {
    // The acceptor lives on its strand; closing it there avoids racing a pending accept.
    std::promise<void> closed;
    net::post(acceptor.get_executor(), [&] {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        retry_timer.cancel();
        closed.set_value();
    });
    closed.get_future().wait();
}

bool HttpServer::Impl::stop(std::chrono::milliseconds timeout) {
    if (!started || stopped) {
        return true;
    }
    stopped = true;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    close_acceptor();
    context->tracker.begin_stop();
    for (const auto& session : context->tracker.live_sessions()) {
        session->begin_shutdown();
    }
    bool graceful = context->tracker.wait_until_empty(deadline);
    if (!graceful) {
        for (const auto& session : context->tracker.live_sessions()) {
            session->force_close();
        }
        context->tracker.wait_until_empty(std::chrono::steady_clock::now() + forced_close_grace);
    }
    // Handlers still running after a forced stop end first (their database calls are bounded):
    // a fiber left suspended would keep its pooled connection forever.
    while (context->handlers_running.load() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    work.reset();
    io.stop();
    for (auto& thread : threads) {
        thread.join();
    }
    return graceful;
}

HttpServer::HttpServer(const Config& config, Router router, Logger& logger,
                       std::ostream& announce, RequestObserver observer)
    : impl_(std::make_unique<Impl>(config, std::move(router), logger, announce,
                                   std::move(observer))) {}

HttpServer::~HttpServer() { impl_->stop(impl_->config.shutdown_timeout); }

void HttpServer::start() { impl_->start(); }

std::uint16_t HttpServer::port() const { return impl_->local_endpoint.port(); }

bool HttpServer::stop(std::chrono::milliseconds timeout) { return impl_->stop(timeout); }

}  // namespace mcp::bridge
