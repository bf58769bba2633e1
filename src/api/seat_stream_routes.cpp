// GET /schedules/{id}/seats/stream (DESIGN.md §13, docs/live-seat-map.md): validation and headers
// here, everything else in web::SeatMapStreams.
#include "api/request_params.hpp"
#include "api/routes.hpp"
#include "web/seat_map_stream.hpp"

namespace ticketing::api {
namespace {

// The client's Last-Event-ID: the header (what EventSource sends on a reconnect), else the
// `lastEventId` query parameter (clients that cannot set headers). Garbage counts as absent.
std::optional<std::int64_t> last_event_id(const ApiRequest& request) {
  if (const std::string* header = request.header("Last-Event-ID")) return web::parse_last_event_id(*header);
  const auto query = query_param(request, "lastEventId");
  return query ? web::parse_last_event_id(*query) : std::nullopt;
}

Task<ApiResponse> stream_seats(web::SeatMapStreams& streams, const ApiRequest& request) {
  const domain::ScheduleId schedule{path_id(request, "id")};
  const auto resume_from = last_event_id(request);
  ApiResponse response;
  response.status = 200;
  response.content_type = "text/event-stream";
  response.headers.push_back({"Cache-Control", "no-cache"});
  response.headers.push_back({"X-Accel-Buffering", "no"});
  if (request.method == Method::kHead) {
    co_await streams.check(schedule);
    response.head_of_stream = true;
    co_return response;
  }
  response.stream = co_await streams.open(schedule, resume_from);
  co_return response;
}

}  // namespace

void add_seat_stream_routes(Router& router, web::SeatMapStreams& streams) {
  router.add(Method::kGet, "/schedules/{id}/seats/stream",
             [&streams](ApiRequest& request) { return stream_seats(streams, request); });
}

}  // namespace ticketing::api
