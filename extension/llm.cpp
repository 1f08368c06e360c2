#include "llm.hpp"

#include "context_tokens.hpp"
#include "jobs_settings.hpp"
#include "pg_guard.hpp"
#include "spi.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

#include <curl/curl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <strings.h>
#include <optional>
#include <sstream>

namespace mcp::ext::llm {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxBody = 4 * 1024 * 1024;  // answers larger than this are cut off
constexpr size_t kMaxRawKept = 20000;         // raw text kept for the reviewer

struct Endpoint {
    std::string url;  // .../chat/completions
    std::string model;
    std::string api_key;
};

std::string trim(std::string text) {
    while (!text.empty() && std::isspace((unsigned char)text.back())) text.pop_back();
    size_t start = 0;
    while (start < text.size() && std::isspace((unsigned char)text[start])) ++start;
    return text.substr(start);
}

// Where to send the request, or nothing: then the deterministic writer runs. The default
// (OpenAI) is used only with an API key; any other URL (Ollama, vLLM, a proxy) without one.
std::optional<Endpoint> configured_endpoint(std::string* why_not) {
    std::string base = jobs_settings::llm_base_url ? trim(jobs_settings::llm_base_url) : "";
    std::string key;
    std::string key_file = jobs_settings::llm_api_key_file ? jobs_settings::llm_api_key_file : "";
    if (!key_file.empty()) {
        std::ifstream in(key_file);
        if (!in)
            throw PgError(ERRCODE_CONFIG_FILE_ERROR,
                          "could not read mcp_analytics.llm_api_key_file", {},
                          "Check that the file exists and the server's user can read it.");
        std::stringstream content;
        content << in.rdbuf();
        key = trim(content.str());
    } else if (const char* env = std::getenv("MCP_ANALYTICS_LLM_API_KEY")) {
        key = trim(env);
    }
    if (base.empty()) {
        *why_not = "mcp_analytics.llm_base_url is empty";
        return std::nullopt;
    }
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (base == jobs_settings::kDefaultLlmBaseUrl && key.empty()) {
        *why_not = "no API key is configured for the default endpoint (OpenAI)";
        return std::nullopt;
    }
    Endpoint endpoint;
    size_t query = base.find('?');  // Azure: ...?api-version=... stays at the end
    endpoint.url = query == std::string::npos
                       ? base + "/chat/completions"
                       : base.substr(0, query) + "/chat/completions" + base.substr(query);
    endpoint.model = jobs_settings::llm_model ? jobs_settings::llm_model : "gpt-4o-mini";
    endpoint.api_key = key;
    return endpoint;
}

// ---------------------------------------------------------------------------------------
// HTTP with libcurl. Callbacks run inside curl's C frames: they must not throw or ereport.
// ---------------------------------------------------------------------------------------

struct Exchange {
    std::string body;
    std::string retry_after;
    bool overflow = false;
};

extern "C" size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* exchange = static_cast<Exchange*>(user);
    size_t bytes = size * count;
    try {
        if (exchange->body.size() + bytes > kMaxBody) {
            exchange->overflow = true;
            return 0;
        }
        exchange->body.append(data, bytes);
    } catch (...) {
        return 0;
    }
    return bytes;
}

extern "C" size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* exchange = static_cast<Exchange*>(user);
    size_t bytes = size * count;
    try {
        std::string line(data, bytes);
        if (line.size() > 12 && strncasecmp(line.c_str(), "retry-after:", 12) == 0)
            exchange->retry_after = trim(line.substr(12));
    } catch (...) {
    }
    return bytes;
}

// Lets pg_cancel_backend, statement_timeout and shutdown stop a transfer at once.
extern "C" int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return InterruptPending ? 1 : 0;
}

struct HttpResult {
    CURLcode code = CURLE_OK;
    long status = 0;
    std::string body;
    std::string retry_after;
    std::string error;
};

void ensure_curl() {
    static bool initialized = false;
    if (!initialized) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw PgError(ERRCODE_INTERNAL_ERROR, "could not initialize libcurl");
        initialized = true;
    }
}

HttpResult post(const Endpoint& endpoint, const std::string& payload) {
    ensure_curl();
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::bad_alloc();
    struct curl_slist* raw_headers = nullptr;
    raw_headers = curl_slist_append(raw_headers, "Content-Type: application/json");
    if (!endpoint.api_key.empty()) {
        raw_headers =
            curl_slist_append(raw_headers, ("Authorization: Bearer " + endpoint.api_key).c_str());
        raw_headers =
            curl_slist_append(raw_headers, ("api-key: " + endpoint.api_key).c_str());  // Azure
    }
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(raw_headers, curl_slist_free_all);
    Exchange exchange;
    char error_buffer[CURL_ERROR_SIZE] = "";
    CURL* c = curl.get();
    const long timeout_ms = jobs_settings::llm_timeout_s * 1000L;
    curl_easy_setopt(c, CURLOPT_URL, endpoint.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mcp_analytics/0.1");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM inside a backend
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 10000L));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &exchange);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &exchange);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
    HttpResult result;
    result.code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
    if (result.code == CURLE_ABORTED_BY_CALLBACK) check_for_interrupts();
    result.body = std::move(exchange.body);
    result.retry_after = exchange.retry_after;
    result.error = error_buffer[0] ? error_buffer : curl_easy_strerror(result.code);
    if (result.code == CURLE_OPERATION_TIMEDOUT)
        result.error = "no answer within mcp_analytics.llm_timeout (" +
                       std::to_string(jobs_settings::llm_timeout_s) + " s)";
    return result;
}

// The API's own error message, if the body carries one ({"error": {"message": ...}}).
std::string api_error(const std::string& body) {
    rapidjson::Document document;
    document.Parse(body.c_str());
    if (!document.HasParseError() && document.IsObject() && document.HasMember("error")) {
        const auto& error = document["error"];
        if (error.IsObject() && error.HasMember("message") && error["message"].IsString())
            return error["message"].GetString();
        if (error.IsString()) return error.GetString();
    }
    return body.substr(0, 200);
}

void sleep_ms(long ms) {
    auto until = Clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
        long left = static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
        if (left <= 0) return;
        pg_call([&] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
        });
        check_for_interrupts();
    }
}

long backoff_ms(const HttpResult& result, int retry) {
    if (!result.retry_after.empty() && std::isdigit((unsigned char)result.retry_after[0]))
        return std::min(std::atol(result.retry_after.c_str()), 60L) * 1000;
    return std::min(500L << retry, 30000L);
}

// ---------------------------------------------------------------------------------------
// The answer
// ---------------------------------------------------------------------------------------

struct Outcome {
    bool ok = false;
    std::string fields;  // JSON object of the metadata fields (when ok)
    std::string error;   // why not
    std::string raw;     // the text the reviewer should see when it was malformed
    long prompt_tokens = -1, completion_tokens = -1;
    int http_attempts = 0;
};

std::string strip_fences(std::string text) {
    text = trim(text);
    if (text.rfind("```", 0) == 0) {
        size_t newline = text.find('\n');
        text = newline == std::string::npos ? "" : text.substr(newline + 1);
        size_t end = text.rfind("```");
        if (end != std::string::npos) text = text.substr(0, end);
    }
    return trim(text);
}

bool is_iso_date(const std::string& text) {
    if (text.size() < 10) return false;
    for (int i : {0, 1, 2, 3, 5, 6, 8, 9})
        if (!std::isdigit((unsigned char)text[i])) return false;
    return text[4] == '-' && text[7] == '-';
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string_list(Writer& json, const rapidjson::Value* value) {
    json.StartArray();
    if (value != nullptr && value->IsArray())
        for (const auto& item : value->GetArray())
            if (item.IsString() && item.GetStringLength() > 0) json.String(item.GetString());
    json.EndArray();
}

// Keeps what the contract asks for, in the shapes the tables take; false if unusable.
bool normalize_answer(const rapidjson::Value& answer, std::string* fields, std::string* error) {
    if (!answer.IsObject()) {
        *error = "the answer is JSON but not an object";
        return false;
    }
    auto member = [&](const char* name) -> const rapidjson::Value* {
        auto found = answer.FindMember(name);
        return found == answer.MemberEnd() ? nullptr : &found->value;
    };
    const rapidjson::Value* description = member("description");
    if (description == nullptr || !description->IsString() || description->GetStringLength() == 0) {
        *error = "the answer has no \"description\" string";
        return false;
    }
    rapidjson::StringBuffer buffer;
    Writer json(buffer);
    json.StartObject();
    json.Key("description");
    json.String(description->GetString());
    json.Key("data_dictionary");
    json.StartObject();
    if (const rapidjson::Value* dictionary = member("data_dictionary");
        dictionary && dictionary->IsObject()) {
        for (const auto& entry : dictionary->GetObject()) {
            if (entry.value.IsString()) {
                json.Key(entry.name.GetString());
                json.String(entry.value.GetString());
            } else if (entry.value.IsObject()) {  // {"table": {"column": "..."}}
                for (const auto& inner : entry.value.GetObject()) {
                    if (!inner.value.IsString()) continue;
                    std::string key =
                        std::string(entry.name.GetString()) + "." + inner.name.GetString();
                    json.Key(key.c_str());
                    json.String(inner.value.GetString());
                }
            }
        }
    }
    json.EndObject();
    for (const char* list :
         {"quality_observations", "improvement_suggestions", "recommended_use_cases"}) {
        json.Key(list);
        write_string_list(json, member(list));
    }
    json.Key("data_category");
    const rapidjson::Value* category = member("data_category");
    if (category && category->IsString())
        json.String(category->GetString());
    else
        json.Null();
    std::string start, end;
    if (const rapidjson::Value* range = member("date_range"); range && range->IsObject()) {
        if (range->HasMember("start") && (*range)["start"].IsString())
            start = (*range)["start"].GetString();
        if (range->HasMember("end") && (*range)["end"].IsString())
            end = (*range)["end"].GetString();
    }
    if (const rapidjson::Value* s = member("date_range_start"); s && s->IsString())
        start = s->GetString();
    if (const rapidjson::Value* e = member("date_range_end"); e && e->IsString())
        end = e->GetString();
    json.Key("date_range_start");
    if (is_iso_date(start))
        json.String(start.substr(0, 10).c_str());
    else
        json.Null();
    json.Key("date_range_end");
    if (is_iso_date(end))
        json.String(end.substr(0, 10).c_str());
    else
        json.Null();
    json.EndObject();
    *fields = buffer.GetString();
    return true;
}

void parse_completion(const std::string& body, Outcome& outcome) {
    rapidjson::Document document;
    document.Parse(body.c_str());
    const rapidjson::Value* content = nullptr;
    if (!document.HasParseError() && document.IsObject() && document.HasMember("choices") &&
        document["choices"].IsArray() && !document["choices"].Empty()) {
        const auto& choice = document["choices"][0];
        if (choice.IsObject() && choice.HasMember("message") && choice["message"].IsObject() &&
            choice["message"].HasMember("content") && choice["message"]["content"].IsString())
            content = &choice["message"]["content"];
    }
    if (!document.HasParseError() && document.IsObject() && document.HasMember("usage") &&
        document["usage"].IsObject()) {
        const auto& usage = document["usage"];
        if (usage.HasMember("prompt_tokens") && usage["prompt_tokens"].IsInt64())
            outcome.prompt_tokens = static_cast<long>(usage["prompt_tokens"].GetInt64());
        if (usage.HasMember("completion_tokens") && usage["completion_tokens"].IsInt64())
            outcome.completion_tokens = static_cast<long>(usage["completion_tokens"].GetInt64());
    }
    if (content == nullptr) {
        outcome.error =
            "malformed answer: the response is not a chat completion (no "
            "choices[0].message.content)";
        outcome.raw = body.substr(0, kMaxRawKept);
        return;
    }
    std::string text = content->GetString();
    rapidjson::Document answer;
    answer.Parse(strip_fences(text).c_str());
    if (answer.HasParseError()) {
        outcome.error = "malformed answer: the message content is not valid JSON";
        outcome.raw = text.substr(0, kMaxRawKept);
        return;
    }
    std::string why;
    if (!normalize_answer(answer, &outcome.fields, &why)) {
        outcome.error = "malformed answer: " + why;
        outcome.raw = text.substr(0, kMaxRawKept);
        return;
    }
    outcome.ok = true;
}

std::string request_body(const Endpoint& endpoint, const std::string& system,
                         const std::string& user) {
    rapidjson::StringBuffer buffer;
    Writer json(buffer);
    json.StartObject();
    json.Key("model");
    json.String(endpoint.model.c_str());
    json.Key("messages");
    json.StartArray();
    for (const auto& [role, text] : {std::pair<const char*, const std::string*>{"system", &system},
                                     std::pair<const char*, const std::string*>{"user", &user}}) {
        json.StartObject();
        json.Key("role");
        json.String(role);
        json.Key("content");
        json.String(text->c_str(), static_cast<rapidjson::SizeType>(text->size()));
        json.EndObject();
    }
    json.EndArray();
    json.Key("response_format");
    json.StartObject();
    json.Key("type");
    json.String("json_object");
    json.EndObject();
    json.Key("temperature");
    json.Double(0.2);
    json.Key("max_tokens");
    json.Int(jobs_settings::llm_max_tokens);
    json.EndObject();
    return buffer.GetString();
}

Outcome ask(const Endpoint& endpoint, const std::string& payload) {
    Outcome outcome;
    for (int retry = 0;; ++retry) {
        HttpResult result = post(endpoint, payload);
        ++outcome.http_attempts;
        bool transient;
        if (result.code != CURLE_OK) {
            outcome.error = "LLM request failed: " + result.error;
            transient = true;
        } else if (result.status == 200) {
            parse_completion(result.body, outcome);
            return outcome;  // a malformed answer is not retried: the same prompt costs again
        } else {
            outcome.error = "LLM endpoint answered HTTP " + std::to_string(result.status) + ": " +
                            api_error(result.body);
            transient = result.status == 429 || result.status >= 500;
        }
        if (!transient || retry >= jobs_settings::llm_max_retries) {
            if (outcome.http_attempts > 1)
                outcome.error += " (after " + std::to_string(outcome.http_attempts) + " attempts)";
            return outcome;
        }
        sleep_ms(backoff_ms(result, retry));
    }
}

std::string input_json(long long dataset_id) {
    auto value = spi::query_value("SELECT mcp._metadata_input($1::integer)::text",
                                  {std::to_string(dataset_id)});
    return value ? *value : "{}";
}

}  // namespace

void run_metadata_job(jobs::JobContext& context) {
    context.tx.begin();
    std::string input_text = input_json(context.job.dataset_id);
    context.tx.commit();
    rapidjson::Document input;
    input.Parse(input_text.c_str());
    if (input.HasParseError() || !input.IsObject())
        throw PgError(ERRCODE_INTERNAL_ERROR, "could not read the dataset's profile");

    std::string why_not;
    std::optional<Endpoint> endpoint = configured_endpoint(&why_not);
    rapidjson::StringBuffer buffer;
    Writer json(buffer);
    json.StartObject();
    if (endpoint) {
        context.progress("{\"step\": \"asking the LLM\", \"model\": \"" + endpoint->model + "\"}");
        auto started = Clock::now();
        std::string system = system_prompt(input);
        std::string user = user_prompt(input, jobs_settings::llm_prompt_tokens);
        Outcome outcome = ask(*endpoint, request_body(*endpoint, system, user));
        long elapsed_ms = static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
        std::string fields = outcome.ok ? outcome.fields : write_from_profile(input);
        rapidjson::Document parsed;
        parsed.Parse(fields.c_str());
        for (const auto& member : parsed.GetObject()) {
            json.Key(member.name.GetString());
            member.value.Accept(json);
        }
        json.Key("written_by");
        json.String(outcome.ok ? "llm" : "profile");
        json.Key("llm_model");
        json.String(endpoint->model.c_str());
        json.Key("prompt_tokens");
        if (outcome.prompt_tokens >= 0)
            json.Int64(outcome.prompt_tokens);
        else
            json.Null();
        json.Key("completion_tokens");
        if (outcome.completion_tokens >= 0)
            json.Int64(outcome.completion_tokens);
        else
            json.Null();
        json.Key("generation_time_ms");
        json.Int64(elapsed_ms);
        json.Key("http_attempts");
        json.Int(outcome.http_attempts);
        json.Key("raw_response");
        if (outcome.raw.empty())
            json.Null();
        else
            json.String(outcome.raw.c_str());
        json.Key("llm_error");
        if (outcome.ok)
            json.Null();
        else
            json.String(outcome.error.c_str());
    } else {
        context.progress("{\"step\": \"writing from the profile\"}");
        std::string fields = write_from_profile(input);
        rapidjson::Document parsed;
        parsed.Parse(fields.c_str());
        for (const auto& member : parsed.GetObject()) {
            json.Key(member.name.GetString());
            member.value.Accept(json);
        }
        json.Key("written_by");
        json.String("profile");
        json.Key("llm_model");
        json.Null();
        json.Key("http_attempts");
        json.Int(0);
        json.Key("not_llm_because");
        json.String(why_not.c_str());
    }
    json.EndObject();

    context.tx.begin();
    spi::query(
        "SELECT mcp._store_metadata($1::bigint, $2::integer, $3::jsonb)",
        {std::to_string(context.job.id), std::to_string(context.job.attempt), buffer.GetString()});
    context.tx.commit();
}

}  // namespace mcp::ext::llm
