#include "shared_struct.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

#include <cstring>

namespace mcp::ext {

namespace {

struct Registration {
    const char* name;
    Size size;
    void (*on_create)(void*);
    void** where;
};

constexpr int kMaxStructs = 8;
Registration registrations[kMaxStructs];
int registered = 0;

shmem_startup_hook_type previous_shmem_startup = nullptr;
#if PG_VERSION_NUM >= 150000
shmem_request_hook_type previous_shmem_request = nullptr;
#endif

void request_all() {
#if PG_VERSION_NUM >= 150000
    if (previous_shmem_request != nullptr) previous_shmem_request();
#endif
    for (int i = 0; i < registered; ++i) RequestAddinShmemSpace(MAXALIGN(registrations[i].size));
}

void create_all() {
    if (previous_shmem_startup != nullptr) previous_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    for (int i = 0; i < registered; ++i) {
        const Registration& r = registrations[i];
        bool found = false;
        void* bytes = ShmemInitStruct(r.name, r.size, &found);
        if (!found) {
            std::memset(bytes, 0, r.size);
            r.on_create(bytes);
        }
        *r.where = bytes;
    }
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void register_shared_struct(const char* name, Size size, void (*on_create)(void*), void** where) {
    if (!process_shared_preload_libraries_in_progress) return;
    if (registered == kMaxStructs) elog(ERROR, "mcp_analytics registers more than %d shared structs", kMaxStructs);
    if (registered == 0) {
#if PG_VERSION_NUM >= 150000
        previous_shmem_request = shmem_request_hook;
        shmem_request_hook = request_all;
#endif
        previous_shmem_startup = shmem_startup_hook;
        shmem_startup_hook = create_all;
    }
    registrations[registered++] = {name, size, on_create, where};
#if PG_VERSION_NUM < 150000
    RequestAddinShmemSpace(MAXALIGN(size));
#endif
}

}  // namespace mcp::ext
