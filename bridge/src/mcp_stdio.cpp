#include "mcp_stdio.hpp"

#include <istream>
#include <memory>
#include <mutex>
#include <ostream>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "auth.hpp"
#include "event_streams.hpp"
#include "logger.hpp"
#include "mcp_backend.hpp"
#include "mcp_dispatch.hpp"
#include "mcp_protocol.hpp"

namespace mcp::bridge {

namespace {

// A line longer than this is answered with a parse error instead of being buffered further.
constexpr std::size_t max_line_bytes = 4 * 1024 * 1024;

class LineWriter {
public:
    explicit LineWriter(std::ostream& out) : out_(out) {}
    void write(const std::string& line) {
        std::lock_guard<std::mutex> lock(mutex_);
        out_ << line << '\n' << std::flush;
    }

private:
    std::mutex mutex_;
    std::ostream& out_;
};

}  // namespace

StdioServer::StdioServer(McpDispatcher& dispatcher, McpBackend& backend, Authenticator& auth,
                         StreamHub& streams, Logger& logger, unsigned workers)
    : dispatcher_(dispatcher),
      backend_(backend),
      auth_(auth),
      streams_(streams),
      logger_(logger),
      workers_(workers) {}

int StdioServer::run(const std::string& api_key, std::istream& in, std::ostream& out) {
    if (api_key.empty()) {
        logger_.event("--stdio needs an API key in the environment variable MCP_API_KEY");
        return 1;
    }
    const AuthResult auth = auth_.check_secret(api_key);
    if (auth.status != AuthStatus::ok) {
        logger_.event(auth.status == AuthStatus::unavailable
                          ? "the metadata database is not reachable"
                          : "MCP_API_KEY is unknown, revoked or expired");
        return 1;
    }
    logger_.event("serving one MCP session on stdin/stdout");

    // Shared: a notification may still be on its way from the LISTEN thread when this returns.
    auto writer = std::make_shared<LineWriter>(out);
    boost::asio::thread_pool pool(workers_);
    std::mutex context_mutex;
    DispatchContext context;
    context.caller.identity = auth.identity;
    context.transport = "stdio";
    std::shared_ptr<EventChannel> channel;

    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.find_first_not_of(" \t") == std::string::npos) {
            continue;
        }
        rapidjson::Value null_id;
        if (line.size() > max_line_bytes) {
            writer->write(rpc_error_message(null_id, rpc_error::invalid_request,
                                           "Invalid Request: message too large"));
            continue;
        }
        auto body = std::make_shared<ParsedBody>(parse_body(line));
        if (body->parse_error) {
            writer->write(rpc_error_message(null_id, rpc_error::parse_error, "Parse error"));
            continue;
        }
        DispatchContext snapshot;
        {
            std::lock_guard<std::mutex> lock(context_mutex);
            snapshot = context;
        }
        if (body->batch && (body->messages.empty() || !snapshot.has_session ||
                            !supports_batches(snapshot.protocol_version))) {
            writer->write(rpc_error_message(null_id, rpc_error::invalid_request,
                                           "Invalid Request: batches are not accepted here"));
            continue;
        }
        const RpcMessage& first = body->messages.front();
        // Until the session exists, and for anything that is not a request, work in order on
        // this thread: initialize must finish before what follows it.
        const bool in_order = !snapshot.has_session || body->batch ||
                              first.kind != MessageKind::request;
        if (in_order && !body->batch) {
            DispatchResult result = dispatcher_.handle(first, snapshot);
            if (result.new_session_id) {
                std::lock_guard<std::mutex> lock(context_mutex);
                context = snapshot;
                channel = streams_.open(*result.new_session_id);
                // Server notifications (list_changed) go out between responses, whole lines.
                std::weak_ptr<EventChannel> weak = channel;
                channel->set_waker([weak, writer] {
                    if (auto open = weak.lock()) {
                        std::string message;
                        while (open->pop(message)) {
                            writer->write(message);
                        }
                    }
                });
            }
            if (result.response) {
                writer->write(*result.response);
            }
            continue;
        }
        boost::asio::post(pool, [this, body, snapshot, writer]() mutable {
            snapshot.in_batch = body->batch;
            std::string joined;
            std::size_t count = 0;
            for (const RpcMessage& message : body->messages) {
                DispatchResult result = dispatcher_.handle(message, snapshot);
                if (result.response) {
                    joined += (count++ > 0 ? "," : "") + *result.response;
                }
            }
            if (count > 0) {
                writer->write(body->batch ? "[" + joined + "]" : joined);
            }
        });
    }
    pool.join();
    if (channel) {
        channel->close();
    }
    {
        std::lock_guard<std::mutex> lock(context_mutex);
        if (context.has_session) {
            backend_.close_session(context.caller.session_id, context.caller.identity);
        }
    }
    logger_.event("end of input; stdio session closed");
    return 0;
}

}  // namespace mcp::bridge
