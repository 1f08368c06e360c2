// The baseline of the bridge benchmark: plain libpq round trips of one statement from N
// client threads, each on its own connection, for a fixed time. Prints one JSON line:
// {"clients", "calls", "seconds", "calls_per_s", "p50_ms", "p95_ms"}.
//
//   pg_roundtrip --url CONNINFO --sql "SELECT 1" [--clients N] [--seconds S]
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string url;
    std::string sql = "SELECT 1";
    int clients = 1;
    double seconds = 5;
};

bool parse(int argc, char** argv, Options& options) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--url") {
            options.url = value;
        } else if (flag == "--sql") {
            options.sql = value;
        } else if (flag == "--clients") {
            options.clients = std::max(1, std::atoi(value.c_str()));
        } else if (flag == "--seconds") {
            options.seconds = std::max(0.1, std::atof(value.c_str()));
        } else {
            return false;
        }
    }
    return !options.url.empty() && argc % 2 == 1;
}

double percentile(std::vector<double>& values, double q) {
    if (values.empty()) {
        return 0;
    }
    const auto index = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
    std::nth_element(values.begin(), values.begin() + static_cast<long>(index), values.end());
    return values[index];
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse(argc, argv, options)) {
        std::fprintf(stderr, "usage: pg_roundtrip --url CONNINFO [--sql SQL] [--clients N] [--seconds S]\n");
        return 2;
    }
    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(options.clients));
    std::atomic<bool> failed{false};
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    Clock::time_point end;
    std::vector<std::thread> threads;
    for (int c = 0; c < options.clients; ++c) {
        threads.emplace_back([&, c] {
            PGconn* conn = PQconnectdb(options.url.c_str());
            if (PQstatus(conn) != CONNECTION_OK) {
                failed = true;
                ++ready;
                PQfinish(conn);
                return;
            }
            PQclear(PQexec(conn, options.sql.c_str()));  // warm the plan and caches
            ++ready;
            while (!go) {
                std::this_thread::yield();
            }
            auto& mine = latencies[static_cast<std::size_t>(c)];
            while (Clock::now() < end) {
                const auto start = Clock::now();
                PGresult* result = PQexec(conn, options.sql.c_str());
                const bool ok = PQresultStatus(result) == PGRES_TUPLES_OK;
                PQclear(result);
                if (!ok) {
                    failed = true;
                    break;
                }
                mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
            }
            PQfinish(conn);
        });
    }
    while (ready < options.clients) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto start = Clock::now();
    end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
    go = true;
    for (auto& thread : threads) {
        thread.join();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (failed) {
        std::fprintf(stderr, "pg_roundtrip: a connection or a statement failed\n");
        return 1;
    }
    std::vector<double> all;
    for (const auto& list : latencies) {
        all.insert(all.end(), list.begin(), list.end());
    }
    const std::size_t calls = all.size();
    const double p50 = percentile(all, 0.50);
    const double p95 = percentile(all, 0.95);
    std::printf("{\"clients\":%d,\"calls\":%zu,\"seconds\":%.3f,\"calls_per_s\":%.1f,\"p50_ms\":%.4f,\"p95_ms\":%.4f}\n",
                options.clients, calls, elapsed, static_cast<double>(calls) / elapsed, p50, p95);
    return 0;
}
