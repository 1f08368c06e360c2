#include "query_log.hpp"

#include "caller.hpp"
#include "dynamic_worker.hpp"
#include "executor_settings.hpp"
#include "pg_guard.hpp"
#include "query_log_queue.hpp"
#include "spi.hpp"
#include "utf8_text.hpp"

extern "C" {
#include "access/xact.h"
#include "executor/spi.h"
#include "utils/guc.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
}

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

namespace mcp::ext::query_log {

namespace {

// What the worker finds in the dynamic shared memory segment.
struct SharedEntry {
    Oid database;
    Size length;
    char json[FLEXIBLE_ARRAY_MEMBER];
};

// One row per entry of a JSON array, in one statement whose plan each backend keeps (the
// same columns as mcp._log_query, which 0.1.0 called once per row and planned every time).
// The entries are read as typed records (one pass over each entry, where a ->> per column
// searched it again), the caller's context left as jsonb.
#define MCP_LOG_RECORDS                                                                          \
    " FROM pg_catalog.jsonb_to_recordset($1::jsonb) AS e(query_text text, query_type text,"      \
    "      datasets_used integer[], execution_time_ms double precision, rows_returned integer,"  \
    "      success boolean, error_message text, error_sqlstate text, response_format text,"     \
    "      response_size_bytes integer, was_cached boolean, house_rule text,"                    \
    "      started_unix_us bigint, context jsonb)"

// The columns of 0.1.0 and the values for them from one entry `e`.
#define MCP_LOG_COLUMNS_0_1_0                                                                    \
    "query_text, query_type, datasets_used, execution_time_ms, rows_returned, success,"         \
    " error_message, error_sqlstate, tool_used, mcp_tool, client_name, client_version,"         \
    " user_agent, session_id, api_key_id, response_format, response_size_bytes, was_cached,"     \
    " created_at"
#define MCP_LOG_VALUES_0_1_0                                                                     \
    "e.query_text, e.query_type, e.datasets_used, e.execution_time_ms, e.rows_returned,"         \
    " e.success, e.error_message, e.error_sqlstate,"                                             \
    " coalesce(e.context ->> 'tool_used',"                                                       \
    "          mcp.client_tool(e.context ->> 'client_name', e.context ->> 'user_agent')),"       \
    " e.context ->> 'tool', e.context ->> 'client_name', e.context ->> 'client_version',"        \
    " e.context ->> 'user_agent', e.context ->> 'session_id', (e.context ->> 'api_key_id')::integer," \
    " e.response_format, e.response_size_bytes, e.was_cached,"                                  \
    /* When the call ran, not when its queued row was written (microseconds, exactly). */      \
    " coalesce(pg_catalog.to_timestamp(0) OPERATOR(pg_catalog.+)"                               \
    "          (e.started_unix_us OPERATOR(pg_catalog.*) interval '1 microsecond'), now())"

const char* const kInsert =
    "INSERT INTO mcp.query_logs (" MCP_LOG_COLUMNS_0_1_0
    ", house_rule, traceparent, user_id, oauth_client_id)"
    " SELECT " MCP_LOG_VALUES_0_1_0 ", e.house_rule,"
    // Malformed trace context is dropped, not a failed log write.
    " CASE WHEN e.context ->> 'traceparent' OPERATOR(pg_catalog.~)"
    "           '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'"
    "      THEN e.context ->> 'traceparent' END,"
    // The person and OAuth client behind the caller's row, when it is one.
    " k.user_id, k.oauth_client_id"
    MCP_LOG_RECORDS
    " LEFT JOIN mcp.api_keys k ON k.id = (e.context ->> 'api_key_id')::integer";

// The same over the columns of 0.1.0: a database whose library is already new but whose
// ALTER EXTENSION mcp_analytics UPDATE has not run yet still logs every call.
const char* const kInsertBeforeUpdate =
    "INSERT INTO mcp.query_logs (" MCP_LOG_COLUMNS_0_1_0 ") SELECT " MCP_LOG_VALUES_0_1_0
    MCP_LOG_RECORDS;

#undef MCP_LOG_COLUMNS_0_1_0
#undef MCP_LOG_VALUES_0_1_0
#undef MCP_LOG_RECORDS

const char* const kUpdatedLog =
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute"
    "  WHERE attrelid = 'mcp.query_logs'::pg_catalog.regclass AND attname = 'traceparent'"
    "    AND NOT attisdropped)";

// Which INSERT this database takes. Once updated, always updated: only that answer is kept.
const char* insert_statement() {
    static bool updated = false;
    if (!updated) updated = spi::query_saved(kUpdatedLog, {}, true).at(0).at(0) == "t";
    return updated ? kInsert : kInsertBeforeUpdate;
}

// The caller the bridge set on its connection: written into the entry, because a log row
// written autonomously is written by another session, which does not see this one's settings.
int caller_from_setting() { return caller::connection_key_id().value_or(0); }

// At most `limit` bytes of UTF-8 text, never cut inside a character.
std::string utf8_prefix(const char* text, size_t length, size_t limit) {
    return std::string(text, utf8_cut(text, length, limit));
}

// mcp.client_tool of a client's name and user agent, asked once per backend and pair: the
// log INSERT would otherwise run its regular expressions on every call of a session.
std::string client_tool(const std::string& client_name, const std::string& user_agent) {
    static std::map<std::pair<std::string, std::string>, std::string> known;
    auto key = std::make_pair(client_name, user_agent);
    auto found = known.find(key);
    if (found != known.end()) return found->second;
    auto rows = spi::query_saved("SELECT mcp.client_tool(NULLIF($1, ''), NULLIF($2, ''))",
                                 {client_name, user_agent}, true);
    std::string tool = rows.empty() || !rows[0][0] ? "" : *rows[0][0];
    if (known.size() >= 1000) known.clear();  // bounded: clients are few, hostile ones many
    known.emplace(std::move(key), tool);
    return tool;
}

}  // namespace

std::string normalize_context(const std::string& context_text) {
    rapidjson::Document context;
    if (context.Parse(context_text.c_str()).HasParseError() || !context.IsObject())
        throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "context must be a JSON object", {},
                      "Give {} or {\"client_name\": \"...\", \"client_version\": \"...\", "
                      "\"user_agent\": \"...\", \"session_id\": \"...\", \"api_key_id\": 1}.");
    static const char* const text_keys[] = {"client_name", "client_version", "user_agent",
                                            "session_id", "tool", "traceparent"};
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> out(buffer);
    out.StartObject();
    for (const char* key : text_keys) {
        auto member = context.FindMember(key);
        if (member == context.MemberEnd() || member->value.IsNull()) continue;
        if (!member->value.IsString()) throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                          std::string("context.") + key + " must be a string");
        std::string value = utf8_prefix(member->value.GetString(), member->value.GetStringLength(), 1000);
        out.Key(key);
        out.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
    }
    auto key_id = context.FindMember("api_key_id");
    if (key_id != context.MemberEnd() && !key_id->value.IsNull()) {
        if (!key_id->value.IsInt()) throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "context.api_key_id must be an integer");
        out.Key("api_key_id");
        out.Int(key_id->value.GetInt());
    } else if (int caller = caller_from_setting(); caller > 0) {
        out.Key("api_key_id");
        out.Int(caller);
    }
    // The client family for tool_used (the log INSERT falls back to mcp.client_tool).
    std::string client_name, user_agent;
    if (auto member = context.FindMember("client_name");
        member != context.MemberEnd() && member->value.IsString())
        client_name = utf8_prefix(member->value.GetString(), member->value.GetStringLength(), 1000);
    if (auto member = context.FindMember("user_agent");
        member != context.MemberEnd() && member->value.IsString())
        user_agent = utf8_prefix(member->value.GetString(), member->value.GetStringLength(), 1000);
    const std::string tool = client_tool(client_name, user_agent);
    if (!tool.empty()) {
        out.Key("tool_used");
        out.String(tool.c_str(), static_cast<rapidjson::SizeType>(tool.size()));
    }
    out.EndObject();
    return buffer.GetString();
}

std::string request_context(const std::string& fallback_tool) {
    const char* current =
        pg_call([] { return GetConfigOption("mcp.request_context", true, false); });
    if (current != nullptr && current[0] != '\0') return normalize_context(current);
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> out(buffer);
    out.StartObject();
    out.Key("tool");
    out.String(fallback_tool.c_str());
    if (int caller = caller_from_setting(); caller > 0) {
        out.Key("api_key_id");
        out.Int(caller);
    }
    out.EndObject();
    return buffer.GetString();
}

std::string to_json(const Entry& entry, const std::string& context_json) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> json(buffer);
    json.StartObject();
    json.Key("query_text");
    json.String(entry.query_text.c_str(), static_cast<rapidjson::SizeType>(entry.query_text.size()));
    json.Key("query_type");
    json.String(entry.query_type.c_str());
    json.Key("datasets_used");
    json.StartArray();
    for (int id : entry.datasets_used) json.Int(id);
    json.EndArray();
    json.Key("execution_time_ms");
    json.Double(entry.execution_time_ms);
    json.Key("rows_returned");
    json.Int64(entry.rows_returned);
    json.Key("success");
    json.Bool(entry.success);
    if (!entry.success) {
        json.Key("error_message");
        json.String(entry.error_message.c_str());
        json.Key("error_sqlstate");
        json.String(entry.error_sqlstate.c_str());
    }
    json.Key("response_format");
    json.String(entry.response_format.c_str());
    json.Key("response_size_bytes");
    json.Int64(entry.response_size_bytes);
    json.Key("was_cached");
    json.Bool(entry.was_cached);
    json.Key("house_rule");
    if (entry.house_rule.empty())
        json.Null();
    else
        json.String(entry.house_rule.c_str());
    json.Key("started_unix_us");
    json.Int64(static_cast<int64_t>(GetCurrentTransactionStartTimestamp()) +
               (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
    json.Key("context");
    json.RawValue(context_json.c_str(), context_json.size(), rapidjson::kObjectType);
    json.EndObject();
    return buffer.GetString();
}

const char* insert_sql(bool updated_schema) { return updated_schema ? kInsert : kInsertBeforeUpdate; }

const char* updated_schema_sql() { return kUpdatedLog; }

bool transaction_wrote_nothing() { return GetTopTransactionIdIfAny() == InvalidTransactionId; }

namespace {

// The commit of a transaction that wrote nothing but log rows (and the call's cache entry,
// unlogged) need not wait for the WAL flush (mcp_analytics.async_log_commit).
void relax_commit() {
    if (!executor_settings::async_log_commit) return;
    pg_call([] {
        set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
                          false);
    });
}

// Inserts the entries in the current transaction, in one statement.
void insert_entries(const std::vector<std::string>& entries_json) {
    std::string array = "[";
    for (std::size_t i = 0; i < entries_json.size(); ++i) {
        if (i > 0) array += ',';
        array += entries_json[i];
    }
    array += ']';
    spi::query_saved(insert_statement(), {array});
}

// --- rows that wait for their transaction's commit ------------------------------------------
//
// A call's row goes to the queue only when the call's transaction commits, as an inserted row
// would only be seen then. A call whose transaction aborts (an error after the call, ROLLBACK,
// a session terminated before its commit) leaves no row: the bridge logs a call that never got
// its answer itself, and a row queued by the call would then be there twice.

struct StagedEntry {
    std::string json;
    SubTransactionId subtransaction;  // the entry goes if this one aborts
};

// Beyond this, a transaction's further calls insert their rows at once (a script making
// thousands of calls in one transaction keeps its memory, and its commit stays small).
constexpr std::size_t kStagedBytesLimit = 16 * 1024 * 1024;

std::vector<StagedEntry> staged;
std::size_t staged_bytes = 0;  // of the entries in `staged`
Oid staged_by = InvalidOid;    // who the logging function ran as: the extension's owner
bool callbacks_registered = false;

void forget_staged() {
    staged.clear();
    staged_bytes = 0;
}

// Inserts what the queue could not take, still inside the committing transaction, as the
// user the call's SECURITY DEFINER function ran as and with its search_path: the session's
// own user may not insert into mcp.query_logs. An error aborts the transaction, which
// restores both.
void insert_as_logger(const std::vector<std::string>& entries_json) {
    const bool wrote_nothing = transaction_wrote_nothing();
    Oid session_user = InvalidOid;
    int security_context = 0;
    GetUserIdAndSecContext(&session_user, &security_context);
    const int nest_level = pg_call([] { return NewGUCNestLevel(); });
    SetUserIdAndSecContext(staged_by, security_context | SECURITY_LOCAL_USERID_CHANGE);
    pg_call([] {
        set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                          0, false);
    });
    // The statement has ended: the INSERT (and the schema check before it) needs a snapshot.
    pg_call([] { PushActiveSnapshot(GetTransactionSnapshot()); });
    insert_entries(entries_json);
    pg_call([&] {
        PopActiveSnapshot();
        AtEOXact_GUC(true, nest_level);
    });
    SetUserIdAndSecContext(session_user, security_context);
    if (wrote_nothing) relax_commit();
}

// At the commit: each staged entry to the queue, the rest inserted. At a PREPARE TRANSACTION
// all are inserted, so that they commit or roll back with the prepared transaction.
void write_staged(bool queue) {
    std::vector<StagedEntry> entries;
    entries.swap(staged);
    staged_bytes = 0;
    std::vector<std::string> own;
    for (StagedEntry& entry : entries)
        if (!queue || !query_log_queue::enqueue(entry.json)) own.push_back(std::move(entry.json));
    if (own.empty()) return;
    if (queue) query_log_queue::count_written_by_caller(static_cast<long>(own.size()));
    insert_as_logger(own);
}

void on_transaction(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PRE_PREPARE:
            if (staged.empty()) return;
            // An error here (the INSERT of what the queue could not take) aborts the commit.
            sql_entry([&] {
                write_staged(event == XACT_EVENT_PRE_COMMIT);
                return Datum(0);
            });
            return;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            forget_staged();
            return;
        default:
            return;
    }
}

// Entries are staged in order and subtransaction ids grow, so those of the subtransaction
// that ends (and of its children, already handed to it) are the last ones.
void on_subtransaction(SubXactEvent event, SubTransactionId subtransaction, SubTransactionId parent, void*) {
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        while (!staged.empty() && staged.back().subtransaction >= subtransaction) {
            staged_bytes -= staged.back().json.size();
            staged.pop_back();
        }
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (auto entry = staged.rbegin(); entry != staged.rend() && entry->subtransaction >= subtransaction; ++entry)
            entry->subtransaction = parent;
    }
}

void stage(const std::vector<std::string>& entries_json) {
    if (!callbacks_registered) {
        pg_call([] {
            RegisterXactCallback(on_transaction, nullptr);
            RegisterSubXactCallback(on_subtransaction, nullptr);
        });
        callbacks_registered = true;
    }
    staged_by = GetUserId();
    const SubTransactionId subtransaction = GetCurrentSubTransactionId();
    for (const std::string& entry : entries_json) {
        staged.push_back({entry, subtransaction});
        staged_bytes += entry.size();
    }
}

}  // namespace

void write(const std::vector<std::string>& entries_json, bool wrote_nothing_before) {
    if (entries_json.empty()) return;
    if (wrote_nothing_before && query_log_queue::enabled() && staged_bytes < kStagedBytesLimit) {
        stage(entries_json);
        return;
    }
    if (wrote_nothing_before) relax_commit();
    insert_entries(entries_json);
}

void write_autonomously(const std::string& entry_json) {
    // The queue's writer commits in a transaction of its own: the error that follows cannot
    // take the row back. Waiting keeps the row visible once the caller sees the error.
    if (query_log_queue::enabled()) {
        if (auto sequence = query_log_queue::enqueue(entry_json, true)) {
            query_log_queue::wait_written(*sequence, 5000);
            return;
        }
    }
    dsm_segment* segment = pg_call([&] {
        return dsm_create(offsetof(SharedEntry, json) + entry_json.size() + 1, 0);
    });
    auto* shared = static_cast<SharedEntry*>(dsm_segment_address(segment));
    shared->database = MyDatabaseId;
    shared->length = entry_json.size();
    std::memcpy(shared->json, entry_json.c_str(), entry_json.size() + 1);

    BackgroundWorkerHandle* handle =
        start_dynamic_worker("mcp_query_log_writer_main", "mcp_analytics query log writer",
                             "mcp_analytics query log writer",
                             UInt32GetDatum(dsm_segment_handle(segment)));
    bool launched = handle != nullptr;
    if (launched) {
        pg_call([&] {
            pid_t pid;
            if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED)
                WaitForBackgroundWorkerShutdown(handle);
        });
    } else {
        pg_call([] {
            ereport(WARNING,
                    (errmsg("could not record the failed query in mcp.query_logs: no background "
                            "worker slot is free"),
                     errhint("Raise max_worker_processes.")));
        });
    }
    pg_call([&] { dsm_detach(segment); });
}

}  // namespace mcp::ext::query_log

// The worker: attach, connect to the caller's database, insert, commit, exit. Plain
// PostgreSQL code with no C++ objects: an error here ends the worker (FATAL), and the caller
// still raises its own error.
extern "C" PGDLLEXPORT void mcp_query_log_writer_main(Datum argument);

void mcp_query_log_writer_main(Datum argument) {
    using mcp::ext::query_log::SharedEntry;
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    dsm_segment* segment = dsm_attach(DatumGetUInt32(argument));
    if (segment == nullptr) proc_exit(1);
    auto* shared = static_cast<SharedEntry*>(dsm_segment_address(segment));
    BackgroundWorkerInitializeConnectionByOid(shared->database, InvalidOid, 0);

    StartTransactionCommand();
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "mcp_analytics: writing a query log row");
    Oid type = TEXTOID;
    Datum value = CStringGetTextDatum(psprintf("[%s]", shared->json));
    // The columns this database has (those of 0.1.0 until ALTER EXTENSION ... UPDATE ran).
    bool is_null = true;
    const bool updated = SPI_execute(mcp::ext::query_log::kUpdatedLog, true, 1) == SPI_OK_SELECT &&
                         SPI_processed == 1 &&
                         DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null)) &&
                         !is_null;
    SPI_execute_with_args(updated ? mcp::ext::query_log::kInsert : mcp::ext::query_log::kInsertBeforeUpdate,
                          1, &type, &value, nullptr, false, 0);
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
    dsm_detach(segment);
    proc_exit(0);
}
