#include <memory>
#include <mutex>
#include <unordered_map>

#include "api/request_params.hpp"
#include "api/routes.hpp"
#include "application/catalog_queries.hpp"
#include "support/etag.hpp"
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

// A seat's fields common to the seat map and the layout (the layout is the map without `status`).
JsonWriter& seat_fields(JsonWriter& json, std::string_view seat_no, std::string_view section, domain::Money price) {
  return json.key("seatNo").string(seat_no).key("section").string(section).key("price").raw_number(
      price.to_decimal_string());
}

Task<ApiResponse> seat_map(application::CatalogQueries& catalog, const ApiRequest& request) {
  const domain::ScheduleId schedule{path_id(request, "id")};
  const auto map = co_await catalog.seat_map(schedule);
  JsonWriter json;
  json.reserve(64 + map.seats.size() * 72);
  json.begin_object().key("scheduleId").integer(map.schedule_id.value).key("seats").begin_array();
  for (const auto& seat : map.seats) {
    seat_fields(json.begin_object(), seat.seat_no, seat.section, seat.price)
        .key("status")
        .string(domain::to_string(seat.status))
        .end_object();
  }
  json.end_array().end_object();
  co_return json_response(200, std::move(json).str());
}

// Each schedule's layout as JSON, written once per cached layout (10,000 seats are ~450 KB and a
// few ms to write) and shared by every answer until the cache loads the layout again.
class LayoutDocuments {
 public:
  struct Document {
    std::string body;
    std::string etag;
  };

  std::shared_ptr<const Document> document(domain::ScheduleId schedule, const domain::SeatLayoutSeats& seats) {
    {
      std::lock_guard lock(mutex_);
      const auto found = entries_.find(schedule.value);
      if (found != entries_.end() && found->second.source.lock() == seats) return found->second.document;
    }
    auto document = std::make_shared<Document>(Document{write(schedule, *seats), {}});
    // Strong: the same bytes get the same tag on every instance and after every reload.
    document->etag = support::etag_of(document->body);
    std::lock_guard lock(mutex_);
    // A document whose layout the cache let go is not kept for a schedule nobody asks for again.
    std::erase_if(entries_, [](const auto& entry) { return entry.second.source.expired(); });
    if (entries_.size() >= kMaxEntries) entries_.clear();  // a bound, not a policy: the cache has its own
    entries_[schedule.value] = Entry{seats, document};
    return document;
  }

 private:
  static constexpr std::size_t kMaxEntries = 1024;
  struct Entry {
    std::weak_ptr<const std::vector<domain::ScheduleSeat>> source;
    std::shared_ptr<const Document> document;
  };

  static std::string write(domain::ScheduleId schedule, const std::vector<domain::ScheduleSeat>& seats) {
    JsonWriter json;
    json.reserve(64 + seats.size() * 56);
    json.begin_object().key("scheduleId").integer(schedule.value).key("seats").begin_array();
    for (const auto& seat : seats) {
      seat_fields(json.begin_object(), seat.seat_no, seat.section, seat.price).end_object();
    }
    json.end_array().end_object();
    return std::move(json).str();
  }

  std::mutex mutex_;
  std::unordered_map<std::int64_t, Entry> entries_;
};

Task<ApiResponse> seat_layout(application::CatalogQueries& catalog, LayoutDocuments& documents,
                              const ApiRequest& request) {
  const domain::ScheduleId schedule{path_id(request, "id")};
  const auto seats = co_await catalog.seat_layout(schedule);
  const auto document = documents.document(schedule, seats);
  ApiResponse response;
  response.headers.push_back({"ETag", document->etag});
  response.headers.push_back({"Cache-Control", "no-cache"});  // revalidated: a 304 is a few bytes
  if (const auto* if_none_match = request.header("If-None-Match");
      if_none_match != nullptr && etag_matches(*if_none_match, document->etag)) {
    response.status = 304;
    response.content_type.clear();
    co_return response;
  }
  response.body = document->body;
  co_return response;
}

}  // namespace

void add_catalog_routes(Router& router, application::CatalogQueries& catalog) {
  router.add(Method::kGet, "/concerts", [&catalog](ApiRequest&) { return list_concerts(catalog); });
  router.add(Method::kGet, "/concerts/{id}/schedules",
             [&catalog](ApiRequest& request) { return list_schedules(catalog, request); });
  router.add(Method::kGet, "/schedules/{id}/seats",
             [&catalog](ApiRequest& request) { return seat_map(catalog, request); });
  router.add(Method::kGet, "/schedules/{id}/layout",
             [&catalog, documents = std::make_shared<LayoutDocuments>()](ApiRequest& request) {
               return seat_layout(catalog, *documents, request);
             });
}

}  // namespace ticketing::api
