#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

namespace mcp::bridge {

class EventChannel;

// What a 2026-07-28 subscriptions/listen request opted in to (params.notifications).
struct ListenFilter {
    bool tools_list_changed = false;
    bool prompts_list_changed = false;
    bool resources_list_changed = false;
    std::vector<std::string> resource_uris;  // resourceSubscriptions

    // The filter of a request's params, or nullopt with `problem` set when it is malformed.
    static std::optional<ListenFilter> from_params(const rapidjson::Value& params,
                                                   std::string& problem);
    std::string to_json() const;
};

// The open subscriptions/listen streams of this bridge. They hold no session: each stream
// is one request's response, tagged with that request's id as its subscription id, and
// carries only the notifications its filter names. The stream lives on this bridge, so the
// filter can too (no database state).
class ListenHub {
public:
    static constexpr std::size_t max_resource_uris = 1000;

    // A new stream; the acknowledgement is already queued on it.
    std::shared_ptr<EventChannel> open(ListenFilter filter, std::string subscription_id_json);

    // notifications/{tools,prompts,resources}/list_changed to the streams that asked.
    std::size_t list_changed(const std::string& method);
    // notifications/resources/updated for subscribed URIs of these datasets (their
    // overview, schema, tables), and for the dataset catalog.
    std::size_t resources_changed(const std::vector<int>& dataset_ids);

    std::size_t open_streams() const;
    void close_all();

    // Whether a resource URI belongs to one of the datasets (or is the catalog).
    static bool uri_concerns(const std::string& uri, const std::vector<int>& dataset_ids);

private:
    struct Listener {
        std::weak_ptr<EventChannel> channel;
        ListenFilter filter;
        std::string subscription_id_json;
    };
    std::vector<Listener> live_locked();

    mutable std::mutex mutex_;
    std::vector<Listener> listeners_;
};

// A notification whose params carry _meta.io.modelcontextprotocol/subscriptionId; `params`
// is a JSON object (its members are kept).
std::string listen_notification(const std::string& method, const std::string& subscription_id_json,
                                const std::string& params_json = "{}");

}  // namespace mcp::bridge
