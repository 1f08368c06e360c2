#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <functional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>

#include "config.hpp"
#include "connection_tracker.hpp"
#include "http_types.hpp"
#include "logger.hpp"
#include "proxy_trust.hpp"
#include "router.hpp"

namespace mcp::bridge {

// What every connection of one server shares. Sessions hold it by shared_ptr, so it outlives
// the last of them however the server shuts down.
struct SessionContext {
    SessionContext(Router router, Limits limits, Logger& logger, RequestObserver observer = {});

    Router router;
    Limits limits;
    Logger& logger;
    RequestObserver observer;
    ConnectionTracker tracker;
    // Handlers whose fibers have not ended: the server's threads run until none is left.
    std::atomic<int> handlers_running{0};
    // Which peers' forwarding headers count; applied to every request before its handler.
    ProxyTrust proxy_trust;
};

// One client connection: reads requests one at a time, hands each to the router in a fiber
// on its strand, writes the answer, and keeps the connection for the next request. An answer
// may also be a server-sent event stream (GET /mcp), written chunk by chunk as events come,
// with comment heartbeats in between; the connection then ends with the stream.
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
    enum class Phase { waiting, reading, handling, writing, streaming, closing };

    void wait_for_request();
    void on_first_bytes(boost::beast::error_code ec, std::size_t bytes);
    void read_header();
    void on_header(boost::beast::error_code ec, std::size_t bytes);
    void on_body(boost::beast::error_code ec, std::size_t bytes);
    void on_read_error(boost::beast::error_code ec);
    void dispatch_request();
    Reply run_handler() const;
    void reject(http::status status, const char* message);
    void write_reply(Reply reply);
    void write_response(Response response);
    void start_stream(Reply reply);
    void on_stream_header(boost::beast::error_code ec);
    void on_stream_peer(boost::beast::error_code ec, std::size_t bytes);
    void pump_events();
    void write_event(std::string frame);
    void on_event_written(boost::beast::error_code ec);
    void schedule_heartbeat();
    void finish_stream();
    void on_stream_end(boost::beast::error_code ec);
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
    boost::asio::ip::address peer_;  // the connection's remote address (a proxy, or the client)
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
    // Phase marks of the request in flight, for the phase histograms.
    std::chrono::steady_clock::time_point parsed_at_, handler_started_, handler_ended_,
        write_started_;
    std::chrono::steady_clock::time_point request_deadline_;
    std::size_t drained_bytes_ = 0;
    std::array<char, 4096> drain_buffer_{};
    LogFields log_fields_;
    // Event stream state (phase streaming).
    std::shared_ptr<EventChannel> channel_;
    std::optional<http::response<http::empty_body>> stream_head_;
    std::optional<http::response_serializer<http::empty_body>> stream_serializer_;
    boost::asio::steady_timer heartbeat_;
    std::string event_frame_;
    std::size_t stream_bytes_ = 0;
    bool event_in_flight_ = false;
    bool stream_ending_ = false;
};

}  // namespace mcp::bridge
