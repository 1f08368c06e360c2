#include "jobs_settings.hpp"

#include <climits>

extern "C" {
#include "postgres.h"
#include "utils/guc.h"
}

namespace mcp::ext::jobs_settings {

int job_workers = 2;
int job_retry_delay_ms = 10000;
bool profile_on_register = true;
int profile_exact_row_limit = 1000000;
int profile_statement_timeout_ms = 300000;
int profile_connections = 2;
char* llm_base_url = nullptr;
char* llm_model = nullptr;
char* llm_api_key_file = nullptr;
int llm_timeout_s = 60;
int llm_max_tokens = 2000;
int llm_max_retries = 3;
int llm_prompt_tokens = 6000;
int context_tokens[4] = {500, 2000, 5000, 10000};
int context_cache_ttl_s = 3600;
char* token_rank_file = nullptr;

namespace {

void define_int(const char* name, const char* short_desc, const char* long_desc, int* target,
                int boot, int min, int max, GucContext context, int flags) {
    DefineCustomIntVariable(name, short_desc, long_desc, target, boot, min, max, context, flags,
                            nullptr, nullptr, nullptr);
}

void define_context_budgets() {
    static const char* const names[4] = {
        "mcp_analytics.context_tokens_level0", "mcp_analytics.context_tokens_level1",
        "mcp_analytics.context_tokens_level2", "mcp_analytics.context_tokens_level3"};
    static const char* const what[4] = {
        "Token budget of context level 0 (the global rules).",
        "Token budget of context level 1 (summaries of the live datasets).",
        "Token budget of context level 2 (one dataset's tables and columns).",
        "Token budget of context level 3 (one table's statistics and samples)."};
    static const int defaults[4] = {500, 2000, 5000, 10000};
    for (int level = 0; level < 4; ++level)
        define_int(names[level], what[level],
                   "mcp.context trims its answer to this many tokens and says what it left out.",
                   &context_tokens[level], defaults[level], 100, 200000, PGC_USERSET, 0);
}

}  // namespace

void define() {
    define_int("mcp_analytics.job_workers", "Background jobs that may run at once on this server.",
               "Each running job is one background worker (counted in max_worker_processes). 0: no "
               "background jobs; run them with CALL mcp.run_pending_jobs().",
               &job_workers, 2, 0, 16, PGC_SIGHUP, 0);
    define_int("mcp_analytics.job_retry_delay",
               "Wait before retrying a failed job; doubles per attempt.", nullptr,
               &job_retry_delay_ms, 10000, 0, 3600000, PGC_SUSET, GUC_UNIT_MS);
    DefineCustomBoolVariable(
        "mcp_analytics.profile_on_register", "Queue profiling when a dataset is registered.",
        "Off: mcp.register_dataset only registers; start profiling with mcp.reprofile_dataset.",
        &profile_on_register, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    define_int("mcp_analytics.profile_exact_row_limit",
               "Tables with more rows (catalog estimate) are profiled from pg_stats, not scanned.",
               "Up to this size a table is read once, with exact counts; above it, row counts and "
               "statistics are the planner's estimates, marked as such.",
               &profile_exact_row_limit, 1000000, 0, INT_MAX, PGC_SUSET, 0);
    define_int("mcp_analytics.profile_statement_timeout",
               "Bound on each query the profiler sends to a dataset.", nullptr,
               &profile_statement_timeout_ms, 300000, 1000, INT_MAX, PGC_SUSET, GUC_UNIT_MS);
    define_int("mcp_analytics.profile_connections",
               "Connections a profile job opens to its dataset, to scan tables in parallel.",
               "The profiler's queries are independent of each other; a second connection lets the "
               "dataset's server run two at once. Extra connections are opened only when there are "
               "at least 100,000 rows to scan per connection.",
               &profile_connections, 2, 1, 8, PGC_SUSET, 0);
    DefineCustomStringVariable(
        "mcp_analytics.llm_base_url", "Base URL of the OpenAI-compatible chat-completions API.",
        "…/chat/completions is appended. OpenAI, Azure OpenAI, Ollama (http://127.0.0.1:11434/v1) "
        "and vLLM all work. Empty: metadata is always written from the profile. The default "
        "(OpenAI) is called only when an API key is configured.",
        &llm_base_url, kDefaultLlmBaseUrl, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("mcp_analytics.llm_model", "Model asked for dataset metadata.",
                               nullptr, &llm_model, "gpt-4o-mini", PGC_SUSET, 0, nullptr, nullptr,
                               nullptr);
    DefineCustomStringVariable(
        "mcp_analytics.llm_api_key_file", "File holding the API key of the LLM endpoint.",
        "Unset: the server's environment variable MCP_ANALYTICS_LLM_API_KEY, if any.",
        &llm_api_key_file, "", PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
    define_int("mcp_analytics.llm_timeout", "Seconds to wait for one LLM answer.", nullptr,
               &llm_timeout_s, 60, 1, 3600, PGC_SUSET, GUC_UNIT_S);
    define_int("mcp_analytics.llm_max_tokens", "Completion tokens the LLM may write.", nullptr,
               &llm_max_tokens, 2000, 100, 100000, PGC_SUSET, 0);
    define_int("mcp_analytics.llm_max_retries",
               "Retries of an LLM call after HTTP 429, 5xx, a timeout or a broken connection.",
               "With exponential backoff, honouring Retry-After.", &llm_max_retries, 3, 0, 10,
               PGC_SUSET, 0);
    define_int("mcp_analytics.llm_prompt_tokens", "Token budget of the profile sent to the LLM.",
               nullptr, &llm_prompt_tokens, 6000, 500, 200000, PGC_SUSET, 0);
    define_context_budgets();
    define_int("mcp_analytics.context_cache_ttl", "Seconds a rendered context stays cached.",
               "Changes to what it shows drop it earlier.", &context_cache_ttl_s, 3600, 0,
               86400 * 7, PGC_SUSET, GUC_UNIT_S);
    DefineCustomStringVariable("mcp_analytics.token_rank_file",
                               "The o200k_base.tiktoken rank file, for exact token counts.",
                               "Unset: token counts are estimated.", &token_rank_file, "",
                               PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

}  // namespace mcp::ext::jobs_settings
