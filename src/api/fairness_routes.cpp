// GET /schedules/{id}/fairness: the pre-queue shuffle's commitment, and after the opening its seed
// and sorted order (DESIGN.md §15, docs/queue.md). Anonymous, like the seat map.
#include "api/request_params.hpp"
#include "api/routes.hpp"
#include "application/fair_start.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

void optional_string(JsonWriter& json, std::string_view key, const std::optional<std::string>& value) {
  json.key(key);
  if (value) {
    json.string(*value);
  } else {
    json.null();
  }
}

void optional_time(JsonWriter& json, std::string_view key, const std::optional<domain::Timestamp>& value) {
  optional_string(json, key, value ? std::optional<std::string>(domain::to_iso8601(*value)) : std::nullopt);
}

Task<ApiResponse> fairness(application::FairStart& fair_start, const ApiRequest& request) {
  const domain::ScheduleId schedule{path_id(request, "id")};
  const auto found = co_await fair_start.fairness(schedule);
  const auto& view = *found;
  JsonWriter json;
  json.reserve(256 + view.order.size() * 67);
  json.begin_object().key("scheduleId").integer(view.schedule.value);
  optional_time(json, "prequeueOpensAt", view.prequeue_opens_at);
  json.key("opensAt").string(domain::to_iso8601(view.opens_at)).key("phase").string(domain::to_string(view.phase));
  json.key("algorithm")
      .string(
          "order = HMAC-SHA256(key = seed bytes, message = decimal user id) ascending; "
          "commitment = SHA-256(seed bytes)");
  optional_string(json, "commitment", view.commitment);
  optional_string(json, "seed", view.seed);
  optional_time(json, "appliedAt", view.applied_at);
  json.key("preQueued").integer(view.pre_queued).key("late").integer(view.late);
  json.key("order").begin_array();
  for (const auto& mac : view.order) json.string(mac);
  json.end_array().end_object();
  auto response = json_response(200, std::move(json).str());
  // Once applied the reveal never changes (caches and CDNs may keep it); before, it will.
  response.headers.push_back({"Cache-Control", view.applied_at ? "public, max-age=3600" : "no-cache"});
  co_return response;
}

}  // namespace

void add_fairness_routes(Router& router, application::FairStart& fair_start) {
  router.add(Method::kGet, "/schedules/{id}/fairness",
             [&fair_start](ApiRequest& request) { return fairness(fair_start, request); });
}

}  // namespace ticketing::api
