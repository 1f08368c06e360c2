#pragma once

#include <iosfwd>
#include <string>

namespace mcp::bridge {

class Authenticator;
class Logger;
class McpBackend;
class McpDispatcher;
class StreamHub;

// `mcp-bridge --stdio`: one MCP session over newline-delimited JSON on stdin and stdout, for
// desktop clients that start their servers as processes. Only MCP messages go to stdout;
// the log goes to stderr. Requests run concurrently (a ping is answered while a query runs);
// the session ends at end of input.
class StdioServer {
public:
    StdioServer(McpDispatcher& dispatcher, McpBackend& backend, Authenticator& auth,
                StreamHub& streams, Logger& logger, unsigned workers);

    // Serves until `in` ends. Returns the process exit code: 0, or 1 when the API key
    // (MCP_API_KEY) is missing or refused.
    int run(const std::string& api_key, std::istream& in, std::ostream& out);

private:
    McpDispatcher& dispatcher_;
    McpBackend& backend_;
    Authenticator& auth_;
    StreamHub& streams_;
    Logger& logger_;
    unsigned workers_;
};

}  // namespace mcp::bridge
