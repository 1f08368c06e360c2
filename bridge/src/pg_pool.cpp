#include "pg_pool.hpp"

#include <algorithm>

namespace mcp::bridge {

namespace {

using Clock = std::chrono::steady_clock;

// Past the server's statement_timeout, how long the bridge still waits for an answer.
constexpr auto client_grace = std::chrono::seconds(5);

const char* role_statement(DbRole role) {
    switch (role) {
        case DbRole::reader:
            return "SET ROLE mcp_reader";
        case DbRole::admin:
            return "SET ROLE mcp_admin";
        case DbRole::login:
            break;
    }
    return "RESET ROLE";
}

}  // namespace

DbRole db_role_for(const std::string& api_key_role) {
    return api_key_role == "admin" ? DbRole::admin : DbRole::reader;
}

PgPool::PgPool(std::string conninfo, PgPoolOptions options)
    : conninfo_(std::move(conninfo)), options_(options) {
    slots_.reserve(options_.size);
    for (std::size_t i = 0; i < options_.size; ++i) {
        slots_.push_back(std::make_unique<Slot>());
    }
}

PgPool::~PgPool() = default;

PgPool::Slot* PgPool::free_slot_locked() {
    // An open connection first: connecting costs a round trip or three.
    for (auto& slot : slots_) {
        if (!slot->busy && slot->connection.is_open()) {
            return slot.get();
        }
    }
    for (auto& slot : slots_) {
        if (!slot->busy) {
            return slot.get();
        }
    }
    return nullptr;
}

PgPool::Slot* PgPool::acquire(Deadline deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (waiters_.empty()) {
        if (Slot* slot = free_slot_locked()) {
            slot->busy = true;
            return slot;
        }
    }
    // In line: release() hands its slot to the first waiter, a fiber or a thread.
    Waiter waiter;
    waiters_.push_back(&waiter);
    lock.unlock();
    waiter.wakeup.wait_until(deadline);
    lock.lock();
    if (waiter.granted == nullptr) {
        waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &waiter));
        ++acquire_timeouts_;
    }
    return waiter.granted;  // granted even when the deadline passed at the same moment
}

void PgPool::release(Slot* slot) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (waiters_.empty()) {
        slot->busy = false;
        return;
    }
    Waiter* next = waiters_.front();
    waiters_.pop_front();
    next->granted = slot;  // stays busy
    // Under the lock: a waiter whose deadline passed cannot return (and free itself) before
    // this notify is done.
    next->wakeup.notify();
}

// Only the thread holding the slot touches its connection.
bool PgPool::prepare(Slot& slot, const PgQuery& query, Deadline deadline, PgError& error) {
    const DbRole role = query.role;
    if (slot.connection.is_open() && slot.connection.broken_while_idle()) {
        slot.connection.close();
    }
    if (!slot.connection.is_open()) {
        const Deadline connect_deadline =
            std::min(deadline, Clock::now() + options_.connect_timeout);
        PgRows ignored;
        const std::string timeout_setting =
            "SET statement_timeout = " + std::to_string(options_.query_timeout.count());
        if (!slot.connection.connect(conninfo_, connect_deadline) ||
            !slot.connection.exec(timeout_setting, {}, connect_deadline, ignored, error)) {
            slot.connection.close();
            std::lock_guard<std::mutex> lock(mutex_);
            ++connect_failures_;
            error = {};
            error.kind = PgError::Kind::unavailable;
            return false;
        }
        slot.role = DbRole::login;
        slot.caller = 0;
        std::lock_guard<std::mutex> lock(mutex_);
        ++connections_opened_;
    }
    if (slot.role != role) {
        PgRows ignored;
        if (!slot.connection.exec(role_statement(role), {}, deadline, ignored, error)) {
            return false;
        }
        slot.role = role;
    }
    if (slot.caller != query.caller) {
        PgRows ignored;
        const std::string caller = query.caller > 0 ? std::to_string(query.caller) : "";
        if (!slot.connection.exec("SELECT set_config('mcp.caller', $1, false)", {caller}, deadline,
                                  ignored, error)) {
            return false;
        }
        slot.caller = query.caller;
    }
    return true;
}

bool PgPool::run(const PgQuery& query, PgRows& rows, PgError& error, CancelToken* cancel) {
    error = {};
    if (!configured()) {
        error.kind = PgError::Kind::unavailable;
        return false;
    }
    const Deadline deadline = Clock::now() + options_.query_timeout + client_grace;
    for (int attempt = 0; attempt < 2; ++attempt) {
        Slot* slot = acquire(Clock::now() + options_.acquire_timeout);
        if (slot == nullptr) {
            error = {};
            error.kind = PgError::Kind::busy;
            return false;
        }
        bool ok = false;
        try {
            ok = prepare(*slot, query, deadline, error) &&
                 slot->connection.exec(query.sql, query.params, deadline, rows, error, cancel);
        } catch (...) {
            // Failed mid-statement (out of memory, say): the protocol state is unknown.
            slot->connection.close();
            release(slot);
            throw;
        }
        release(slot);
        if (ok) {
            return true;
        }
        // A connection that died under us (a restarted server) is worth one more try on a
        // fresh one; anything the server itself said is final.
        const bool broken = error.kind == PgError::Kind::connection;
        if (!broken || !query.retry_on_broken_connection) {
            if (broken) {
                error.kind = PgError::Kind::unavailable;
            }
            return false;
        }
    }
    error.kind = PgError::Kind::unavailable;
    return false;
}

PgPoolStats PgPool::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    PgPoolStats stats;
    stats.size = slots_.size();
    for (const auto& slot : slots_) {
        stats.in_use += slot->busy ? 1 : 0;
        // Reading is_open() of a busy slot races its owner only on a pointer it owns; the
        // figure is for a gauge, so busy slots count as open.
        stats.open += slot->busy || slot->connection.is_open() ? 1 : 0;
    }
    stats.waiting = waiters_.size();
    stats.connections_opened = connections_opened_;
    stats.acquire_timeouts = acquire_timeouts_;
    stats.connect_failures = connect_failures_;
    return stats;
}

}  // namespace mcp::bridge
