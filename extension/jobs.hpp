// The job runner: takes a job from mcp.jobs, runs it (profile or llm_metadata), records the
// outcome. The same code runs in a background worker (its own transactions), in
// CALL mcp.run_pending_jobs() (committing between steps) and inside a transaction block
// (each step a subtransaction): the Transactions interface hides which.
#pragma once

#include <string>

namespace mcp::ext::jobs {

class Transactions {
  public:
    virtual ~Transactions() = default;
    virtual void begin() = 0;   // a transaction for a few statements through SPI
    virtual void commit() = 0;  // ... made durable and visible
    virtual void abort() = 0;   // after an error: roll back whatever is open
    bool open() const { return open_; }

  protected:
    bool open_ = false;
};

struct Job {
    long long id = 0;
    std::string kind;
    int dataset_id = 0;
    int attempt = 0;
    int max_attempts = 0;
    std::string payload;  // JSON object
};

// What a running job may do besides its own work.
class JobContext {
  public:
    JobContext(Transactions& transactions, const Job& job) : tx(transactions), job(job) {}
    // Records progress (a JSON object) in its own committed transaction.
    void progress(const std::string& json);
    Transactions& tx;
    const Job& job;
};

// In an open transaction: its commit does not wait for the WAL flush. Only for steps whose
// loss in a crash is harmless: progress reports, and a result whose job's claim was flushed
// (the job is then recovered and run again). Never for claiming a job: its attempt must
// survive a crash to be counted.
void skip_flush_wait();

// The background worker's loop for its database: run due jobs until none is left.
void serve_database();

}  // namespace mcp::ext::jobs
