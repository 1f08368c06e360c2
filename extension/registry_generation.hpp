// The registry's generation: a counter in shared memory that every committed change to the
// tables behind a dataset's record and its access check moves (datasets, their profiles,
// grants, group members, API keys, role mappings, settings: a statement trigger on each,
// extension/sql/79_registry_generation.sql). A backend keeps what it read from them for a
// call (load_dataset, the profile's facts) under the generation, and reads again only once
// the generation has moved, instead of on every call.
//
// What is kept must have been read by a snapshot that saw every change counted so far: a
// change is counted after its commit, and the writer's transaction id is kept beside the
// count, so a snapshot is trusted only when that transaction had ended before it was taken.
// A transaction that changed these tables itself keeps nothing and uses nothing kept; nor
// does a standby, which replays changes without triggers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

namespace mcp::ext::registry_generation {

// From _PG_init: the counter's shared memory (shared_preload_libraries only; without it
// nothing is kept and every call reads the tables).
void register_at_preload();

// The generation what this call reads now may be kept under, or nullopt when it may not be
// kept, nor anything kept be used (no shared memory, this transaction changed the
// registry, or its snapshot is older than the last counted change).
std::optional<std::uint64_t> current();

// What a backend read from the registry, per key, kept while the generation stays where it
// was when it was read; at most `bound` keys (then it starts again).
template <typename Key, typename Value>
class Kept {
public:
    explicit Kept(std::size_t bound) : bound_(bound) {}

    // The value kept for `key`, else read(key), kept when current() allows.
    template <typename Read>
    Value get(const Key& key, Read&& read) {
        const std::optional<std::uint64_t> generation = current();
        if (!generation) return read(key);
        auto found = values_.find(key);
        if (found != values_.end() && found->second.first == *generation) return found->second.second;
        Value value = read(key);
        if (values_.size() >= bound_) values_.clear();
        values_[key] = std::make_pair(*generation, value);
        return value;
    }

private:
    std::size_t bound_;
    std::map<Key, std::pair<std::uint64_t, Value>> values_;
};

}  // namespace mcp::ext::registry_generation
