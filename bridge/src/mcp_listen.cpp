#include "mcp_listen.hpp"

#include <algorithm>
#include <cstdlib>

#include "event_streams.hpp"
#include "json.hpp"
#include "mcp_modern.hpp"
#include "mcp_protocol.hpp"

namespace mcp::bridge {

std::optional<ListenFilter> ListenFilter::from_params(const rapidjson::Value& params,
                                                      std::string& problem) {
    ListenFilter filter;
    const auto notifications =
        params.IsObject() ? params.FindMember("notifications") : rapidjson::Value::ConstMemberIterator();
    if (!params.IsObject() || notifications == params.MemberEnd() ||
        !notifications->value.IsObject()) {
        problem = "notifications (an object naming what to receive) is required";
        return std::nullopt;
    }
    const rapidjson::Value& wanted = notifications->value;
    auto flag = [&](const char* key, bool& out) {
        const auto member = wanted.FindMember(key);
        if (member == wanted.MemberEnd()) {
            return true;
        }
        if (!member->value.IsBool()) {
            problem = std::string("notifications.") + key + " must be a boolean";
            return false;
        }
        out = member->value.GetBool();
        return true;
    };
    if (!flag("toolsListChanged", filter.tools_list_changed) ||
        !flag("promptsListChanged", filter.prompts_list_changed) ||
        !flag("resourcesListChanged", filter.resources_list_changed)) {
        return std::nullopt;
    }
    if (const auto uris = wanted.FindMember("resourceSubscriptions"); uris != wanted.MemberEnd()) {
        if (!uris->value.IsArray() || uris->value.Size() > ListenHub::max_resource_uris) {
            problem = "notifications.resourceSubscriptions must be a list of at most 1000 URIs";
            return std::nullopt;
        }
        for (const auto& uri : uris->value.GetArray()) {
            if (!uri.IsString() || uri.GetStringLength() == 0 || uri.GetStringLength() > 1000) {
                problem = "notifications.resourceSubscriptions must hold URI strings";
                return std::nullopt;
            }
            filter.resource_uris.emplace_back(uri.GetString(), uri.GetStringLength());
        }
    }
    return filter;
}

std::string ListenFilter::to_json() const {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    writer.Key("toolsListChanged");
    writer.Bool(tools_list_changed);
    writer.Key("promptsListChanged");
    writer.Bool(prompts_list_changed);
    writer.Key("resourcesListChanged");
    writer.Bool(resources_list_changed);
    writer.Key("resourceSubscriptions");
    writer.StartArray();
    for (const auto& uri : resource_uris) {
        writer.String(uri.c_str(), static_cast<rapidjson::SizeType>(uri.size()));
    }
    writer.EndArray();
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string listen_notification(const std::string& method, const std::string& subscription_id_json,
                                const std::string& params_json) {
    const std::string members = std::string("\"_meta\":{\"") + meta_key::subscription_id +
                                "\":" + subscription_id_json + "}";
    return rpc_notification(method, add_result_members(params_json, members));
}

std::shared_ptr<EventChannel> ListenHub::open(ListenFilter filter,
                                             std::string subscription_id_json) {
    // The listen stream has no session; the channel's name only shows in diagnostics.
    auto channel = std::make_shared<EventChannel>("listen");
    channel->push(listen_notification("notifications/subscriptions/acknowledged",
                                      subscription_id_json,
                                      "{\"notifications\":" + filter.to_json() + "}"));
    std::lock_guard<std::mutex> lock(mutex_);
    listeners_.push_back(Listener{channel, std::move(filter), std::move(subscription_id_json)});
    return channel;
}

std::vector<ListenHub::Listener> ListenHub::live_locked() {
    std::vector<Listener> kept;
    for (auto& listener : listeners_) {
        if (auto channel = listener.channel.lock(); channel && !channel->closed()) {
            kept.push_back(listener);
        }
    }
    listeners_ = kept;
    return kept;
}

std::size_t ListenHub::list_changed(const std::string& method) {
    std::vector<Listener> targets;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        targets = live_locked();
    }
    std::size_t sent = 0;
    for (const auto& listener : targets) {
        const bool wanted =
            (method == "notifications/tools/list_changed" && listener.filter.tools_list_changed) ||
            (method == "notifications/prompts/list_changed" && listener.filter.prompts_list_changed) ||
            (method == "notifications/resources/list_changed" &&
             listener.filter.resources_list_changed);
        if (!wanted) {
            continue;
        }
        if (auto channel = listener.channel.lock()) {
            sent += channel->push(listen_notification(method, listener.subscription_id_json)) ? 1 : 0;
        }
    }
    return sent;
}

bool ListenHub::uri_concerns(const std::string& uri, const std::vector<int>& dataset_ids) {
    constexpr std::string_view catalog = "mcp-analytics://datasets";
    if (uri == catalog) {
        return true;
    }
    if (uri.size() <= catalog.size() + 1 || uri.compare(0, catalog.size(), catalog) != 0 ||
        uri[catalog.size()] != '/') {
        return false;
    }
    const std::size_t digits_at = catalog.size() + 1;
    const std::size_t slash = uri.find('/', digits_at);
    const std::string digits = uri.substr(digits_at, slash == std::string::npos ? std::string::npos
                                                                                : slash - digits_at);
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
        return false;
    }
    const int id = std::atoi(digits.c_str());
    return std::find(dataset_ids.begin(), dataset_ids.end(), id) != dataset_ids.end();
}

std::size_t ListenHub::resources_changed(const std::vector<int>& dataset_ids) {
    if (dataset_ids.empty()) {
        return 0;
    }
    std::vector<Listener> targets;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        targets = live_locked();
    }
    std::size_t sent = 0;
    for (const auto& listener : targets) {
        auto channel = listener.channel.lock();
        if (!channel) {
            continue;
        }
        for (const auto& uri : listener.filter.resource_uris) {
            if (!uri_concerns(uri, dataset_ids)) {
                continue;
            }
            rapidjson::StringBuffer buffer;
            JsonWriter writer(buffer);
            writer.StartObject();
            write_key_string(writer, "uri", uri);
            writer.EndObject();
            sent += channel->push(listen_notification(
                        "notifications/resources/updated", listener.subscription_id_json,
                        std::string(buffer.GetString(), buffer.GetSize())))
                        ? 1
                        : 0;
        }
    }
    return sent;
}

std::size_t ListenHub::open_streams() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<std::size_t>(std::count_if(listeners_.begin(), listeners_.end(), [](const Listener& l) {
        auto channel = l.channel.lock();
        return channel && !channel->closed();
    }));
}

void ListenHub::close_all() {
    std::vector<Listener> all;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        all.swap(listeners_);
    }
    for (const auto& listener : all) {
        if (auto channel = listener.channel.lock()) {
            channel->close();
        }
    }
}

}  // namespace mcp::bridge
