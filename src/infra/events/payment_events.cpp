#include "infra/events/payment_events.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parser.hpp>
#include <cstdint>
#include <set>

#include "domain/catalog.hpp"
#include "domain/operator_console.hpp"
#include "domain/payment.hpp"
#include "infra/security/random.hpp"
#include "support/json_writer.hpp"

namespace ticketing::infra::events {
using support::JsonWriter;

namespace {

// ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fff]Z" → Timestamp.
std::optional<domain::Timestamp> parse_iso(std::string_view text) {
  if (text.size() < 20 || text.back() != 'Z' || text[10] != 'T') return std::nullopt;
  std::string sql(text.substr(0, text.size() - 1));
  sql[10] = ' ';
  return domain::parse_sql_datetime(sql);
}

}  // namespace

std::string encode_payment_completed(const domain::PaymentCompleted& event) {
  support::JsonWriter json;
  json.begin_object()
      .key("eventId")
      .string(event.event_id)
      .key("type")
      .string("PaymentCompleted")
      .key("orderNo")
      .string(event.order_no)
      .key("userId")
      .integer(event.user.value)
      .key("scheduleId")
      .integer(event.schedule.value)
      .key("seatNos")
      .begin_array();
  for (const auto& seat : event.seat_nos) json.string(seat);
  json.end_array()
      .key("amount")
      .string(event.amount.to_decimal_string())
      .key("paidAt")
      .string(domain::to_iso8601(event.paid_at))
      .end_object();
  return std::move(json).str();
}

std::string encode_refund_requested(const RefundRequested& event) {
  support::JsonWriter json;
  json.begin_object()
      .key("eventId")
      .string(event.event_id)
      .key("type")
      .string("PaymentRefundRequested")
      .key("orderNo")
      .string(event.order_no)
      .key("userId")
      .integer(event.user.value)
      .key("scheduleId")
      .integer(event.schedule.value)
      .key("amount")
      .string(event.amount.to_decimal_string())
      .key("reason")
      .string(event.reason)
      .key("requestedAt")
      .string(domain::to_iso8601(event.requested_at))
      .end_object();
  return std::move(json).str();
}

std::optional<domain::PaymentCompleted> decode_payment_completed(std::string_view text, std::string& error) {
  // The parser's reason and where (a syntax error — invalid UTF-8 is one — extra data after the
  // object, too deep): an operator reading the dead letter sees what is wrong with it.
  boost::system::error_code ec;
  boost::json::parser parser;
  const std::size_t read = parser.write(text.data(), text.size(), ec);
  if (!ec && text.empty()) ec = boost::json::error::incomplete;
  if (ec) {
    error = text.empty() ? std::string("not JSON: empty") : fmt::format("not JSON: {} at byte {}", ec.message(), read);
    return std::nullopt;
  }
  const auto value = parser.release();
  if (!value.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  const auto& object = value.as_object();
  auto string_field = [&](const char* name) -> const boost::json::string* {
    const auto* field = object.if_contains(name);
    return field && field->is_string() ? &field->as_string() : nullptr;
  };
  auto id_field = [&](const char* name) -> std::optional<std::int64_t> {
    const auto* field = object.if_contains(name);
    if (field && field->is_int64() && field->as_int64() > 0) return field->as_int64();
    return std::nullopt;
  };
  const auto* event_id = string_field("eventId");
  const auto* type = string_field("type");
  const auto* order_no = string_field("orderNo");
  const auto* amount = string_field("amount");
  const auto* paid_at = string_field("paidAt");
  const auto user = id_field("userId");
  const auto schedule = id_field("scheduleId");
  const auto* seats = object.if_contains("seatNos");
  // The first field that is missing or not of its kind, by name.
  const char* bad_field = !event_id || event_id->empty() || event_id->size() > 36 ? "eventId (a string of 1 to 36)"
                          : !order_no || order_no->empty()                        ? "orderNo (a string)"
                          : !user                                                 ? "userId (a positive integer)"
                          : !schedule                                             ? "scheduleId (a positive integer)"
                          : !seats || !seats->is_array() || seats->as_array().empty()
                              ? "seatNos (an array of 1 or more seat numbers)"
                          : !amount  ? "amount (a decimal string such as \"150.00\")"
                          : !paid_at ? "paidAt (an ISO-8601 UTC string)"
                                     : nullptr;
  if (bad_field != nullptr) {
    error = fmt::format("missing or malformed field {}", bad_field);
    return std::nullopt;
  }
  if (!type || *type != "PaymentCompleted") {
    error = "not a PaymentCompleted event";
    return std::nullopt;
  }
  // Values that end up in the log and in SQL lookups: only what this service writes. (A padded
  // order number would still find its order under the column's PAD SPACE collation.)
  const auto visible_ascii = [](std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7F; });
  };
  if (!visible_ascii(std::string_view(event_id->data(), event_id->size()))) {
    error = "eventId is not visible ASCII";
    return std::nullopt;
  }
  if (!domain::is_valid_order_no(std::string_view(order_no->data(), order_no->size()))) {
    error = "orderNo is not an order number";
    return std::nullopt;
  }
  if (seats->as_array().size() > static_cast<std::size_t>(domain::kMaxSeatsPerUserLimit)) {
    error = "more seatNos than an order can have";
    return std::nullopt;
  }
  domain::PaymentCompleted event;
  event.event_id = std::string(*event_id);
  event.order_no = std::string(*order_no);
  event.user = domain::UserId{*user};
  event.schedule = domain::ScheduleId{*schedule};
  for (const auto& seat : seats->as_array()) {
    if (!seat.is_string() ||
        !domain::is_valid_seat_no(std::string_view(seat.as_string().data(), seat.as_string().size()))) {
      error = "seatNos must be seat numbers";
      return std::nullopt;
    }
    event.seat_nos.emplace_back(seat.as_string());
  }
  if (std::set<std::string>(event.seat_nos.begin(), event.seat_nos.end()).size() != event.seat_nos.size()) {
    error = "seatNos repeat a seat";
    return std::nullopt;
  }
  const auto money = domain::Money::from_decimal_string(std::string_view(amount->data(), amount->size()));
  const auto at = parse_iso(std::string_view(paid_at->data(), paid_at->size()));
  if (!money || !at) {
    error = "bad amount or paidAt";
    return std::nullopt;
  }
  event.amount = *money;
  event.paid_at = *at;
  return event;
}

std::string new_event_id() {
  unsigned char bytes[16];
  security::random_bytes(bytes, sizeof bytes);
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  for (int i = 0; i < 8; ++i) {
    high = (high << 8) | bytes[i];
    low = (low << 8) | bytes[8 + i];
  }
  high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;    // variant 10xx (RFC 9562)
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xFFFF, high & 0xFFFF, low >> 48,
                     low & 0xFFFFFFFFFFFFULL);
}

}  // namespace ticketing::infra::events
