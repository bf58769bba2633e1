#include <algorithm>

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

constexpr std::size_t kMaxOrderNoLength = 40;

bool is_valid_order_no(std::string_view order_no) {
  // Same alphabet as seat numbers: letters, digits, '-'.
  return !order_no.empty() && order_no.size() <= kMaxOrderNoLength &&
         std::all_of(order_no.begin(), order_no.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

std::optional<std::string> header_value(const ApiRequest& request, std::string_view name) {
  const std::string* value = request.header(name);
  return value ? std::optional<std::string>(*value) : std::nullopt;
}

// The 201 body of /payment/ready. A pure function of the order as created, so a replay with the
// same Idempotency-Key is byte for byte the first response.
std::string ready_body(const domain::PaymentOrder& order) {
  JsonWriter json;
  json.begin_object()
      .key("orderNo").string(order.order_no)
      .key("amount").raw_number(order.amount.to_decimal_string())
      .key("status").string(domain::to_string(domain::OrderStatus::kReady))
      .key("expiresAt").string(domain::to_iso8601(order.expires_at))
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
  payments.authenticate(bearer_token(request));  // 401 before the body or the Idempotency-Key is read
  auto body = JsonBody::parse(request, {"userId", "scheduleId", "seatNos"});
  const auto user_id = body.id("userId");
  const auto schedule_id = body.id("scheduleId");
  const auto seat_nos = body.string_array("seatNos", 1, 64, 64);
  body.done();
  const auto token = bearer_token(request);
  const auto key = header_value(request, "Idempotency-Key");
  const auto result =
      co_await payments.ready(token, key, acting_user(request, user_id), domain::ScheduleId{schedule_id}, seat_nos);
  co_return json_response(201, ready_body(result.order));
}

Task<ApiResponse> mock_success(application::PaymentService& payments, const ApiRequest& request) {
  auto body = JsonBody::parse(request, {"orderNo"});
  const auto order_no = body.string("orderNo", kMaxOrderNoLength);
  body.done();
  if (!is_valid_order_no(order_no)) throw domain::invalid_argument("orderNo", "not an order number");
  const auto secret = header_value(request, "X-Gateway-Secret");
  const auto record = co_await payments.record_gateway_success(secret, order_no);
  JsonWriter json;
  json.begin_object();
  write_status(json, record.order);
  json.end_object();
  // 202: this call recorded the payment (the booking is being confirmed, or — for an order already
  // cancelled — refunded); 200: a repeat, nothing new was recorded.
  const bool recorded_now = record.kind == domain::PaymentRecord::Kind::kRecorded ||
                            record.kind == domain::PaymentRecord::Kind::kRefundRequested;
  co_return json_response(recorded_now ? 202 : 200, std::move(json).str());
}

Task<ApiResponse> order_status(application::PaymentService& payments, const ApiRequest& request) {
  const std::string* order_no = request.path_param("orderNo");
  if (order_no == nullptr || !is_valid_order_no(*order_no)) {
    throw domain::invalid_argument("orderNo", "not an order number");
  }
  const auto order = co_await payments.order(*order_no);
  JsonWriter json;
  json.begin_object();
  write_status(json, order);
  json.key("amount").raw_number(order.amount.to_decimal_string())
      .key("userId").integer(order.user.value)
      .key("scheduleId").integer(order.schedule.value)
      .key("seatNos").begin_array();
  for (const auto& seat : order.seat_nos) json.string(seat);
  json.end_array()
      .key("createdAt").string(domain::to_iso8601(order.created_at))
      .key("expiresAt").string(domain::to_iso8601(order.expires_at))
      .end_object();
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> reservations(application::PaymentService& payments, const ApiRequest& request) {
  const auto user_id = query_id(request, "userId");
  const auto views = co_await payments.reservations(acting_user(request, user_id));
  JsonWriter json;
  json.begin_array();
  for (const auto& view : views) {
    json.begin_object()
        .key("reservationId").integer(view.id.value)
        .key("scheduleId").integer(view.schedule.value)
        .key("seatNo").string(view.seat_no)
        .key("status").string(view.status)
        .key("expiresAt").string(domain::to_iso8601(view.expires_at))
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
  router.add(Method::kPost, "/payment/ready", [&payments](ApiRequest& r) { return ready(payments, r); });
  router.add(Method::kPost, "/payment/mock-success", [&payments](ApiRequest& r) { return mock_success(payments, r); });
  router.add(Method::kGet, "/payment/{orderNo}", [&payments](ApiRequest& r) { return order_status(payments, r); });
  router.add(Method::kGet, "/reservations", [&payments](ApiRequest& r) { return reservations(payments, r); });
}

}  // namespace ticketing::api
