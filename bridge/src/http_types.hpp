#pragma once

// The message types every route and the server share. Only the message headers are pulled in
// here; the networking half of Beast stays inside the server's sources.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

namespace mcp::bridge {

namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

}  // namespace mcp::bridge
