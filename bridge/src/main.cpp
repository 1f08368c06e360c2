#include <csignal>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "app.hpp"
#include "config.hpp"
#include "extension_version.hpp"
#include "logger.hpp"

namespace {

// Exit codes: 0 normal stop or --help, 1 runtime failure, 2 bad configuration.
constexpr int exit_runtime_error = 1;
constexpr int exit_usage_error = 2;

sigset_t termination_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace mcp::bridge;

    const std::vector<std::string> args(argv + 1, argv + argc);
    const ParseResult parsed = parse_config(args, process_environment());
    if (parsed.outcome == ParseOutcome::help) {
        std::cout << usage_text();
        return 0;
    }
    if (parsed.outcome == ParseOutcome::error) {
        std::cerr << "mcp-bridge: " << parsed.error << '\n';
        return exit_usage_error;
    }
    std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the process

    // A metadata database of another extension version would fail some calls later, at
    // random: refuse it now, saying what to do.
    const std::string version_problem =
        startup_extension_problem(parsed.config.database_url, std::chrono::seconds(5));
    if (!version_problem.empty()) {
        std::cerr << "mcp-bridge: " << version_problem << '\n';
        return exit_usage_error;
    }

    Logger logger(std::cerr);
    if (parsed.config.stdio) {
        // stdout belongs to the protocol; SIGTERM keeps its default and ends the process,
        // as stdio clients expect after closing our input.
        try {
            App app(parsed.config, logger, std::cerr);
            return app.run_stdio(std::cin, std::cout);
        } catch (const std::exception& error) {
            std::cerr << "mcp-bridge: " << error.what() << '\n';
            return exit_runtime_error;
        }
    }

    // Blocked before any thread exists, so every thread inherits the mask and the signals
    // are delivered only to the sigwait below, never to a thread in the middle of a request.
    const sigset_t signals = termination_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    try {
        App app(parsed.config, logger, std::cout);
        app.start();
        int received = 0;
        sigwait(&signals, &received);
        logger.event(received == SIGINT ? "stopping on SIGINT" : "stopping on SIGTERM");
        if (!app.stop(parsed.config.shutdown_timeout)) {
            logger.event("shutdown timeout reached; remaining connections were cut off");
        }
        logger.event("stopped");
        return 0;
    } catch (const std::exception& error) {
        std::cerr << "mcp-bridge: " << error.what() << '\n';
        return exit_runtime_error;
    }
}
