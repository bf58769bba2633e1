#include "api/error_mapping.hpp"

#include <algorithm>
#include <string>

#include "domain/queue.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;

using domain::ErrorCode;

ErrorSpec error_spec(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument: return {400, "INVALID_ARGUMENT"};
    case ErrorCode::kPowRequired: return {400, "POW_REQUIRED"};
    case ErrorCode::kPowInvalid: return {400, "POW_INVALID"};
    case ErrorCode::kPowExpired: return {400, "POW_EXPIRED"};
    case ErrorCode::kUnauthenticated: return {401, "UNAUTHENTICATED"};
    case ErrorCode::kInvalidCredentials: return {401, "INVALID_CREDENTIALS"};
    case ErrorCode::kForbidden: return {403, "FORBIDDEN"};
    case ErrorCode::kNotFound: return {404, "NOT_FOUND"};
    case ErrorCode::kRouteNotFound: return {404, "NOT_FOUND"};
    case ErrorCode::kMethodNotAllowed: return {405, "METHOD_NOT_ALLOWED"};
    case ErrorCode::kConflict: return {409, "CONFLICT"};
    case ErrorCode::kEmailTaken: return {409, "EMAIL_TAKEN"};
    case ErrorCode::kBookingNotOpen: return {409, "BOOKING_NOT_OPEN"};
    case ErrorCode::kSaleClosed: return {409, "SALE_CLOSED"};
    case ErrorCode::kSeatAlreadyHeld: return {409, "SEAT_ALREADY_HELD"};
    case ErrorCode::kSeatInPayment: return {409, "SEAT_IN_PAYMENT"};
    case ErrorCode::kHoldLimitExceeded: return {409, "HOLD_LIMIT_EXCEEDED"};
    case ErrorCode::kIdempotencyInProgress: return {409, "IDEMPOTENCY_IN_PROGRESS"};
    case ErrorCode::kPowReused: return {409, "POW_REUSED"};
    case ErrorCode::kPayloadTooLarge: return {413, "PAYLOAD_TOO_LARGE"};
    case ErrorCode::kUnsupportedMediaType: return {415, "UNSUPPORTED_MEDIA_TYPE"};
    case ErrorCode::kIdempotencyKeyReused: return {422, "IDEMPOTENCY_KEY_REUSED"};
    case ErrorCode::kUndecodableEvent: return {422, "UNDECODABLE_EVENT"};
    case ErrorCode::kTooManyRequests: return {429, "TOO_MANY_REQUESTS"};
    case ErrorCode::kHeaderTooLarge: return {431, "REQUEST_HEADER_FIELDS_TOO_LARGE"};
    case ErrorCode::kInternal: return {500, "INTERNAL"};
    case ErrorCode::kNotImplemented: return {501, "NOT_IMPLEMENTED"};
    case ErrorCode::kDependencyUnavailable: return {503, "SERVICE_UNAVAILABLE"};
  }
  return {500, "INTERNAL"};
}

namespace {

// What the client is told. For 500 and 503 the exception's text names hosts, users, SQL or driver
// errors ("Access denied for user 'x'@'10.0.0.5'"): it goes to the log under the request id (the
// dispatcher does that) and the client gets a generic sentence carrying only that id.
std::string client_message(const domain::DomainError& error, const ApiRequest& request) {
  std::string_view generic;
  switch (error.code()) {
    case ErrorCode::kDependencyUnavailable: generic = "a service this request needs is unavailable; retry later"; break;
    case ErrorCode::kInternal: generic = "internal error"; break;
    default: return error.message();
  }
  std::string message(generic);
  if (!request.request_id.empty()) message += " (request id " + request.request_id + ")";
  return message;
}

}  // namespace

ApiResponse error_response(const domain::DomainError& error, const ApiRequest& request,
                           std::optional<std::int64_t> poll_after_ms) {
  const ErrorSpec spec = error_spec(error.code());
  JsonWriter json;
  json.begin_object()
      .key("code")
      .string(spec.code)
      .key("message")
      .string(client_message(error, request))
      .key("status")
      .integer(spec.status)
      .key("path")
      .string(request.path)
      .key("requestId")
      .string(request.request_id)
      .key("errors")
      .begin_array();
  for (const auto& field : error.errors()) {
    json.begin_object().key("field").string(field.field).key("reason").string(field.reason).end_object();
  }
  json.end_array();
  if (const auto* conflict = dynamic_cast<const domain::SeatConflict*>(&error)) {
    json.key("conflictingSeats").begin_array();
    for (const auto& seat : conflict->seats()) json.string(seat);
    json.end_array();
  }
  if (poll_after_ms) json.key("pollAfterMs").integer(*poll_after_ms);
  json.end_object();
  ApiResponse response = json_response(spec.status, std::move(json).str());
  if (const auto* later = dynamic_cast<const domain::RetryLater*>(&error)) {
    response.headers.push_back({"Retry-After", std::to_string(later->retry_after().count())});
  } else if (spec.status == 503 || spec.status == 429 || dynamic_cast<const domain::Contention*>(&error) != nullptr) {
    response.headers.push_back({"Retry-After", "1"});
  }
  // RFC 9110 §11.6.1 / RFC 6750 §3: a 401 names the scheme that would succeed.
  if (spec.status == 401) response.headers.push_back({"WWW-Authenticate", "Bearer"});
  return response;
}

std::int64_t poll_advice_of(const domain::DomainError& error) {
  const auto* later = dynamic_cast<const domain::RetryLater*>(&error);
  return later != nullptr ? std::max<std::int64_t>(later->retry_after().count() * 1000, domain::kMinPollMs)
                          : domain::kMinPollMs;
}

ApiResponse error_response(ErrorCode code, std::string_view message, const ApiRequest& request) {
  return error_response(domain::DomainError(code, std::string(message)), request);
}

}  // namespace ticketing::api
