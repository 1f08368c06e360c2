#include "responses.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace mcp::bridge {

Response json_response(http::status status, std::string body) {
    Response response{status, 11};
    response.set(http::field::content_type, "application/json");
    response.body() = std::move(body);
    return response;
}

Response json_error(http::status status, std::string_view message) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.StartObject();
    writer.Key("error");
    writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
    writer.EndObject();
    return json_response(status, std::string(buffer.GetString(), buffer.GetSize()));
}

void apply_common_headers(Response& response) {
    // Health and API answers describe the present moment; a cached copy would lie.
    response.set(http::field::cache_control, "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    if (response.find(http::field::content_type) == response.end()) {
        response.set(http::field::content_type, "application/octet-stream");
    }
}

}  // namespace mcp::bridge
