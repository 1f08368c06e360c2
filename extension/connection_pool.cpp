#include "connection_pool.hpp"

#include "executor_settings.hpp"
#include "pg_guard.hpp"

extern "C" {
#include "postgres.h"
#include "storage/ipc.h"
}

#include <poll.h>

#include <map>
#include <vector>

namespace mcp::ext::pool {

namespace {

struct Entry {
    int credential_version;
    RemoteConnection connection;
};

// Heap-allocated on first use and emptied at backend exit, before libpq's own teardown.
std::map<int, std::vector<Entry>>* kept = nullptr;

void clear_at_exit(int, Datum) { clear(); }

// Whether an idle connection still looks usable: open, outside a transaction, and nothing
// arrived on it meanwhile (a server that ends a session, by idle_session_timeout, a restart or
// an administrator, says so first). One poll() beats a query that fails on a dead link.
bool still_quiet(PGconn* raw) {
    if (PQstatus(raw) != CONNECTION_OK || PQtransactionStatus(raw) != PQTRANS_IDLE) return false;
    pollfd entry{PQsocket(raw), POLLIN, 0};
    return ::poll(&entry, 1, 0) == 0;
}

std::map<int, std::vector<Entry>>& entries() {
    if (kept == nullptr) {
        pg_call([] { on_proc_exit(clear_at_exit, 0); });
        kept = new std::map<int, std::vector<Entry>>();
    }
    return *kept;
}

}  // namespace

std::optional<RemoteConnection> take(const DatasetRecord& dataset) {
    auto found = entries().find(dataset.id);
    if (found == entries().end()) return std::nullopt;
    std::vector<Entry>& idle = found->second;
    while (!idle.empty()) {
        Entry entry = std::move(idle.back());
        idle.pop_back();
        if (entry.credential_version == dataset.credential_version && still_quiet(entry.connection.raw()))
            return std::move(entry.connection);
        // Stale credentials or a broken link: it closes as `entry` goes out of scope.
    }
    return std::nullopt;
}

void give_back(const DatasetRecord& dataset, RemoteConnection connection) {
    if (PQstatus(connection.raw()) != CONNECTION_OK ||
        PQtransactionStatus(connection.raw()) != PQTRANS_IDLE)
        return;
    std::vector<Entry>& idle = entries()[dataset.id];
    if (static_cast<int>(idle.size()) >= executor_settings::max_pooled_per_dataset) return;
    idle.push_back(Entry{dataset.credential_version, std::move(connection)});
}

void clear() {
    if (kept != nullptr) kept->clear();
}

int size() {
    int total = 0;
    if (kept != nullptr)
        for (const auto& [id, idle] : *kept) total += static_cast<int>(idle.size());
    return total;
}

}  // namespace mcp::ext::pool
