#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mcp_backend.hpp"

namespace mcp::bridge::test {

// An McpBackend without a database: two tools, one resource, one prompt, sessions in a map.
// The tool "slow" waits until cancelled (or two seconds), for cancellation tests.
class FakeBackend : public McpBackend {
public:
    std::string tools_json =
        R"([{"name":"echo","title":"Echo","description":"Echoes","inputSchema":{"type":"object"},)"
        R"("outputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}},)"
        R"({"name":"slow","title":"Slow","description":"Waits","inputSchema":{"type":"object"}}])";
    bool database_up = true;
    std::map<std::string, SessionRecord> sessions;
    std::string last_context_client;
    std::string last_arguments;
    std::atomic<int> tool_calls{0};

    BackendResult list_tools(const CallerContext&) override { return list(tools_json); }
    BackendResult list_resources(const CallerContext&) override {
        return list(R"([{"uri":"mem://a","name":"a","title":"A","mimeType":"text/plain"}])");
    }
    BackendResult list_resource_templates(const CallerContext&) override {
        return list(R"([{"uriTemplate":"mem://{x}","name":"x"}])");
    }
    BackendResult list_prompts(const CallerContext&) override {
        return list(R"([{"name":"p","title":"P","arguments":[{"name":"q","required":true}]}])");
    }

    BackendResult call_tool(const CallerContext& caller, std::string_view name,
                            std::string_view arguments_json, CancelToken& cancel) override {
        ++tool_calls;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            last_context_client = caller.client_name;
            last_arguments = std::string(arguments_json);
        }
        if (!database_up) {
            return {{}, {BackendError::Kind::unavailable, {}}};
        }
        if (name == "echo") {
            return {R"({"content":[{"type":"text","text":"hi"}],"structuredContent":{"said":"hi"},"isError":false})",
                    {}};
        }
        if (name == "fails") {
            BackendResult refused{R"({"content":[{"type":"text","text":"Error: no"}],"isError":true})", {}};
            refused.tool_error = true;
            return refused;
        }
        if (name == "slow") {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
            while (!cancel.cancelled() && std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            if (cancel.cancelled()) {
                return {{}, {BackendError::Kind::cancelled, {}}};
            }
            return {R"({"content":[],"isError":false})", {}};
        }
        return {{}, {BackendError::Kind::unknown_name, "Unknown tool"}};
    }

    BackendResult read_resource(const CallerContext&, std::string_view uri) override {
        if (uri == "mem://a") {
            return {R"({"contents":[{"uri":"mem://a","mimeType":"text/plain","text":"A"}]})", {}};
        }
        return {{}, {BackendError::Kind::not_found, "Resource not found"}};
    }

    BackendResult get_prompt(const CallerContext&, std::string_view name,
                             std::string_view arguments_json) override {
        if (name != "p") {
            return {{}, {BackendError::Kind::unknown_name, "Unknown prompt: " + std::string(name)}};
        }
        if (arguments_json.find("\"q\"") == std::string_view::npos) {
            return {{}, {BackendError::Kind::invalid_params, "prompt p needs the argument q"}};
        }
        return {R"({"messages":[{"role":"user","content":{"type":"text","text":"go"}}]})", {}};
    }

    // Completes the prompt argument q of prompt p from a fixed list; anything else is unknown.
    std::string last_completion_context;
    BackendResult complete(const CallerContext&, std::string_view ref_json,
                           std::string_view argument_json, std::string_view context_json) override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            last_completion_context = std::string(context_json);
        }
        if (ref_json.find("\"p\"") == std::string_view::npos) {
            return {{}, {BackendError::Kind::invalid_params, "Unknown prompt"}};
        }
        if (argument_json.find("\"value\":\"a\"") != std::string_view::npos) {
            return {R"({"completion":{"values":["alpha","apple"],"total":2,"hasMore":false}})", {}};
        }
        return {R"({"completion":{"values":[],"total":0,"hasMore":false}})", {}};
    }
    // Subscriptions by session, as the database keeps them.
    std::map<std::string, std::vector<std::string>> subscriptions;
    BackendResult subscribe_resource(const CallerContext& caller, std::string_view uri,
                                     bool subscribed) override {
        std::lock_guard<std::mutex> lock(mutex_);
        if (uri.rfind("mem://", 0) != 0) {
            return {{}, {BackendError::Kind::invalid_params, "cannot subscribe to that"}};
        }
        if (sessions.count(caller.session_id) == 0) {
            return {"false", {}};
        }
        auto& list = subscriptions[caller.session_id];
        if (subscribed) {
            list.emplace_back(uri);
        } else {
            list.erase(std::remove(list.begin(), list.end(), std::string(uri)), list.end());
        }
        return {"true", {}};
    }

    // Tasks in a map; run_task "runs" the tool through call_tool.
    std::map<std::string, std::string> task_status;
    std::atomic<int> tasks_run{0};
    BackendResult create_task(const CallerContext&, std::string_view tool,
                              std::string_view) override {
        if (tool != "execute_multi_query" && tool != "weighted_query") {
            return {{}, {BackendError::Kind::unknown_name, "Unknown tool"}};
        }
        std::lock_guard<std::mutex> lock(mutex_);
        const std::string id = std::string(31, 'a') + std::to_string(task_status.size() % 10);
        task_status[id] = "working";
        return {R"({"taskId":")" + id + R"(","status":"working","ttlMs":60000,"pollIntervalMs":500})", {}};
    }
    BackendResult run_task(const CallerContext&, std::string_view task_id) override {
        ++tasks_run;
        std::lock_guard<std::mutex> lock(mutex_);
        task_status[std::string(task_id)] = "completed";
        return {"completed", {}};
    }
    BackendResult get_task(const CallerContext&, std::string_view task_id) override {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = task_status.find(std::string(task_id));
        if (found == task_status.end()) {
            return {{}, {BackendError::Kind::not_found, {}}};
        }
        return {R"({"taskId":")" + found->first + R"(","status":")" + found->second + R"("})", {}};
    }
    BackendResult cancel_task(const CallerContext&, std::string_view task_id) override {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = task_status.find(std::string(task_id));
        if (found == task_status.end()) {
            return {"false", {}};
        }
        if (found->second == "working") {
            found->second = "cancelled";
        }
        return {"true", {}};
    }

    std::optional<std::string> open_session(const Identity&, const NewSession& session) override {
        if (!database_up) {
            return std::nullopt;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        std::string id(64, '0');
        const std::string counter = std::to_string(++next_id_);
        id.replace(64 - counter.size(), counter.size(), counter);
        SessionRecord record;
        record.id = id;
        record.protocol_version = session.protocol_version;
        record.user_agent = session.user_agent;
        sessions[id] = record;
        last_new_session = session;
        return id;
    }

    SessionLookup resume_session(std::string_view id, const Identity&, SessionRecord& out) override {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = sessions.find(std::string(id));
        if (found == sessions.end()) {
            return SessionLookup::not_found;
        }
        out = found->second;
        return SessionLookup::found;
    }

    bool update_session(std::string_view id, const Identity&, std::optional<bool> initialized,
                        std::optional<std::string> log_level) override {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = sessions.find(std::string(id));
        if (found == sessions.end()) {
            return false;
        }
        if (initialized) {
            found->second.initialized = *initialized;
        }
        if (log_level) {
            found->second.log_level = *log_level;
        }
        return true;
    }

    SessionLookup close_session(std::string_view id, const Identity&) override {
        std::lock_guard<std::mutex> lock(mutex_);
        return sessions.erase(std::string(id)) > 0 ? SessionLookup::found : SessionLookup::not_found;
    }

    NewSession last_new_session;

private:
    BackendResult list(const std::string& json) {
        if (!database_up) {
            return {{}, {BackendError::Kind::unavailable, {}}};
        }
        return {json, {}};
    }

    std::mutex mutex_;
    int next_id_ = 0;
};

}  // namespace mcp::bridge::test
