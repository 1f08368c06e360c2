#include "http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "event_streams.hpp"
#include "fiber.hpp"
#include "responses.hpp"

namespace mcp::bridge {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t first_read_bytes = 4096;
// Room past the header limit so that the parser's header_limit, not a full buffer, is what
// stops an oversized header, and pipelined requests still fit.
constexpr std::size_t buffer_slack_bytes = 16 * 1024;
// After a response that ends the connection, unread request bytes are drained for a while:
// closing a socket with unread data sends a reset that can destroy the response in transit.
constexpr auto linger_time = std::chrono::seconds(2);
constexpr std::size_t max_drain_bytes = 256 * 1024;
// Request handlers running at once (each a fiber with its own stack, mostly untouched).
constexpr int max_running_handlers = 8192;

bool is_parse_error(beast::error_code ec) {
    return ec.category() == http::make_error_code(http::error::bad_method).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

SessionContext::SessionContext(Router router, Limits limits, Logger& logger,
                               RequestObserver observer)
    : router(std::move(router)), limits(limits), logger(logger), observer(std::move(observer)) {}

HttpSession::HttpSession(tcp::socket socket, std::shared_ptr<SessionContext> context)
    : context_(std::move(context)),
      stream_(std::move(socket)),
      buffer_(context_->limits.max_header_bytes + buffer_slack_bytes),
      // The first request's clock starts at accept: a client that connects and says nothing
      // is as slow as one that stops half-way.
      request_deadline_(std::chrono::steady_clock::now() + context_->limits.read_timeout),
      heartbeat_(stream_.get_executor()) {
    boost::system::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) {
        peer_ = remote.address();  // else unspecified (0.0.0.0): trusted only under "*"
    }
}

HttpSession::~HttpSession() {
    if (channel_) {
        channel_->close();
    }
    context_->tracker.remove(this);
}

void HttpSession::start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
}

void HttpSession::begin_shutdown() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
        self->stopping_ = true;
        // Only a connection waiting for its next request is cut now; one that is receiving,
        // handling or answering a request finishes it and closes afterwards. An event stream
        // has no end of its own, so it ends here.
        if (self->phase_ == Phase::waiting) {
            self->stream_.cancel();
        } else if (self->phase_ == Phase::streaming) {
            self->finish_stream();
        }
    });
}

void HttpSession::force_close() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
}

void HttpSession::wait_for_request() {
    if (stopping_) {
        return close_now();
    }
    phase_ = Phase::waiting;
    request_ = {};
    response_ = {};
    log_method_.clear();
    log_path_.clear();
    log_fields_ = {};
    handler_started_ = handler_ended_ = {};
    if (buffer_.size() > 0) {
        // A pipelined request is already here; its clock starts now.
        return on_first_bytes({}, 0);
    }
    // Waiting for the next request on a kept-alive connection is idling, not a slow request.
    if (first_request_) {
        stream_.expires_at(request_deadline_);
    } else {
        stream_.expires_after(context_->limits.idle_timeout);
    }
    stream_.async_read_some(buffer_.prepare(first_read_bytes),
                            beast::bind_front_handler(&HttpSession::on_first_bytes,
                                                      shared_from_this()));
}

void HttpSession::on_first_bytes(beast::error_code ec, std::size_t bytes) {
    if (ec) {
        return close_now();  // idle timeout, client gone, or a stop cancelled the wait
    }
    buffer_.commit(bytes);
    request_started_ = std::chrono::steady_clock::now();
    if (!first_request_) {
        request_deadline_ = request_started_ + context_->limits.read_timeout;
    }
    read_header();
}

void HttpSession::read_header() {
    phase_ = Phase::reading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(context_->limits.max_header_bytes));
    parser_->body_limit(context_->limits.max_body_bytes);
    // One deadline for header and body together: trickling bytes does not buy more time.
    stream_.expires_at(request_deadline_);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
}

void HttpSession::on_header(beast::error_code ec, std::size_t) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        return reject(http::status::request_header_fields_too_large,
                      "request header fields too large");
    }
    if (ec == http::error::body_limit) {
        return reject(http::status::payload_too_large, "payload too large");
    }
    if (ec) {
        return on_read_error(ec);
    }
    // Refuse a declared oversized body before reading any of it.
    const auto length = parser_->content_length();
    if (length && *length > context_->limits.max_body_bytes) {
        return reject(http::status::payload_too_large, "payload too large");
    }
    if (parser_->is_done()) {
        return dispatch_request();
    }
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_body, shared_from_this()));
}

void HttpSession::on_body(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) {
        return reject(http::status::payload_too_large, "payload too large");
    }
    if (ec) {
        return on_read_error(ec);
    }
    dispatch_request();
}

void HttpSession::on_read_error(beast::error_code ec) {
    if (is_parse_error(ec)) {
        return reject(http::status::bad_request, "bad request");
    }
    // Timeouts, resets and a client that hung up mid-request get no answer: nobody is listening.
    close_now();
}

void HttpSession::dispatch_request() {
    request_ = parser_->release();
    parser_.reset();
    apply_proxy_trust(request_, peer_, context_->proxy_trust);
    log_method_ = std::string(request_.method_string());
    log_path_ = std::string(path_without_query(request_.target()));
    head_request_ = request_.method() == http::verb::head;
    keep_alive_requested_ = request_.keep_alive();
    version_ = request_.version();
    phase_ = Phase::handling;
    parsed_at_ = std::chrono::steady_clock::now();
    handler_started_ = handler_ended_ = {};
    // The handler runs here, on this connection's strand, as a fiber: where it waits on the
    // database the fiber suspends and the thread serves other connections (fiber.hpp).
    // Each running handler holds a stack: past the bound (or when none can be had) the
    // request is turned away, as a full thread pool's queue would be.
    if (context_->handlers_running.load() >= max_running_handlers) {
        return reject(http::status::service_unavailable, "server busy");
    }
    ++context_->handlers_running;
    try {
        fiber::start(stream_.get_executor(), [self = shared_from_this()] {
            self->handler_started_ = std::chrono::steady_clock::now();
            Reply reply = self->run_handler();
            self->handler_ended_ = std::chrono::steady_clock::now();
            self->write_reply(std::move(reply));
            --self->context_->handlers_running;
        });
    } catch (const std::exception&) {
        --context_->handlers_running;
        reject(http::status::service_unavailable, "server busy");
    }
}

Reply HttpSession::run_handler() const {
    try {
        return context_->router.dispatch(request_);
    } catch (...) {
        // The exception's text is not logged: it may quote connection details.
        return Reply{json_error(http::status::internal_server_error, "internal error"), nullptr, {}};
    }
}

void HttpSession::write_reply(Reply reply) {
    log_fields_ = std::move(reply.log);
    if (reply.stream) {
        if (phase_ == Phase::closing || stopping_ || head_request_) {
            reply.stream->close();
            if (phase_ == Phase::closing) {
                return;
            }
            // Stopping, or HEAD: answer as if the stream had opened and ended at once.
            reply.response.body().clear();
            close_after_response_ = true;
            return write_response(std::move(reply.response));
        }
        return start_stream(std::move(reply));
    }
    write_response(std::move(reply.response));
}

void HttpSession::reject(http::status status, const char* message) {
    if (parser_) {
        // Whatever of the request line was parsed, for the log.
        const auto& header = parser_->get();
        log_method_ = std::string(header.method_string());
        log_path_ = std::string(path_without_query(header.target()));
        head_request_ = header.method() == http::verb::head;
    }
    parser_.reset();
    close_after_response_ = true;
    keep_alive_requested_ = false;
    version_ = 11;
    write_response(json_error(status, message));
}

void HttpSession::write_response(Response response) {
    if (phase_ == Phase::closing) {
        return;  // force-closed while the handler ran
    }
    phase_ = Phase::writing;
    response.version(version_);
    response.keep_alive(keep_alive_requested_ && !close_after_response_ && !stopping_);
    apply_common_headers(response);
    response.prepare_payload();
    if (head_request_) {
        // HEAD gets GET's headers, Content-Length included, and no body.
        response.body().clear();
    }
    response_ = std::move(response);
    write_started_ = std::chrono::steady_clock::now();
    // A client that stops reading its answer is cut off like one that stops sending.
    stream_.expires_after(context_->limits.read_timeout);
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&HttpSession::on_write, shared_from_this()));
}

void HttpSession::on_write(beast::error_code ec, std::size_t) {
    log_request();
    if (ec) {
        return close_now();
    }
    if (!response_.keep_alive() || stopping_) {
        return lingering_close();
    }
    first_request_ = false;
    wait_for_request();
}

void HttpSession::log_request() {
    const auto now = std::chrono::steady_clock::now();
    RequestRecord record;
    record.ts = std::chrono::system_clock::now();
    record.method = log_method_.empty() ? "-" : log_method_;
    record.path = log_path_.empty() ? "-" : log_path_;
    record.status = response_.result_int();
    record.duration_ms = std::chrono::duration<double, std::milli>(now - request_started_).count();
    record.bytes = phase_ == Phase::streaming ? stream_bytes_ : response_.body().size();
    record.route = log_fields_.route;
    record.rpc_method = log_fields_.rpc_method;
    record.tool = log_fields_.tool;
    record.client = log_fields_.client;
    record.api_key_id = log_fields_.api_key_id;
    if (phase_ == Phase::writing && handler_ended_ != std::chrono::steady_clock::time_point{}) {
        const auto seconds = [](auto from, auto to) { return std::chrono::duration<double>(to - from).count(); };
        record.read_s = seconds(request_started_, parsed_at_);
        record.queue_s = seconds(parsed_at_, handler_started_);
        record.handler_s = seconds(handler_started_, handler_ended_);
        record.reply_wait_s = seconds(handler_ended_, write_started_);
        record.write_s = seconds(write_started_, now);
    }
    context_->logger.request(record);
    if (context_->observer) {
        context_->observer(record);
    }
}

// --- Server-sent events -------------------------------------------------------------------

void HttpSession::start_stream(Reply reply) {
    phase_ = Phase::streaming;
    channel_ = std::move(reply.stream);
    stream_bytes_ = 0;
    response_ = {};
    response_.result(reply.response.result());
    auto& head = stream_head_.emplace(reply.response.result(), version_);
    for (const auto& field : reply.response) {
        head.set(field.name_string(), field.value());
    }
    head.set(http::field::content_type, "text/event-stream");
    // Proxies must pass each event on at once (nginx honours X-Accel-Buffering).
    head.set(http::field::cache_control, "no-cache");
    head.set("X-Accel-Buffering", "no");
    head.set("X-Content-Type-Options", "nosniff");
    // The stream ends the connection: nothing can follow it on the same one.
    head.keep_alive(false);
    head.chunked(true);
    stream_serializer_.emplace(head);
    stream_.expires_after(context_->limits.read_timeout);
    http::async_write_header(stream_, *stream_serializer_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                 self->on_stream_header(ec);
                             });
}

void HttpSession::on_stream_header(beast::error_code ec) {
    if (ec) {
        log_request();
        return close_now();
    }
    // The client sends nothing more on this connection; a read completes when it leaves.
    // It bypasses the stream's timer on purpose: waiting for that may take hours.
    stream_.socket().async_read_some(
        net::buffer(drain_buffer_),
        beast::bind_front_handler(&HttpSession::on_stream_peer, shared_from_this()));
    std::weak_ptr<HttpSession> weak = shared_from_this();
    auto executor = stream_.get_executor();
    channel_->set_waker([weak, executor] {
        net::post(executor, [weak] {
            if (auto self = weak.lock()) {
                self->pump_events();
            }
        });
    });
    schedule_heartbeat();
    pump_events();
}

void HttpSession::on_stream_peer(beast::error_code, std::size_t) {
    // Data or a hang-up: either way this stream is over (HTTP/1.1 cannot pipeline past it).
    if (phase_ == Phase::streaming) {
        channel_->close();
        log_request();
    }
    close_now();
}

void HttpSession::pump_events() {
    if (phase_ != Phase::streaming || event_in_flight_ || stream_ending_) {
        return;
    }
    std::string message;
    if (channel_->pop(message)) {
        // One event per message, its JSON on a single data line (JSON text has no raw newline).
        return write_event("event: message\ndata: " + message + "\n\n");
    }
    if (channel_->closed() || stopping_) {
        finish_stream();
    }
}

void HttpSession::write_event(std::string frame) {
    event_in_flight_ = true;
    event_frame_ = std::move(frame);
    stream_bytes_ += event_frame_.size();
    // A client that stops reading its stream is cut off like one that stops sending.
    stream_.expires_after(context_->limits.read_timeout);
    net::async_write(stream_, http::make_chunk(net::buffer(event_frame_)),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->on_event_written(ec);
                     });
}

void HttpSession::on_event_written(beast::error_code ec) {
    event_in_flight_ = false;
    if (phase_ != Phase::streaming) {
        return;
    }
    if (ec) {
        channel_->close();
        log_request();
        return close_now();
    }
    if (stream_ending_) {
        return finish_stream();
    }
    pump_events();
}

void HttpSession::schedule_heartbeat() {
    heartbeat_.expires_after(context_->limits.sse_heartbeat);
    heartbeat_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec || self->phase_ != Phase::streaming || self->stream_ending_) {
            return;
        }
        if (!self->event_in_flight_) {
            self->write_event(": keepalive\n\n");
        }
        self->schedule_heartbeat();
    });
}

void HttpSession::finish_stream() {
    if (phase_ != Phase::streaming) {
        return;
    }
    stream_ending_ = true;
    if (event_in_flight_) {
        return;  // on_event_written comes back here
    }
    event_in_flight_ = true;
    heartbeat_.cancel();
    channel_->close();
    stream_.expires_after(context_->limits.read_timeout);
    net::async_write(stream_, http::make_chunk_last(),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->on_stream_end(ec);
                     });
}

void HttpSession::on_stream_end(beast::error_code ec) {
    log_request();
    phase_ = Phase::closing;
    if (ec) {
        return close_now();
    }
    // The read started with the stream is still pending and completes when the client
    // closes its side; a client that does not is closed after the linger time.
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    heartbeat_.expires_after(linger_time);
    heartbeat_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec) {
            self->close_now();
        }
    });
}

void HttpSession::lingering_close() {
    phase_ = Phase::closing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
        return close_now();
    }
    drained_bytes_ = 0;
    stream_.expires_after(linger_time);
    stream_.async_read_some(net::buffer(drain_buffer_),
                            beast::bind_front_handler(&HttpSession::on_drain, shared_from_this()));
}

void HttpSession::on_drain(beast::error_code ec, std::size_t bytes) {
    drained_bytes_ += bytes;
    if (ec || drained_bytes_ > max_drain_bytes) {
        return close_now();
    }
    stream_.async_read_some(net::buffer(drain_buffer_),
                            beast::bind_front_handler(&HttpSession::on_drain, shared_from_this()));
}

void HttpSession::close_now() {
    phase_ = Phase::closing;
    heartbeat_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
}

}  // namespace mcp::bridge
