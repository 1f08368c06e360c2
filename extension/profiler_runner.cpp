#include "profiler_runner.hpp"

#include "pg_guard.hpp"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
}

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace mcp::ext::profiler {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

PgError lost(const RemoteConnection& link, const char* step) {
    const char* message = PQerrorMessage(link.raw());
    return PgError(ERRCODE_CONNECTION_FAILURE,
                   "lost the connection to dataset \"" + link.label() + "\" while " + step,
                   message != nullptr ? message : "",
                   "Retry; if it persists, check the dataset's server.");
}

// One WaitEventSet per wait: the set of busy connections changes from one wait to the next.
class WaitSet {
public:
    explicit WaitSet(int events) {
        set_ = pg_call([&] {
#if PG_VERSION_NUM >= 170000
            return CreateWaitEventSet(CurrentResourceOwner, events);
#else
            return CreateWaitEventSet(CurrentMemoryContext, events);
#endif
        });
    }
    ~WaitSet() { FreeWaitEventSet(set_); }
    WaitSet(const WaitSet&) = delete;
    WaitSet& operator=(const WaitSet&) = delete;
    WaitEventSet* get() const { return set_; }

private:
    WaitEventSet* set_;
};

}  // namespace

void PhaseTimes::add(const std::string& phase, double ms) {
    for (auto& entry : phases_)
        if (entry.first == phase) {
            entry.second += ms;
            return;
        }
    phases_.emplace_back(phase, ms);
}

std::string PhaseTimes::json() const {
    std::string json = "{";
    for (size_t i = 0; i < phases_.size(); ++i) {
        char number[32];
        snprintf(number, sizeof number, "%.1f", std::round(phases_[i].second * 10) / 10);
        json += (i ? ", \"" : "\"") + phases_[i].first + "\": " + number;
    }
    return json + "}";
}

void QueryRunner::send(size_t link, InFlight& slot) {
    RemoteConnection& connection = links_[link];
    slot.started = Clock::now();
    slot.deadline = slot.started + std::chrono::milliseconds(timeout_ms_);
    if (!configured_[link]) {
        slot.query.sql = session_settings_ + slot.query.sql;
        configured_[link] = true;
    }
    if (PQsendQuery(connection.raw(), slot.query.sql.c_str()) != 1)
        throw lost(connection, "sending a query");
    connection.set_busy(true);
    slot.active = true;
    slot.flushing = true;
    advance(link, slot);
}

// Moves one connection's query on as far as it goes without waiting.
void QueryRunner::advance(size_t link, InFlight& slot) {
    RemoteConnection& connection = links_[link];
    PGconn* raw = connection.raw();
    if (slot.flushing) {
        int flushed = PQflush(raw);
        if (flushed < 0) throw lost(connection, "sending a query");
        slot.flushing = flushed != 0;
        if (slot.flushing) return;
    }
    if (PQconsumeInput(raw) != 1) throw lost(connection, "reading results");
    while (!PQisBusy(raw)) {
        PGresult* next = PQgetResult(raw);
        if (next == nullptr) {
            connection.set_busy(false);
            slot.active = false;
            const double ms = ms_since(slot.started);
            times_.add(slot.query.phase, ms);
            if (slot.query.also_ms != nullptr) *slot.query.also_ms += ms;
            if (slot.first_error) throw remote_error(slot.first_error.get(), connection.label());
            if (!slot.last) throw lost(connection, "reading results");
            ResultPtr result = std::move(slot.last);
            RemoteQuery query = std::move(slot.query);
            slot = InFlight{};
            query.use(result.get());
            return;
        }
        ResultPtr result(next);
        if (PQresultStatus(next) == PGRES_FATAL_ERROR && !slot.first_error)
            slot.first_error = std::move(result);
        else
            slot.last = std::move(result);
    }
}

bool QueryRunner::add_connection(std::unique_ptr<ConnectionParams> params,
                                 const std::string& label) {
    PGconn* raw = PQconnectStartParams(params->keywords(), params->values(), 0);
    if (raw == nullptr) return false;
    Connecting connecting;
    connecting.link = std::make_unique<RemoteConnection>(RemoteConnection::adopt(raw, label));
    if (PQstatus(raw) == CONNECTION_BAD) return false;
    connecting.params = std::move(params);
    connecting.started = Clock::now();
    connecting.deadline =
        connecting.started + std::chrono::seconds(connecting.params->connect_timeout_s());
    connecting_.push_back(std::move(connecting));
    return true;
}

// One step of an extra connection's handshake; once connected it joins links_ (and slots).
void QueryRunner::poll_connection(size_t index, std::vector<InFlight>& slots) {
    Connecting& connecting = connecting_[index];
    PGconn* raw = connecting.link->raw();
    connecting.poll = PQconnectPoll(raw);
    if (connecting.poll == PGRES_POLLING_OK) {
        if (PQsetnonblocking(raw, 1) == 0) {
            times_.add("connect_more", ms_since(connecting.started));
            links_.push_back(std::move(*connecting.link));
            configured_.push_back(false);
            slots.emplace_back();
        }
        connecting_.erase(connecting_.begin() + static_cast<long>(index));
    } else if (connecting.poll == PGRES_POLLING_FAILED || Clock::now() >= connecting.deadline) {
        times_.add("connect_more_failed", ms_since(connecting.started));
        connecting_.erase(connecting_.begin() + static_cast<long>(index));
    }
}

void QueryRunner::drop_connecting() {
    for (const Connecting& connecting : connecting_)
        times_.add("connect_more_unused", ms_since(connecting.started));
    connecting_.clear();
}

void QueryRunner::run(const std::function<void(int table)>& on_start) {
    std::vector<InFlight> slots(links_.size());
    // Room for every connection that may join: `slots` must not move while a wait refers
    // to its entries.
    slots.reserve(links_.size() + connecting_.size());
    for (;;) {
        for (size_t link = 0; link < slots.size() && !pending_.empty(); ++link) {
            if (slots[link].active) continue;
            slots[link].query = std::move(pending_.front());
            pending_.pop_front();
            if (slots[link].query.table > last_started_table_) {
                last_started_table_ = slots[link].query.table;
                on_start(last_started_table_);
            }
            send(link, slots[link]);
        }
        int busy = static_cast<int>(
            std::count_if(slots.begin(), slots.end(), [](const InFlight& s) { return s.active; }));
        if (busy == 0) {
            if (pending_.empty()) return;  // connections still opening join the next run
            continue;  // a query finished without waiting: send the next ones
        }
        WaitSet waits(busy + static_cast<int>(connecting_.size()) + 2);
        long timeout_ms = 3600L * 1000;
        auto now = Clock::now();
        pg_call([&] {
            AddWaitEventToSet(waits.get(), WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, nullptr);
            AddWaitEventToSet(waits.get(), WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, nullptr, nullptr);
        });
        for (size_t link = 0; link < slots.size(); ++link) {
            InFlight& slot = slots[link];
            if (!slot.active) continue;
            if (now >= slot.deadline)
                throw PgError(ERRCODE_QUERY_CANCELED,
                              "query on dataset \"" + links_[link].label() + "\" timed out after " +
                                  std::to_string(timeout_ms_) + " ms",
                              {}, "Raise mcp_analytics.profile_statement_timeout, or limit the "
                                  "profile to fewer schemas.");
            uint32 events = WL_SOCKET_READABLE | (slot.flushing ? WL_SOCKET_WRITEABLE : 0);
            pgsocket socket = PQsocket(links_[link].raw());
            void* tag = reinterpret_cast<void*>(static_cast<intptr_t>(link + 1));
            pg_call([&] { AddWaitEventToSet(waits.get(), events, socket, nullptr, tag); });
            timeout_ms = std::min<long>(
                timeout_ms, std::chrono::duration_cast<std::chrono::milliseconds>(slot.deadline - now)
                                    .count() + 1);
        }
        for (size_t c = 0; c < connecting_.size(); ++c) {
            uint32 events = connecting_[c].poll == PGRES_POLLING_READING ? WL_SOCKET_READABLE
                                                                          : WL_SOCKET_WRITEABLE;
            pgsocket socket = PQsocket(connecting_[c].link->raw());
            void* tag = reinterpret_cast<void*>(-static_cast<intptr_t>(c + 1));
            pg_call([&] { AddWaitEventToSet(waits.get(), events, socket, nullptr, tag); });
            timeout_ms = std::min<long>(
                timeout_ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                connecting_[c].deadline - now).count() + 1);
        }
        WaitEvent occurred[40];
        int fired = pg_call([&] {
            return WaitEventSetWait(waits.get(), std::max(timeout_ms, 0L), occurred, 40,
                                    PG_WAIT_EXTENSION);
        });
        int connection_ready = -1;  // handled after the queries: it changes connecting_
        for (int i = 0; i < fired; ++i) {
            if (occurred[i].events & WL_LATCH_SET) {
                pg_call([] { ResetLatch(MyLatch); });
                check_for_interrupts();
                continue;
            }
            const intptr_t tag = reinterpret_cast<intptr_t>(occurred[i].user_data);
            if (tag > 0 && slots[static_cast<size_t>(tag - 1)].active)
                advance(static_cast<size_t>(tag - 1), slots[static_cast<size_t>(tag - 1)]);
            else if (tag < 0 && connection_ready < 0)
                connection_ready = static_cast<int>(-tag - 1);
        }
        if (connection_ready >= 0) poll_connection(static_cast<size_t>(connection_ready), slots);
        for (size_t c = 0; c < connecting_.size(); ++c)
            if (Clock::now() >= connecting_[c].deadline) {
                poll_connection(c, slots);
                break;
            }
    }
}

}  // namespace mcp::ext::profiler
