#include "api/identity.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "application/hold_service.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

// The JSON array may hold more than hold.max-seats-per-user; the service says 400 with the limit.
constexpr std::size_t kMaxSeatsInBody = 64;
constexpr std::size_t kMaxSeatNoLength = 64;

struct SeatRequest {
  domain::ScheduleId schedule;
  std::vector<std::string> seat_nos;
};

SeatRequest read_seat_request(const ApiRequest& request) {
  auto body = JsonBody::parse(request, {"scheduleId", "seatNos"});
  const auto schedule_id = body.id("scheduleId");
  auto seat_nos = body.string_array("seatNos", 1, kMaxSeatsInBody, kMaxSeatNoLength);
  body.done();
  return SeatRequest{domain::ScheduleId{schedule_id}, std::move(seat_nos)};
}

// The body, read inside the admission check: a bad one (400) or one for another schedule (403) is
// refused after the token's 401s and extends no slot.
application::AdmissionGuard::InputCheck seat_request_check(const ApiRequest& request, SeatRequest& out) {
  return [&request, &out](const domain::AdmissionClaims& claims) {
    out = read_seat_request(request);
    // Malformed or repeated seat numbers; how many the schedule allows is the service's to say.
    application::AdmissionGuard::require_seat_request(claims, out.schedule, out.seat_nos,
                                                      static_cast<int>(kMaxSeatsInBody));
  };
}

Task<ApiResponse> hold(application::HoldService& holds, const ApiRequest& request) {
  const auto token = queue_token(request);  // named: no non-trivial temporaries inside co_await (GCC 12)
  SeatRequest seat_request;
  const auto check = seat_request_check(request, seat_request);
  const auto admission = co_await holds.admit(token, acting_user(request), check);
  const auto view = co_await holds.hold_seats(admission, seat_request.schedule, seat_request.seat_nos);
  JsonWriter json;
  json.begin_object().key("reservationIds").begin_array();
  for (const auto& seat : view.seats) json.integer(seat.id.value);
  json.end_array().key("seatNos").begin_array();
  for (const auto& seat : view.seats) json.string(seat.seat_no);
  json.end_array().key("expiresAt").string(domain::to_iso8601(view.expires_at)).end_object();
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> release(application::HoldService& holds, const ApiRequest& request) {
  const auto token = queue_token(request);
  SeatRequest seat_request;
  const auto check = seat_request_check(request, seat_request);
  const auto admission = co_await holds.admit(token, acting_user(request), check);
  const auto released = co_await holds.release_seats(admission, seat_request.schedule, seat_request.seat_nos);
  JsonWriter json;
  json.begin_object().key("released").begin_array();
  for (const auto& seat : released) json.string(seat);
  json.end_array().end_object();
  co_return json_response(200, std::move(json).str());
}

}  // namespace

void add_ticket_routes(Router& router, application::HoldService& holds) {
  const HeaderCheck admitted = [&holds](const ApiRequest& request) {
    holds.authenticate(queue_token(request), acting_user(request));
  };
  const StoreCheck live_slot = [&holds](const ApiRequest& request) -> Task<void> {
    const auto token = queue_token(request);
    co_await holds.require_live_slot(token, acting_user(request));
  };
  router.add(
      Method::kPost, "/tickets/hold", [&holds](ApiRequest& request) { return hold(holds, request); }, Access::kSignedIn,
      admitted, live_slot);
  router.add(
      Method::kPost, "/tickets/release", [&holds](ApiRequest& request) { return release(holds, request); },
      Access::kSignedIn, admitted, live_slot);
}

}  // namespace ticketing::api
