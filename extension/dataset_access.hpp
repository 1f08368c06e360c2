// A registered dataset as the C++ side needs it, and a connection to it. The connection
// string is decrypted here and only here, and only to connect.
#pragma once

#include "remote_connection.hpp"

#include <optional>
#include <string>
#include <vector>

namespace mcp::ext {

struct DatasetRecord {
    int id = 0;
    std::string name;
    std::string status;
    int credential_version = 0;
    std::vector<unsigned char> ciphertext;
    std::optional<std::string> weight_column;
    std::optional<std::string> user_id_column;
    std::optional<std::string> user_table;
    double estimated_rows = -1;  // from the last profile; -1 when unknown
    // The database role the caller's queries run as (mcp._dataset_role): the statement that
    // sets it inside the read-only transaction, empty for the connection's own role; or why
    // the caller may not query the dataset at all.
    std::optional<std::string> role;
    std::string set_role_sql;
    std::optional<std::string> role_refusal;

    bool is_live() const { return status == "approved" || status == "active"; }
};

// Reads the dataset through SPI (a transaction must be open). Throws PgError P0002
// (no_data_found) when there is no such dataset, or the caller may not see it
// (mcp._may_use_dataset): the two are told apart by nobody.
DatasetRecord load_dataset(int dataset_id);

// The dataset's connection parameters: its stored connection string, decrypted with the
// configured key.
ConnectionParams dataset_params(const DatasetRecord& dataset);

// Connects with dataset_params(dataset).
RemoteConnection connect_dataset(const DatasetRecord& dataset);

}  // namespace mcp::ext
