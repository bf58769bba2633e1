#include "api/request_params.hpp"
#include "api/routes.hpp"
#include "application/catalog_queries.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

Task<ApiResponse> list_concerts(application::CatalogQueries& catalog) {
  const auto concerts = co_await catalog.list_concerts();
  JsonWriter json;
  json.begin_array();
  for (const auto& concert : concerts) {
    json.begin_object()
        .key("id")
        .integer(concert.id.value)
        .key("title")
        .string(concert.title)
        .key("description")
        .string(concert.description)
        .end_object();
  }
  json.end_array();
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> list_schedules(application::CatalogQueries& catalog, const ApiRequest& request) {
  const domain::ConcertId concert{path_id(request, "id")};
  const auto schedules = co_await catalog.list_schedules(concert);
  JsonWriter json;
  json.begin_array();
  for (const auto& [schedule, tiers] : schedules) {
    json.begin_object()
        .key("id")
        .integer(schedule.id.value)
        .key("concertId")
        .integer(schedule.concert_id.value)
        .key("showAt")
        .string(domain::to_iso8601(schedule.show_at))
        .key("bookingOpensAt")
        .string(domain::to_iso8601(schedule.booking_opens_at))
        .key("prequeueOpensAt");
    if (schedule.prequeue_opens_at) {
      json.string(domain::to_iso8601(*schedule.prequeue_opens_at));
    } else {
      json.null();
    }
    json.key("saleState").string(domain::to_string(schedule.sale_state)).key("priceTiers").begin_array();
    for (const auto& tier : tiers) {
      json.begin_object().key("price").raw_number(tier.price.to_decimal_string()).key("sections").begin_array();
      for (const auto& section : tier.sections) json.string(section);
      json.end_array().end_object();
    }
    json.end_array().end_object();
  }
  json.end_array();
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> seat_map(application::CatalogQueries& catalog, const ApiRequest& request) {
  const domain::ScheduleId schedule{path_id(request, "id")};
  const auto map = co_await catalog.seat_map(schedule);
  JsonWriter json;
  json.reserve(64 + map.seats.size() * 72);
  json.begin_object().key("scheduleId").integer(map.schedule_id.value).key("seats").begin_array();
  for (const auto& seat : map.seats) {
    json.begin_object()
        .key("seatNo")
        .string(seat.seat_no)
        .key("section")
        .string(seat.section)
        .key("price")
        .raw_number(seat.price.to_decimal_string())
        .key("status")
        .string(domain::to_string(seat.status))
        .end_object();
  }
  json.end_array().end_object();
  co_return json_response(200, std::move(json).str());
}

}  // namespace

void add_catalog_routes(Router& router, application::CatalogQueries& catalog) {
  router.add(Method::kGet, "/concerts", [&catalog](ApiRequest&) { return list_concerts(catalog); });
  router.add(Method::kGet, "/concerts/{id}/schedules",
             [&catalog](ApiRequest& request) { return list_schedules(catalog, request); });
  router.add(Method::kGet, "/schedules/{id}/seats",
             [&catalog](ApiRequest& request) { return seat_map(catalog, request); });
}

}  // namespace ticketing::api
