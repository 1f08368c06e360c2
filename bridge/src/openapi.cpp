#include "openapi.hpp"

namespace mcp::bridge {

namespace {

// Kept as one literal so that the served document is exactly what is reviewed here.
constexpr std::string_view document = R"json({
  "openapi": "3.1.0",
  "info": {
    "title": "mcp_analytics REST API",
    "version": "0.4.0",
    "description": "Register, review and approve datasets, and read the query log. Every route but this document needs an API key (mcp.create_api_key) sent as Authorization: Bearer <key>. Reader keys read; admin keys also register, edit and approve. Errors are {\"error\", \"detail\"?, \"hint\"?, \"sqlstate\"?}."
  },
  "servers": [{"url": "/"}],
  "security": [{"apiKey": []}],
  "components": {
    "securitySchemes": {
      "apiKey": {"type": "http", "scheme": "bearer", "description": "An mcp_analytics API key"}
    },
    "parameters": {
      "datasetId": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}
    },
    "responses": {
      "Error": {"description": "The request failed; the body says why", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "No API key, or an unknown, revoked or expired one", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Error": {
        "type": "object",
        "properties": {
          "error": {"type": "string"}, "detail": {"type": "string"}, "hint": {"type": "string"},
          "sqlstate": {"type": "string", "description": "PostgreSQL SQLSTATE of the failure"}
        },
        "required": ["error"]
      },
      "Dataset": {
        "type": "object",
        "properties": {
          "id": {"type": "integer"}, "name": {"type": "string"}, "description": {"type": ["string", "null"]},
          "status": {"type": "string", "enum": ["draft", "profiling", "metadata_pending", "approved", "active", "inactive"]},
          "data_source": {"type": "string", "enum": ["postgres", "fabric", "custom"]},
          "dataset_type": {"type": ["string", "null"]},
          "connection": {"type": "string", "description": "user@host:port/dbname; never the password"},
          "date_range_start": {"type": ["string", "null"], "format": "date"},
          "date_range_end": {"type": ["string", "null"], "format": "date"},
          "data_category": {"type": ["string", "null"]},
          "use_cases": {"type": "array", "items": {"type": "string"}},
          "has_weight_column": {"type": "boolean"}, "weight_column_name": {"type": ["string", "null"]},
          "user_id_column_name": {"type": ["string", "null"]}, "user_table_name": {"type": ["string", "null"]},
          "estimated_row_count": {"type": ["integer", "null"]},
          "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
          "updated_at": {"type": "string", "format": "date-time"},
          "approved_by": {"type": ["string", "null"]}, "approved_at": {"type": ["string", "null"], "format": "date-time"},
          "last_profiled_at": {"type": ["string", "null"], "format": "date-time"}
        }
      },
      "NewDataset": {
        "type": "object",
        "properties": {
          "name": {"type": "string", "minLength": 1, "maxLength": 100},
          "connection_string": {"type": "string", "description": "libpq keyword=value string or postgresql:// URI; stored encrypted"},
          "data_source": {"type": "string", "enum": ["postgres", "fabric", "custom"], "default": "postgres"},
          "description": {"type": "string"}
        },
        "required": ["name", "connection_string"],
        "additionalProperties": false
      },
      "Metadata": {"type": "object", "description": "The dataset's LLM-written metadata as reviewed (description, data_dictionary, quality_observations, improvement_suggestions, recommended_use_cases, data_category, date range, user_edited, user_approved, generated …)"},
      "QueryLogPage": {
        "type": "object",
        "properties": {
          "total": {"type": "integer"}, "skip": {"type": "integer"}, "limit": {"type": "integer"},
          "items": {"type": "array", "items": {"$ref": "#/components/schemas/QueryLog"}}
        }
      },
      "QueryLog": {
        "type": "object",
        "properties": {
          "id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
          "query_text": {"type": "string"}, "query_type": {"type": ["string", "null"]},
          "datasets_used": {"type": "array", "items": {"type": "integer"}},
          "execution_time_ms": {"type": ["number", "null"]}, "rows_returned": {"type": ["integer", "null"]},
          "success": {"type": "boolean"}, "error_message": {"type": ["string", "null"]}, "error_sqlstate": {"type": ["string", "null"]},
          "tool_used": {"type": ["string", "null"]}, "mcp_tool": {"type": ["string", "null"]}, "client_name": {"type": ["string", "null"]}, "client_version": {"type": ["string", "null"]},
          "user_agent": {"type": ["string", "null"]}, "session_id": {"type": ["string", "null"]}, "api_key_id": {"type": ["integer", "null"]},
          "response_format": {"type": ["string", "null"]}, "response_size_bytes": {"type": ["integer", "null"]}, "was_cached": {"type": "boolean"}
        }
      }
    }
  },
  "paths": {
    "/api/datasets": {
      "get": {
        "summary": "List datasets", "operationId": "listDatasets",
        "parameters": [
          {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["draft", "profiling", "metadata_pending", "approved", "active", "inactive"]}},
          {"name": "skip", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
          {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
        ],
        "responses": {
          "200": {"description": "A page of datasets", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Dataset"}}}}},
          "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Unauthorized"}
        }
      },
      "post": {
        "summary": "Register a dataset (admin)", "operationId": "registerDataset",
        "description": "Connects to the dataset to validate the string, stores it encrypted, and starts its review (status draft).",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewDataset"}}}},
        "responses": {
          "201": {"description": "Registered", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dataset"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/datasets/{id}": {
      "get": {
        "summary": "One dataset", "operationId": "getDataset",
        "parameters": [{"$ref": "#/components/parameters/datasetId"}],
        "responses": {
          "200": {"description": "The dataset", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dataset"}}}},
          "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/datasets/{id}/approve": {
      "patch": {
        "summary": "Approve a dataset (admin)", "operationId": "approveDataset",
        "description": "Only from metadata_pending. The approver on record is the API key's name. MCP clients are told at once (tools/list_changed).",
        "parameters": [{"$ref": "#/components/parameters/datasetId"}],
        "responses": {
          "200": {"description": "The approved dataset", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dataset"}}}},
          "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/datasets/{id}/metadata": {
      "get": {
        "summary": "A dataset's metadata", "operationId": "getMetadata",
        "parameters": [{"$ref": "#/components/parameters/datasetId"}],
        "responses": {
          "200": {"description": "The metadata", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Metadata"}}}},
          "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/Error"}
        }
      },
      "patch": {
        "summary": "Edit a dataset's metadata (admin)", "operationId": "updateMetadata",
        "description": "Fields to change, e.g. {\"description\": \"…\"}; the generated version is kept for comparison.",
        "parameters": [{"$ref": "#/components/parameters/datasetId"}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {
          "200": {"description": "The metadata after the edit", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Metadata"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/logs": {
      "get": {
        "summary": "Search the query log", "operationId": "searchLogs",
        "parameters": [
          {"name": "client", "in": "query", "schema": {"type": "string"}, "description": "MCP client name from initialize"},
          {"name": "tool", "in": "query", "schema": {"type": "string"}},
          {"name": "success", "in": "query", "schema": {"type": "boolean"}},
          {"name": "dataset_id", "in": "query", "schema": {"type": "integer"}},
          {"name": "api_key_id", "in": "query", "schema": {"type": "integer"}},
          {"name": "session_id", "in": "query", "schema": {"type": "string"}},
          {"name": "since", "in": "query", "schema": {"type": "string"}, "description": "ISO 8601 timestamp or an age: 30m, 1h, 24h, 7d, 30d"},
          {"name": "until", "in": "query", "schema": {"type": "string"}},
          {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Text in the query or its error"},
          {"name": "skip", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
          {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
        ],
        "responses": {
          "200": {"description": "Matching log rows, newest first", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/QueryLogPage"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Unauthorized"}
        }
      }
    },
    "/api/openapi.json": {
      "get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}
    }
  }
})json";

}  // namespace

std::string_view openapi_document() { return document; }

}  // namespace mcp::bridge
