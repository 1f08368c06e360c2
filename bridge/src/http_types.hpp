#pragma once

// The message types every route and the server share. Only the message headers are pulled in
// here; the networking half of Beast stays inside the server's sources.
#include <map>
#include <memory>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

namespace mcp::bridge {

namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

class EventChannel;

// What the request log line and the metrics say about a request beyond method, path and
// status. Never credentials, bodies or whole session ids.
struct LogFields {
    std::string route;       // the route pattern that matched, e.g. /api/datasets/{id}
    std::string rpc_method;  // MCP: the JSON-RPC method (or "batch")
    std::string tool;        // MCP tools/call: the tool
    std::string client;      // MCP: the client's name from initialize
    int api_key_id = 0;      // the authenticated key, 0 when none
};

// A handler's answer: a response, optionally turned into a server-sent event stream. With
// `stream` set the response's headers go out at once and the events follow as the channel
// delivers them, until it closes, the client leaves, or the server stops.
struct Reply {
    Response response;
    std::shared_ptr<EventChannel> stream;
    LogFields log;
};

// Values of {name} segments of the matched route.
using RouteParams = std::map<std::string, std::string, std::less<>>;

}  // namespace mcp::bridge
