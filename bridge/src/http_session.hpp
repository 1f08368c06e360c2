#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include "config.hpp"
#include "connection_tracker.hpp"
#include "http_types.hpp"
#include "logger.hpp"
#include "router.hpp"

namespace mcp::bridge {

// What every connection of one server shares. Sessions hold it by shared_ptr, so it outlives
// the last of them however the server shuts down.
struct SessionContext {
    SessionContext(Router router, Limits limits, Logger& logger,
                   boost::asio::thread_pool::executor_type handler_executor);

    Router router;
    Limits limits;
    Logger& logger;
    // Handlers may block on the database; they run here, never on an I/O thread.
    boost::asio::thread_pool::executor_type handler_executor;
    ConnectionTracker tracker;
};

// One client connection: reads requests one at a time, hands each to the router on the
// handler pool, writes the answer, and keeps the connection for the next request.
// All of its state is touched only on its strand (the stream's executor).
class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(boost::asio::ip::tcp::socket socket, std::shared_ptr<SessionContext> context);
    ~HttpSession();

    void start();
    // Finishes the request in flight, if any, then closes; an idle connection closes now.
    void begin_shutdown();
    void force_close();

private:
    enum class Phase { waiting, reading, handling, writing, closing };

    void wait_for_request();
    void on_first_bytes(boost::beast::error_code ec, std::size_t bytes);
    void read_header();
    void on_header(boost::beast::error_code ec, std::size_t bytes);
    void on_body(boost::beast::error_code ec, std::size_t bytes);
    void on_read_error(boost::beast::error_code ec);
    void dispatch_request();
    Response run_handler() const;
    void reject(http::status status, const char* message);
    void write_response(Response response);
    void on_write(boost::beast::error_code ec, std::size_t bytes);
    void log_request();
    void lingering_close();
    void on_drain(boost::beast::error_code ec, std::size_t bytes);
    void close_now();

    std::shared_ptr<SessionContext> context_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    Request request_;
    Response response_;
    Phase phase_ = Phase::waiting;
    bool first_request_ = true;
    bool stopping_ = false;
    bool close_after_response_ = false;
    bool head_request_ = false;
    bool keep_alive_requested_ = false;
    unsigned version_ = 11;
    std::string log_method_;
    std::string log_path_;
    std::chrono::steady_clock::time_point request_started_;
    std::chrono::steady_clock::time_point request_deadline_;
    std::size_t drained_bytes_ = 0;
    std::array<char, 4096> drain_buffer_{};
};

}  // namespace mcp::bridge
