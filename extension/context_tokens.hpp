// Token counts for context budgets and LLM prompts: the exact o200k_base count (the
// tokenizer of GPT-4o and later) when mcp_analytics.token_rank_file names the rank file
// (lines "<base64 token> <rank>"), else an estimate that uses the same pre-tokenizer and
// guesses the BPE merges of each piece.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mcp::ext {

int count_tokens(std::string_view text);

// "o200k" or "estimate", after trying to load the configured rank file.
std::string token_counter_name();

namespace tokens {

// The o200k pre-tokenizer: the pieces BPE then runs on (byte offsets into text).
std::vector<std::string_view> split(std::string_view text);

// Exact count with a given rank file (for tests); throws PgError if it cannot be read.
int count_with_rank_file(std::string_view text, const std::string& rank_file);

// The estimate, whatever is configured.
int estimate(std::string_view text);

}  // namespace tokens

}  // namespace mcp::ext
