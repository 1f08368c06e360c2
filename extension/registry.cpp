// The C++ half of the dataset registry: checking a connection string against the live
// server, sealing it, re-sealing it under a new key, and probing a stored one. The SQL half
// (mcp.register_dataset and friends, in the install script) owns the tables; these
// functions never see a table and never return a secret.
#include "crypto.hpp"
#include "conninfo.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"
#include "remote_connection.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
}

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>

namespace mcp::ext {

namespace {

// Reads the catalog as the dataset's role: proves the role can log in *and* look around.
const char* const kCatalogCheck =
    "SELECT pg_catalog.current_database(), current_user, "
    "pg_catalog.current_setting('server_version'), "
    "(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), "
    "(SELECT count(*) FROM pg_catalog.pg_class c "
    "   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "  WHERE c.relkind IN ('r','v','m','p','f') "
    "    AND n.nspname NOT IN ('pg_catalog','information_schema') "
    "    AND n.nspname NOT LIKE 'pg\\_toast%' "
    "    AND pg_catalog.has_table_privilege(c.oid, 'SELECT'))";

constexpr int kCatalogCheckTimeoutMs = 15000;

struct ServerFacts {
    std::string display, database, user, version;
    bool role_is_superuser = false;
    long readable_tables = 0;
    double latency_ms = 0;
};

ServerFacts inspect(const ConnectionParams& params, const std::string& label) {
    auto started = std::chrono::steady_clock::now();
    bool superuser = caller_is_superuser();
    RemoteConnection connection = RemoteConnection::open(params, label, superuser);
    ResultPtr result = connection.query(kCatalogCheck, kCatalogCheckTimeoutMs);
    ServerFacts facts;
    facts.display = connection.display();
    facts.database = PQgetvalue(result.get(), 0, 0);
    facts.user = PQgetvalue(result.get(), 0, 1);
    facts.version = PQgetvalue(result.get(), 0, 2);
    facts.role_is_superuser = std::string(PQgetvalue(result.get(), 0, 3)) == "t";
    facts.readable_tables = std::atol(PQgetvalue(result.get(), 0, 4));
    facts.latency_ms = std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - started)
                           .count();
    return facts;
}

std::vector<std::string> warnings_for(const ServerFacts& facts) {
    std::vector<std::string> warnings;
    if (facts.role_is_superuser)
        warnings.push_back("the dataset role \"" + facts.user +
                           "\" is a superuser; register a read-only role instead");
    if (facts.readable_tables == 0)
        warnings.push_back("the dataset role \"" + facts.user +
                           "\" can read no tables or views; grant it SELECT");
    return warnings;
}

Datum text_array_datum(const std::vector<std::string>& items) {
    std::vector<Datum> elements;
    for (const std::string& item : items) elements.push_back(text_datum(item));
    return pg_call([&] {
        return PointerGetDatum(construct_array(elements.data(), (int)elements.size(), TEXTOID,
                                               -1, false, TYPALIGN_INT));
    });
}

Datum seal_connection(FunctionCallInfo fcinfo) {
    std::string label = text_argument(fcinfo, 0);
    SecretString conninfo(text_argument(fcinfo, 1));
    ConnectionParams params = ConnectionParams::parse(conninfo.view(), caller_is_superuser());
    crypto::Key key = crypto::load_configured_key();  // fail on a bad key before connecting
    ServerFacts facts = inspect(params, label);
    std::vector<unsigned char> sealed = crypto::encrypt(key, conninfo.view());

    Datum values[5] = {bytea_datum(sealed), text_datum(facts.display), text_datum(facts.version),
                       Int64GetDatum(facts.readable_tables),
                       text_array_datum(warnings_for(facts))};
    bool nulls[5] = {false, false, false, false, false};
    return pg_call([&] {
        TupleDesc descriptor;
        if (get_call_result_type(fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "mcp._seal_connection must return a composite type");
        descriptor = BlessTupleDesc(descriptor);
        return HeapTupleGetDatum(heap_form_tuple(descriptor, values, nulls));
    });
}

Datum probe_connection(FunctionCallInfo fcinfo) {
    std::string label = text_argument(fcinfo, 0);
    std::vector<unsigned char> sealed = bytea_argument(fcinfo, 1);
    crypto::Key key = crypto::load_configured_key();
    SecretString conninfo = crypto::decrypt(key, sealed.data(), sealed.size());
    ConnectionParams params = ConnectionParams::parse(conninfo.view(), true);
    ServerFacts facts = inspect(params, label);

    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> json(buffer);
    json.StartObject();
    json.Key("ok");
    json.Bool(true);
    json.Key("connection");
    json.String(facts.display.c_str());
    json.Key("database");
    json.String(facts.database.c_str());
    json.Key("user");
    json.String(facts.user.c_str());
    json.Key("server_version");
    json.String(facts.version.c_str());
    json.Key("readable_tables");
    json.Int64(facts.readable_tables);
    json.Key("latency_ms");
    json.Double(static_cast<double>(static_cast<long>(facts.latency_ms * 10)) / 10);
    json.Key("warnings");
    json.StartArray();
    for (const std::string& warning : warnings_for(facts)) json.String(warning.c_str());
    json.EndArray();
    json.EndObject();
    return jsonb_datum(buffer.GetString());
}

Datum reseal_connection(FunctionCallInfo fcinfo) {
    std::vector<unsigned char> sealed = bytea_argument(fcinfo, 0);
    crypto::Key new_key = crypto::load_key_file(text_argument(fcinfo, 1), "the new key file");
    if (crypto::key_id_of(sealed.data(), sealed.size()) == new_key.id())
        return bytea_datum(sealed);  // already under the new key: rotation is re-runnable
    crypto::Key current = crypto::load_configured_key();
    SecretString conninfo = crypto::decrypt(current, sealed.data(), sealed.size());
    return bytea_datum(crypto::encrypt(new_key, conninfo.view()));
}

Datum key_id(FunctionCallInfo fcinfo) {
    crypto::Key key = argument_is_null(fcinfo, 0)
                          ? crypto::load_configured_key()
                          : crypto::load_key_file(text_argument(fcinfo, 0), "the key file given");
    return text_datum(key.id());
}

Datum ciphertext_key_id(FunctionCallInfo fcinfo) {
    std::vector<unsigned char> sealed = bytea_argument(fcinfo, 0);
    return text_datum(crypto::key_id_of(sealed.data(), sealed.size()));
}

}  // namespace

}  // namespace mcp::ext

extern "C" {
PG_FUNCTION_INFO_V1(mcp_seal_connection);
PG_FUNCTION_INFO_V1(mcp_probe_connection);
PG_FUNCTION_INFO_V1(mcp_reseal_connection);
PG_FUNCTION_INFO_V1(mcp_key_id);
PG_FUNCTION_INFO_V1(mcp_ciphertext_key_id);

Datum mcp_seal_connection(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::seal_connection(fcinfo); });
}
Datum mcp_probe_connection(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::probe_connection(fcinfo); });
}
Datum mcp_reseal_connection(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::reseal_connection(fcinfo); });
}
Datum mcp_key_id(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::key_id(fcinfo); });
}
Datum mcp_ciphertext_key_id(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return mcp::ext::ciphertext_key_id(fcinfo); });
}
}
