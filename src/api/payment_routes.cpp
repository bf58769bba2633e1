#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "api/identity.hpp"
#include "api/json_body.hpp"
#include "api/request_params.hpp"
#include "api/routes.hpp"
#include "application/payment_service.hpp"
#include "domain/catalog.hpp"
#include "domain/errors.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

std::optional<std::string> header_value(const ApiRequest& request, std::string_view name) {
  const std::string* value = request.header(name);
  return value ? std::optional<std::string>(*value) : std::nullopt;
}

// The 201 body of /payment/ready. A pure function of the order as created, so a replay with the
// same Idempotency-Key is byte for byte the first response.
std::string ready_body(const domain::PaymentOrder& order) {
  JsonWriter json;
  json.begin_object()
      .key("orderNo")
      .string(order.order_no)
      .key("amount")
      .raw_number(order.amount.to_decimal_string())
      .key("status")
      .string(domain::to_string(domain::OrderStatus::kReady))
      .key("expiresAt")
      .string(domain::to_iso8601(order.expires_at))
      .end_object();
  return std::move(json).str();
}

void write_status(JsonWriter& json, const domain::PaymentOrder& order) {
  json.key("orderNo").string(order.order_no).key("status").string(domain::to_string(order.status));
  json.key("failReason");
  if (order.fail_reason) {
    json.string(*order.fail_reason);
  } else {
    json.null();
  }
}

Task<ApiResponse> ready(application::PaymentService& payments, const ApiRequest& request) {
  const auto token = queue_token(request);
  // The body and the Idempotency-Key are read inside the admission check: 401/403 for the token
  // come first, and a bad request (400, or 403 for another schedule) extends no slot.
  std::int64_t schedule_id = 0;
  std::vector<std::string> seat_nos;
  std::optional<std::string> key;
  const application::AdmissionGuard::InputCheck check = [&](const domain::AdmissionClaims& claims) {
    auto body = JsonBody::parse(request, {"scheduleId", "seatNos"});
    schedule_id = body.id("scheduleId");
    seat_nos = body.string_array("seatNos", 1, 64, 64);
    body.done();
    application::AdmissionGuard::require_seat_request(claims, domain::ScheduleId{schedule_id}, seat_nos,
                                                      application::PaymentService::kMaxSeatsPerOrder);
    if (request.header_count("Idempotency-Key") > 1)
      throw domain::invalid_argument("Idempotency-Key", "must be sent once");
    key = header_value(request, "Idempotency-Key");
    application::PaymentService::require_idempotency_key(key);
  };
  const auto admission = co_await payments.admit(token, acting_user(request), check);
  const auto result = co_await payments.ready(admission, key, domain::ScheduleId{schedule_id}, seat_nos);
  co_return json_response(201, ready_body(result.order));
}

// 202: this call recorded the payment (the booking is being confirmed, or — for an order already
// cancelled — refunded); 200: a repeat, nothing new was recorded.
ApiResponse payment_recorded_response(const domain::PaymentRecord& record) {
  JsonWriter json;
  json.begin_object();
  write_status(json, record.order);
  json.end_object();
  const bool recorded_now = record.kind == domain::PaymentRecord::Kind::kRecorded ||
                            record.kind == domain::PaymentRecord::Kind::kRefundRequested;
  return json_response(recorded_now ? 202 : 200, std::move(json).str());
}

// What the gateway callback's header alone decides (auth before the body, DESIGN.md §5): two
// signatures or secrets (which one vouches for the body?) and no credential at all are 401, and so
// is a wrong plain secret (dev profile) when no signature comes with it; a signature needs the body.
void check_gateway_header(const application::PaymentService& payments, const ApiRequest& request) {
  for (const char* credential : {"Gateway-Signature", "X-Gateway-Secret"}) {
    if (request.header_count(credential) > 1) {
      throw domain::DomainError(domain::ErrorCode::kUnauthenticated,
                                fmt::format("more than one {} header", credential));
    }
  }
  if (request.header("Gateway-Signature") == nullptr) {
    payments.authenticate_gateway(
        application::GatewayCallback{std::nullopt, header_value(request, "X-Gateway-Secret"), std::string()});
  }
}

Task<ApiResponse> mock_success(application::PaymentService& payments, const ApiRequest& request) {
  check_gateway_header(payments, request);
  const application::GatewayCallback callback{header_value(request, "Gateway-Signature"),
                                              header_value(request, "X-Gateway-Secret"), request.body};
  payments.authenticate_gateway(callback);  // 401 before the body is parsed
  auto body = JsonBody::parse(request, {"orderNo"});
  const auto order_no = body.string("orderNo", domain::kMaxOrderNoLength);
  body.done();
  if (!domain::is_valid_order_no(order_no)) throw domain::invalid_argument("orderNo", "not an order number");
  const auto record = co_await payments.record_gateway_success(callback, order_no);
  co_return payment_recorded_response(record);
}

// The mock gateway page's "Pay": the same answer as the gateway's callback, for the caller's order.
Task<ApiResponse> mock_gateway_pay(application::PaymentService& payments, const ApiRequest& request) {
  auto body = JsonBody::parse(request, {"orderNo"});
  const auto order_no = body.string("orderNo", domain::kMaxOrderNoLength);
  body.done();
  if (!domain::is_valid_order_no(order_no)) throw domain::invalid_argument("orderNo", "not an order number");
  const auto record = co_await payments.record_mock_gateway_payment(acting_user(request), order_no);
  co_return payment_recorded_response(record);
}

void write_order(JsonWriter& json, const domain::PaymentOrder& order) {
  json.begin_object();
  write_status(json, order);
  json.key("amount")
      .raw_number(order.amount.to_decimal_string())
      .key("scheduleId")
      .integer(order.schedule.value)
      .key("seatNos")
      .begin_array();
  for (const auto& seat : order.seat_nos) json.string(seat);
  json.end_array()
      .key("createdAt")
      .string(domain::to_iso8601(order.created_at))
      .key("expiresAt")
      .string(domain::to_iso8601(order.expires_at))
      .end_object();
}

// ?waitMs=: how long the answer may wait for a CONFIRMING order to settle, 0–10000 (absent: 0).
std::chrono::milliseconds settlement_wait(const ApiRequest& request) {
  return std::chrono::milliseconds{
      query_int(request, "waitMs", 0, application::PaymentService::kMaxSettlementWait.count()).value_or(0)};
}

Task<ApiResponse> order_status(application::PaymentService& payments, const ApiRequest& request) {
  const std::string* order_no = request.path_param("orderNo");
  if (order_no == nullptr || !domain::is_valid_order_no(*order_no)) {
    throw domain::invalid_argument("orderNo", "not an order number");
  }
  const auto order = co_await payments.order(acting_user(request), *order_no, settlement_wait(request));
  JsonWriter json;
  write_order(json, order);
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> my_orders(application::PaymentService& payments, const ApiRequest& request) {
  const auto orders = co_await payments.orders(acting_user(request));
  JsonWriter json;
  json.begin_array();
  for (const auto& order : orders) write_order(json, order);
  json.end_array();
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> my_reservations(application::PaymentService& payments, const ApiRequest& request) {
  const auto views = co_await payments.reservations(acting_user(request));
  JsonWriter json;
  json.begin_array();
  for (const auto& view : views) {
    json.begin_object()
        .key("reservationId")
        .integer(view.id.value)
        .key("scheduleId")
        .integer(view.schedule.value)
        .key("seatNo")
        .string(view.seat_no)
        .key("status")
        .string(domain::to_string(view.status))
        .key("expiresAt")
        .string(domain::to_iso8601(view.expires_at))
        .key("orderNo");
    if (view.order_no) {
      json.string(*view.order_no);
    } else {
      json.null();
    }
    json.key("createdAt").string(domain::to_iso8601(view.created_at)).end_object();
  }
  json.end_array();
  co_return json_response(200, std::move(json).str());
}

}  // namespace

void add_payment_routes(Router& router, application::PaymentService& payments) {
  const StoreCheck live_slot = [&payments](const ApiRequest& r) -> Task<void> {
    const auto token = queue_token(r);
    co_await payments.require_live_slot(token, acting_user(r));
  };
  router.add(
      Method::kPost, "/payment/ready", [&payments](ApiRequest& r) { return ready(payments, r); }, Access::kSignedIn,
      [&payments](const ApiRequest& r) { payments.authenticate(queue_token(r), acting_user(r)); }, live_slot);
  // The gateway is not a person: its callback is authenticated by its signature.
  router.add(
      Method::kPost, "/payment/mock-success", [&payments](ApiRequest& r) { return mock_success(payments, r); },
      Access::kPublic, [&payments](const ApiRequest& r) { check_gateway_header(payments, r); });
  router.add(
      Method::kGet, "/payment/{orderNo}", [&payments](ApiRequest& r) { return order_status(payments, r); },
      Access::kSignedIn);
  router.add(
      Method::kGet, "/me/orders", [&payments](ApiRequest& r) { return my_orders(payments, r); }, Access::kSignedIn);
  router.add(
      Method::kGet, "/me/reservations", [&payments](ApiRequest& r) { return my_reservations(payments, r); },
      Access::kSignedIn);
}

void add_mock_gateway_routes(Router& router, application::PaymentService& payments) {
  router.add(
      Method::kPost, "/dev/gateway/pay", [&payments](ApiRequest& r) { return mock_gateway_pay(payments, r); },
      Access::kSignedIn);
}

}  // namespace ticketing::api
