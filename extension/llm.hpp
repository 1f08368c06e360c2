// Dataset metadata: an 'llm_metadata' job asks an OpenAI-compatible chat-completions endpoint
// (libcurl; retries with backoff on 429, 5xx and timeouts; a malformed answer is recorded with
// its raw text), or, with no endpoint configured, the deterministic writer derives the same
// fields from the profile.
#pragma once

#include "jobs.hpp"

#include <rapidjson/document.h>

#include <string>

namespace mcp::ext::llm {

// An 'llm_metadata' job: writes the metadata and stores it (mcp._store_metadata).
void run_metadata_job(jobs::JobContext& context);

// The prompts sent to the endpoint (llm_prompt.cpp). `input` is mcp._metadata_input().
std::string system_prompt(const rapidjson::Value& input);
std::string user_prompt(const rapidjson::Value& input, int token_budget);

// The deterministic writer (llm_writer.cpp): a JSON object with description,
// data_dictionary, quality_observations, improvement_suggestions, recommended_use_cases,
// data_category, date_range_start, date_range_end.
std::string write_from_profile(const rapidjson::Value& input);

}  // namespace mcp::ext::llm
