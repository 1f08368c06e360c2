#include "unreached_calls.hpp"

#include "json.hpp"
#include "logger.hpp"
#include "pg_pool.hpp"

namespace mcp::bridge {

namespace {

// The arguments as sent, when they are a JSON object; anything else is logged as {}.
void write_arguments(JsonWriter& writer, std::string_view arguments_json) {
    const auto parsed = parse_json(arguments_json);
    writer.Key("arguments");
    if (parsed && parsed->IsObject()) {
        write_raw(writer, arguments_json);
    } else {
        writer.StartObject();
        writer.EndObject();
    }
}

}  // namespace

UnreachedCalls::UnreachedCalls(PgPool& pool, Logger& logger, std::size_t capacity,
                               std::chrono::milliseconds retry_every)
    : pool_(pool), logger_(logger), capacity_(capacity), retry_every_(retry_every) {}

UnreachedCalls::~UnreachedCalls() { stop(); }

void UnreachedCalls::record(std::string_view tool, std::string_view arguments_json,
                            std::string context_json, std::string_view reason) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    write_key_string(writer, "tool", tool);
    write_arguments(writer, arguments_json);
    writer.Key("context");
    write_raw(writer, context_json);
    write_key_string(writer, "reason", reason);
    write_key_string(writer, "at", iso8601_utc(std::chrono::system_clock::now()));
    writer.EndObject();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (waiting_.size() >= capacity_) {
            ++dropped_;
            return;
        }
        waiting_.emplace_back(buffer.GetString(), buffer.GetSize());
    }
    wake_.notify_one();
}

bool UnreachedCalls::flush() {
    std::deque<std::string> batch;
    std::size_t dropped = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        batch.swap(waiting_);
        std::swap(dropped, dropped_);
    }
    if (dropped > 0) {
        logger_.event(std::to_string(dropped) +
                      " unreached tool calls were not kept for the query log (the queue was full)");
    }
    if (batch.empty()) return true;
    std::string calls = "[";
    for (std::size_t i = 0; i < batch.size(); ++i) calls += (i > 0 ? "," : "") + batch[i];
    calls += "]";
    PgQuery query;
    query.sql = "SELECT mcp.log_unreached_calls($1::jsonb)";
    query.params = {std::move(calls)};
    query.role = DbRole::login;
    query.retry_on_broken_connection = false;
    PgRows rows;
    PgError error;
    if (pool_.run(query, rows, error)) {
        logger_.event("wrote " + std::to_string(batch.size()) +
                      " tool calls that could not reach the database to the query log");
        return pending() == 0;
    }
    if (error.kind == PgError::Kind::server) {
        // The database refused them (an old extension, a privilege): keeping them would retry
        // forever. Say so once, with the count.
        logger_.event("could not write " + std::to_string(batch.size()) +
                      " unreached tool calls to the query log: SQLSTATE " + error.sqlstate);
        return pending() == 0;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    while (!batch.empty() && waiting_.size() < capacity_) {
        waiting_.push_front(std::move(batch.back()));
        batch.pop_back();
    }
    dropped_ += batch.size();
    return false;
}

std::size_t UnreachedCalls::pending() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_.size();
}

void UnreachedCalls::start() {
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void UnreachedCalls::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (!flush()) {
        logger_.event(std::to_string(pending()) +
                      " tool calls that could not reach the database are not in the query log "
                      "(it was still unreachable at shutdown)");
    }
}

void UnreachedCalls::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
        if (stopping_) break;
        lock.unlock();
        const bool done = flush();
        lock.lock();
        if (!done) wake_.wait_for(lock, retry_every_, [this] { return stopping_; });
    }
}

}  // namespace mcp::bridge
