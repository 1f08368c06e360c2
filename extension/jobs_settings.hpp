// Configuration parameters of background jobs, profiling, LLM metadata and progressive
// context (defined in jobs_settings.cpp, registered from _PG_init).
#pragma once

namespace mcp::ext::jobs_settings {

extern int job_workers;              // mcp_analytics.job_workers: jobs running at once (server)
extern int job_retry_delay_ms;       // mcp_analytics.job_retry_delay: first backoff after a failure
extern bool profile_on_register;     // mcp_analytics.profile_on_register
extern int profile_exact_row_limit;  // mcp_analytics.profile_exact_row_limit
extern int profile_statement_timeout_ms;  // mcp_analytics.profile_statement_timeout
extern int profile_connections;           // mcp_analytics.profile_connections
extern char* llm_base_url;                // mcp_analytics.llm_base_url
extern char* llm_model;                   // mcp_analytics.llm_model
extern char* llm_api_key_file;            // mcp_analytics.llm_api_key_file (superuser-only)
extern int llm_timeout_s;                 // mcp_analytics.llm_timeout
extern int llm_max_tokens;                // mcp_analytics.llm_max_tokens
extern int llm_max_retries;               // mcp_analytics.llm_max_retries
extern int llm_prompt_tokens;    // mcp_analytics.llm_prompt_tokens: budget of the user prompt
extern int context_tokens[4];    // mcp_analytics.context_tokens_level0..3
extern int context_cache_ttl_s;  // mcp_analytics.context_cache_ttl
extern char* token_rank_file;    // mcp_analytics.token_rank_file (o200k_base.tiktoken)

// The OpenAI API, the default endpoint: called only when an API key is configured.
constexpr const char* kDefaultLlmBaseUrl = "https://api.openai.com/v1";

void define();

}  // namespace mcp::ext::jobs_settings
