#include "dataset_access.hpp"

#include "caller.hpp"
#include "crypto.hpp"
#include "pg_guard.hpp"
#include "registry_generation.hpp"
#include "spi.hpp"

#include <cstdint>
#include <cstdlib>
#include <utility>

namespace mcp::ext {

namespace {

// Reads the record from the registry; nullopt when there is no such dataset, or the caller
// may not see it.
std::optional<DatasetRecord> read_dataset(int dataset_id) {
    std::vector<spi::Row> rows;
    try {
        rows = spi::query_saved(
            "SELECT d.id, d.name, d.status, d.credential_version, d.connection_ciphertext, "
            "       d.weight_column_name, d.user_id_column_name, d.user_table_name, "
            "       EXISTS (SELECT 1 FROM mcp.dataset_role_defaults r WHERE r.dataset_id = d.id) "
            "    OR EXISTS (SELECT 1 FROM mcp.dataset_role_mappings m WHERE m.dataset_id = d.id), "
            "       d.estimated_row_count "
            "  FROM mcp.datasets d "
            " WHERE d.id = $1::integer AND mcp._may_use_dataset(d.id)",
            {std::to_string(dataset_id)}, true);
    } catch (const PgError& error) {
        // The library was replaced by a newer one and this database's SQL objects are still
        // those of the version before: say what to run instead of a missing function.
        if (error.sqlstate() != ERRCODE_UNDEFINED_FUNCTION && error.sqlstate() != ERRCODE_UNDEFINED_TABLE)
            throw;
        throw PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                      "the mcp_analytics library is newer than this database's extension",
                      error.what(), "Run ALTER EXTENSION mcp_analytics UPDATE; in this database.");
    }
    if (rows.empty()) return std::nullopt;
    const spi::Row& row = rows[0];
    DatasetRecord record;
    record.id = std::atoi(row[0]->c_str());
    record.name = *row[1];
    record.status = *row[2];
    record.credential_version = std::atoi(row[3]->c_str());
    record.ciphertext = crypto::bytes_from_bytea_text(*row[4]);
    record.weight_column = row[5];
    record.user_id_column = row[6];
    record.user_table = row[7];
    if (row[9]) record.estimated_rows = std::atof(row[9]->c_str());
    // Most datasets map no roles: only those that do pay for working out the caller's.
    if (row[8] == "t") {
        auto role = spi::query_saved(
            "SELECT r.db_role, 'SET LOCAL ROLE ' || pg_catalog.quote_ident(r.db_role), r.refusal "
            "  FROM mcp._dataset_role($1::integer) r",
            {std::to_string(dataset_id)}, true);
        if (!role.empty()) {
            record.role = role[0][0];
            record.set_role_sql = role[0][1].value_or("");
            record.role_refusal = role[0][2];
        }
    }
    return record;
}

}  // namespace

DatasetRecord load_dataset(int dataset_id) {
    // Per dataset and caller: the access check and the role depend on who calls. A call
    // without a key is -1, apart from a context naming key 0 (which may use nothing).
    static registry_generation::Kept<std::pair<int, int>, std::optional<DatasetRecord>> kept(1024);
    std::optional<DatasetRecord> record =
        kept.get(std::make_pair(dataset_id, caller::api_key_id().value_or(-1)),
                 [](const std::pair<int, int>& key) { return read_dataset(key.first); });
    if (!record)
        throw PgError(ERRCODE_NO_DATA_FOUND, "dataset " + std::to_string(dataset_id) +
                                                 " does not exist",
                      {}, "List the datasets with the list_datasets tool or mcp.datasets().");
    return std::move(*record);
}

ConnectionParams dataset_params(const DatasetRecord& dataset) {
    crypto::Key key = crypto::load_configured_key();
    SecretString conninfo = crypto::decrypt(key, dataset.ciphertext.data(), dataset.ciphertext.size());
    return ConnectionParams::parse(conninfo.view(), true);
}

RemoteConnection connect_dataset(const DatasetRecord& dataset) {
    return RemoteConnection::open(dataset_params(dataset), dataset.name, true);
}

}  // namespace mcp::ext
