#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

extern char** environ;

namespace mcp::bridge {
namespace {

using namespace std::chrono_literals;

// The built mcp-bridge as a child process, stdout and stderr captured through pipes.
// Killed on destruction so a failing test never leaves it running.
class Child {
public:
    Child(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
        int out[2];
        int err[2];
        if (::pipe(out) != 0 || ::pipe(err) != 0) {
            throw std::runtime_error("pipe failed");
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
        posix_spawn_file_actions_addclose(&actions, out[0]);
        posix_spawn_file_actions_addclose(&actions, err[0]);

        std::vector<std::string> argv_text{MCP_BRIDGE_EXE};
        argv_text.insert(argv_text.end(), args.begin(), args.end());
        // The child sees only the settings the test gives it.
        std::vector<std::string> env_text;
        for (char** entry = environ; *entry != nullptr; ++entry) {
            if (std::strncmp(*entry, "MCP_BRIDGE_", 11) != 0) {
                env_text.emplace_back(*entry);
            }
        }
        env_text.insert(env_text.end(), extra_env.begin(), extra_env.end());
        const int status = posix_spawn(&pid_, MCP_BRIDGE_EXE, &actions, nullptr,
                                       pointers(argv_text).data(), pointers(env_text).data());
        posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        ::close(err[1]);
        stdout_fd_ = out[0];
        stderr_fd_ = err[0];
        if (status != 0) {
            pid_ = -1;
            throw std::runtime_error("cannot start " MCP_BRIDGE_EXE);
        }
    }

    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(stdout_fd_);
        ::close(stderr_fd_);
    }

    // Reads stdout up to the first newline.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::string line;
        for (;;) {
            pollfd entry{stdout_fd_, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) <= 0) {
                return std::nullopt;
            }
            char c = 0;
            if (::read(stdout_fd_, &c, 1) != 1) {
                return std::nullopt;
            }
            if (c == '\n') {
                return line;
            }
            line += c;
        }
    }

    std::string read_all_stdout() { return drain(stdout_fd_); }
    std::string read_all_stderr() { return drain(stderr_fd_); }

    // Exit code, or nullopt when the process did not exit normally within `timeout`.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            const pid_t done = ::waitpid(pid_, &status, WNOHANG);
            if (done == pid_) {
                pid_ = -1;
                if (WIFEXITED(status)) {
                    return WEXITSTATUS(status);
                }
                return std::nullopt;
            }
            std::this_thread::sleep_for(10ms);
        }
        return std::nullopt;
    }

    void signal(int signal_number) { ::kill(pid_, signal_number); }

private:
    static std::vector<char*> pointers(std::vector<std::string>& strings) {
        std::vector<char*> result;
        for (auto& text : strings) {
            result.push_back(text.data());
        }
        result.push_back(nullptr);
        return result;
    }

    // Call after the process exited: the pipe then ends.
    static std::string drain(int fd) {
        std::string text;
        char chunk[4096];
        ssize_t got = 0;
        while ((got = ::read(fd, chunk, sizeof chunk)) > 0) {
            text.append(chunk, static_cast<std::size_t>(got));
        }
        return text;
    }

    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    int stderr_fd_ = -1;
};

TEST(Executable, HelpPrintsEveryFlagAndExitsZero) {
    Child child({"--help"}, {});
    ASSERT_EQ(child.wait_exit(10s), 0);
    const std::string usage = child.read_all_stdout();
    for (const char* word : {"--listen", "MCP_BRIDGE_LISTEN", "--database-url",
                             "MCP_BRIDGE_DATABASE_URL", "--threads", "MCP_BRIDGE_THREADS"}) {
        EXPECT_NE(usage.find(word), std::string::npos) << word;
    }
}

TEST(Executable, BadFlagExitsTwoWithOneLineOnStderr) {
    Child child({"--threads", "0"}, {});
    ASSERT_EQ(child.wait_exit(10s), 2);
    const std::string error = child.read_all_stderr();
    EXPECT_NE(error.find("--threads"), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), error.size() - 1) << error;
}

TEST(Executable, ServesHealthzAndExitsZeroOnSigterm) {
    const auto url = test::test_database_url();
    ASSERT_TRUE(url) << test::missing_database_message;
    Child child({"--listen", "127.0.0.1:0"}, {"MCP_BRIDGE_DATABASE_URL=" + *url});
    const auto line = child.read_line(10s);
    ASSERT_TRUE(line) << "no listening line";
    const std::string prefix = "mcp-bridge listening on http://127.0.0.1:";
    ASSERT_EQ(line->rfind(prefix, 0), 0u) << *line;
    const int port = std::stoi(line->substr(prefix.size()));
    ASSERT_GT(port, 0);

    const auto reply = test::fetch(static_cast<std::uint16_t>(port), "/healthz");
    EXPECT_EQ(reply.status, 200u) << reply.body;

    child.signal(SIGTERM);
    EXPECT_EQ(child.wait_exit(10s), 0);
    const std::string log = child.read_all_stderr();
    EXPECT_NE(log.find(R"("path":"/healthz","status":200)"), std::string::npos) << log;
    EXPECT_EQ(child.read_all_stdout(), "") << "only the listening line belongs on stdout";
}

}  // namespace
}  // namespace mcp::bridge

namespace mcp::bridge {
namespace {

// A metadata database without the extension (or with an unknown version) is refused at
// start, with a message that says what to do.
TEST(Executable, RefusesAMetadataDatabaseWithoutASupportedExtensionVersion) {
    const auto url = test::test_database_url();
    ASSERT_TRUE(url) << test::missing_database_message;
    // A later keyword wins in a libpq conninfo: the same server, a database without mcp_analytics.
    Child child({"--listen", "127.0.0.1:0"}, {"MCP_BRIDGE_DATABASE_URL=" + *url + " dbname=postgres"});
    ASSERT_EQ(child.wait_exit(20s), 2);
    const std::string error = child.read_all_stderr();
    EXPECT_NE(error.find("no mcp_analytics extension"), std::string::npos) << error;
    EXPECT_NE(error.find("CREATE EXTENSION mcp_analytics"), std::string::npos) << error;
    EXPECT_EQ(error.find("password"), std::string::npos) << "no connection details: " << error;
}

}  // namespace
}  // namespace mcp::bridge
