// A fixed-size struct in shared memory, made once at server start. Only while
// shared_preload_libraries is processed: loaded later, the struct does not exist and the
// pointer stays null (callers then do without).
#pragma once

extern "C" {
#include "postgres.h"
}

namespace mcp::ext {

// Asks for `size` bytes named `name`; at startup `*where` points at them in every process
// (null without preloading), and `on_create` runs once on the zeroed bytes to initialise
// them (locks, condition variables). Call from _PG_init; at most eight structs.
void register_shared_struct(const char* name, Size size, void (*on_create)(void*), void** where);

}  // namespace mcp::ext
