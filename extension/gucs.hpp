// Configuration parameters (GUCs) of the extension, defined in module.cpp.
#pragma once

extern "C" {
extern char* mcp_key_file;         // mcp_analytics.key_file: AES-256 key, superuser-only
extern int mcp_connect_timeout_s;  // mcp_analytics.connect_timeout: dataset connections
}

namespace mcp::ext {
void define_gucs();
}
