// The operator console's API (DESIGN.md §14, docs/operations.md): every route needs an ADMIN
// access token (the dispatcher answers 401/403 before the handler runs); changes are audited by
// the service with the acting admin and the request id.
#include <fmt/format.h>

#include <boost/json/value.hpp>
#include <optional>

#include "api/error_mapping.hpp"
#include "api/identity.hpp"
#include "api/json_body.hpp"
#include "api/request_params.hpp"
#include "api/routes.hpp"
#include "application/admin_service.hpp"
#include "domain/account.hpp"
#include "domain/operator_console.hpp"
#include "domain/payment.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

using domain::DomainError;
using domain::ErrorCode;

constexpr std::size_t kMaxTitleLength = 200;
constexpr std::size_t kMaxDescriptionLength = 4000;
constexpr std::size_t kMaxSections = 1000;
constexpr std::size_t kMaxRowsPerSection = 1000;

domain::AuditContext who(const ApiRequest& request) {
  return domain::AuditContext{acting_user(request), request.request_id};
}

void write_optional(JsonWriter& json, std::string_view key, const std::optional<std::int64_t>& value) {
  json.key(key);
  if (value) {
    json.integer(*value);
  } else {
    json.null();
  }
}

void write_schedule_fields(JsonWriter& json, const domain::Schedule& schedule) {
  json.key("id").integer(schedule.id.value).key("concertId").integer(schedule.concert_id.value).key("venueId");
  if (schedule.venue) {
    json.integer(schedule.venue->value);
  } else {
    json.null();
  }
  json.key("showAt").string(domain::to_iso8601(schedule.show_at));
  json.key("bookingOpensAt").string(domain::to_iso8601(schedule.booking_opens_at));
  json.key("prequeueOpensAt");
  if (schedule.prequeue_opens_at) {
    json.string(domain::to_iso8601(*schedule.prequeue_opens_at));
  } else {
    json.null();
  }
  json.key("saleState").string(domain::to_string(schedule.sale_state));
  write_optional(json, "maxActive", schedule.settings.max_active);
  write_optional(json, "admitPerSecond", schedule.settings.admit_per_second);
  write_optional(json, "maxSeatsPerUser", schedule.settings.max_seats_per_user);
}

ApiResponse schedule_response(int status, const domain::Schedule& schedule, std::optional<std::int64_t> seats = {}) {
  JsonWriter json;
  json.begin_object();
  write_schedule_fields(json, schedule);
  if (seats) json.key("seats").integer(*seats);
  json.end_object();
  return json_response(status, std::move(json).str());
}

void write_venue(JsonWriter& json, const domain::VenueSummary& venue) {
  json.begin_object()
      .key("id")
      .integer(venue.id.value)
      .key("name")
      .string(venue.name)
      .key("seats")
      .integer(venue.seats)
      .key("tiers")
      .begin_array();
  for (const auto& [tier, price] : venue.tiers) {
    json.begin_object().key("tier").string(tier).key("price").raw_number(price.to_decimal_string()).end_object();
  }
  json.end_array().end_object();
}

// ---- audit -------------------------------------------------------------------------------------

Task<ApiResponse> list_audit(application::AdminService& admin, const ApiRequest& request) {
  const int limit = static_cast<int>(query_int(request, "limit", 1, 500).value_or(50));
  std::optional<std::int64_t> before;
  if (query_param(request, "before")) before = query_id(request, "before");
  std::optional<domain::AuditKind> kind;
  if (const auto text = query_param(request, "kind")) {
    kind = domain::audit_kind_from(*text);
    if (!kind) throw domain::invalid_argument("kind", "must be CHANGE, READ or REFUSED");
  }
  const auto entries = co_await admin.audit(who(request), limit, before, kind);
  JsonWriter json;
  json.begin_object().key("entries").begin_array();
  for (const auto& entry : entries) {
    json.begin_object()
        .key("id")
        .integer(entry.id)
        .key("adminId")
        .integer(entry.admin.value)
        .key("kind")
        .string(domain::to_string(entry.kind))
        .key("action")
        .string(entry.action)
        .key("target")
        .string(entry.target)
        .key("before");
    // Stored by the service as JSON documents: embedded as they are.
    if (entry.before_json.empty()) {
      json.null();
    } else {
      json.raw_number(entry.before_json);
    }
    json.key("after");
    if (entry.after_json.empty()) {
      json.null();
    } else {
      json.raw_number(entry.after_json);
    }
    json.key("requestId").string(entry.request_id).key("createdAt").string(domain::to_iso8601(entry.created_at));
    json.end_object();
  }
  json.end_array().key("nextBefore");
  if (entries.size() == static_cast<std::size_t>(limit)) {
    json.integer(entries.back().id);
  } else {
    json.null();
  }
  json.end_object();
  co_return json_response(200, std::move(json).str());
}

// ---- venues --------------------------------------------------------------------------------------

bool is_csv(const ApiRequest& request) {
  const std::string* type = request.header("Content-Type");
  if (type == nullptr) return false;
  std::string base = type->substr(0, type->find(';'));
  for (char& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  return base == "text/csv";
}

// A price as JSON: a string "150.00" or a number (150, 150.5). A number is written back as the
// shortest text that reads as it (1.001 stays "1.001", 1e-7 "1e-07"), so the price rules refuse
// what a rounding would have hidden.
// nullopt for a value that is no price at all (null, an object, ...).
std::optional<std::string> price_text(const boost::json::value& value) {
  if (value.is_string()) return std::string(value.as_string());
  if (value.is_int64()) return std::to_string(value.as_int64());
  if (value.is_uint64()) return std::to_string(value.as_uint64());
  if (value.is_double()) return fmt::format("{}", value.as_double());
  return std::nullopt;
}

// Characters (UTF-8 code points) of `text`, which is valid UTF-8.
std::size_t utf8_length(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// `text` (read from `field`) when it is clean UTF-8 without control characters (line breaks too
// when `multiline`); else a problem of the body and "".
std::string clean_text(JsonBody& body, std::string_view field, std::string text, bool multiline = false) {
  if (domain::is_clean_text(text, multiline)) return text;
  body.problem(field, multiline ? "must be UTF-8 text without control characters other than line breaks and tabs"
                                : "must be UTF-8 text without control characters");
  return {};
}

// A name or title: 1..kMaxTitleLength characters (UTF-8 code points, not bytes) of clean text.
std::string title_text(JsonBody& body, std::string_view field) {
  const auto* value = body.value(field);
  if (value == nullptr) return {};
  const auto* text = value->if_string();
  const std::size_t length = text != nullptr ? utf8_length(*text) : 0;
  if (length == 0 || length > kMaxTitleLength) {
    body.problem(field, fmt::format("must be a string of 1 to {} characters", kMaxTitleLength));
    return {};
  }
  if (domain::is_blank_text(*text)) {
    body.problem(field, "must not be only spaces");
    return {};
  }
  return clean_text(body, field, std::string(*text));
}

// {name, sections: [{name, tier, price, rows: [{row, seats}]}]}: row "" or absent numbers seats
// per section ("A-12"); seats N makes seats 1..N.
void runs_from_json(JsonBody& body, std::vector<domain::SeatRun>& runs) {
  const auto* sections = body.value("sections");
  if (sections == nullptr) return;
  if (!sections->is_array() || sections->as_array().empty() || sections->as_array().size() > kMaxSections) {
    body.problem("sections", fmt::format("must be an array of 1 to {} sections", kMaxSections));
    return;
  }
  const auto& list = sections->as_array();
  for (std::size_t s = 0; s < list.size(); ++s) {
    const std::string where = fmt::format("sections[{}]", s);
    const auto* section = list[s].if_object();
    const auto text_of = [](const boost::json::object& o, std::string_view key) -> std::string {
      const auto* v = o.if_contains(key);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    if (section == nullptr) {
      body.problem(where, "must be an object {name, tier, price, rows}");
      continue;
    }
    for (const auto& entry : *section) {
      const std::string_view key = entry.key();
      if (key != "name" && key != "tier" && key != "price" && key != "rows") {
        body.problem(fmt::format("{}.{}", where, key), "unknown field");
      }
    }
    const auto* price_value = section->if_contains("price");
    const auto price = price_value != nullptr ? price_text(*price_value) : std::nullopt;
    if (!price) {
      body.problem(where + ".price", "must be a price: a string such as \"150.00\" or a number");
      continue;
    }
    const auto* rows = section->if_contains("rows");
    if (rows == nullptr || !rows->is_array()) {
      body.problem(where + ".rows", fmt::format("must be an array of 1 to {} rows", kMaxRowsPerSection));
      continue;
    }
    if (rows->as_array().empty() || rows->as_array().size() > kMaxRowsPerSection) {
      body.problem(where + ".rows", rows->as_array().empty()
                                        ? fmt::format("empty section: rows must hold 1 to {} rows", kMaxRowsPerSection)
                                        : fmt::format("at most {} rows in a section", kMaxRowsPerSection));
      continue;
    }
    const auto& row_list = rows->as_array();
    for (std::size_t r = 0; r < row_list.size(); ++r) {
      const std::string row_where = fmt::format("{}.rows[{}]", where, r);
      const auto* row = row_list[r].if_object();
      if (row != nullptr) {
        for (const auto& entry : *row) {
          if (entry.key() != "row" && entry.key() != "seats") {
            body.problem(fmt::format("{}.{}", row_where, std::string_view(entry.key())), "unknown field");
          }
        }
      }
      const auto* seats = row != nullptr ? row->if_contains("seats") : nullptr;
      if (seats == nullptr || !seats->is_int64() || seats->as_int64() < 1 ||
          seats->as_int64() > static_cast<std::int64_t>(domain::kMaxVenueSeats)) {
        body.problem(row_where, fmt::format("must be {{row, seats}} with seats 1 to {}", domain::kMaxVenueSeats));
        continue;
      }
      std::string row_name;
      if (const auto* name = row->if_contains("row")) {
        if (name->is_string()) {
          row_name = std::string(name->as_string());
        } else if (name->is_int64()) {
          row_name = std::to_string(name->as_int64());
        } else {
          body.problem(row_where + ".row", "must be a string or a number");
          continue;
        }
      }
      runs.push_back(domain::SeatRun{row_where, text_of(*section, "name"), row_name, 1, seats->as_int64(),
                                     text_of(*section, "tier"), *price});
    }
  }
}

struct LayoutRequest {
  std::string name;  // empty when not asked for
  std::vector<domain::SeatRun> runs;
  std::vector<domain::FieldError> parse_errors;
};

// CSV (the venue's name in ?name=, one run of seats per line: domain::parse_layout_csv) or JSON
// {name, sections}. `with_name`: the name is required (create), else not accepted (replace).
LayoutRequest layout_request(const ApiRequest& request, bool with_name) {
  LayoutRequest layout;
  if (is_csv(request)) {
    require_unencoded_body(request);
    if (with_name) {
      const auto given = query_param(request, "name");
      if (!given || given->empty() || domain::is_blank_text(*given) || !domain::is_clean_text(*given) ||
          utf8_length(*given) > kMaxTitleLength) {
        throw domain::invalid_argument(
            "name",
            "the query parameter name (1 to 200 characters of UTF-8 text, no control characters) names the venue");
      }
      layout.name = *given;
    }
    layout.runs = domain::parse_layout_csv(request.body, layout.parse_errors);
    return layout;
  }
  auto body = with_name ? JsonBody::parse(request, {"name", "sections"}) : JsonBody::parse(request, {"sections"});
  if (with_name) layout.name = title_text(body, "name");
  runs_from_json(body, layout.runs);
  body.done();
  return layout;
}

Task<ApiResponse> create_venue(application::AdminService& admin, const ApiRequest& request) {
  auto layout = layout_request(request, true);
  const auto venue =
      co_await admin.create_venue(who(request), layout.name, layout.runs, std::move(layout.parse_errors));
  JsonWriter json;
  write_venue(json, venue);
  co_return json_response(201, std::move(json).str());
}

Task<ApiResponse> replace_layout(application::AdminService& admin, const ApiRequest& request) {
  const domain::VenueId venue{path_id(request, "id")};
  auto layout = layout_request(request, false);
  const auto replaced = co_await admin.replace_layout(who(request), venue, layout.runs, std::move(layout.parse_errors));
  JsonWriter json;
  write_venue(json, replaced);
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> list_venues(application::AdminService& admin, const ApiRequest& request) {
  const auto venues = co_await admin.venues(who(request));
  JsonWriter json;
  json.begin_array();
  for (const auto& venue : venues) write_venue(json, venue);
  json.end_array();
  co_return json_response(200, std::move(json).str());
}

// ---- concerts and schedules ---------------------------------------------------------------------

Task<ApiResponse> create_concert(application::AdminService& admin, const ApiRequest& request) {
  auto body = JsonBody::parse(request, {"title", "description"});
  const auto title = title_text(body, "title");
  const auto description =
      clean_text(body, "description", body.optional_string("description", kMaxDescriptionLength).value_or(""), true);
  body.done();
  const auto concert = co_await admin.create_concert(who(request), title, description);
  JsonWriter json;
  json.begin_object()
      .key("id")
      .integer(concert.id.value)
      .key("title")
      .string(concert.title)
      .key("description")
      .string(concert.description)
      .end_object();
  co_return json_response(201, std::move(json).str());
}

std::optional<domain::Timestamp> time_field(JsonBody& body, std::string_view field, bool required) {
  const auto* value = required ? body.value(field) : body.optional_value(field);
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) {
    if (const auto parsed = domain::parse_iso8601(value->as_string())) return parsed;
  }
  body.problem(field, "must be an ISO-8601 UTC time like 2026-12-24T19:00:00Z");
  return std::nullopt;
}

domain::QueueSettings settings_fields(JsonBody& body) {
  domain::QueueSettings settings;
  settings.max_active = body.optional_integer("maxActive", 1, domain::kMaxActiveLimit);
  settings.admit_per_second = body.optional_integer("admitPerSecond", 1, domain::kAdmitPerSecondLimit);
  settings.max_seats_per_user = body.optional_integer("maxSeatsPerUser", 1, domain::kMaxSeatsPerUserLimit);
  return settings;
}

Task<ApiResponse> create_schedule(application::AdminService& admin, const ApiRequest& request) {
  auto body = JsonBody::parse(request, {"concertId", "venueId", "showAt", "bookingOpensAt", "prequeueOpensAt", "prices",
                                        "maxActive", "admitPerSecond", "maxSeatsPerUser"});
  domain::NewSchedule schedule;
  schedule.concert = domain::ConcertId{body.id("concertId")};
  schedule.venue = domain::VenueId{body.id("venueId")};
  const auto show_at = time_field(body, "showAt", true);
  const auto opens_at = time_field(body, "bookingOpensAt", true);
  schedule.times.prequeue_opens_at = time_field(body, "prequeueOpensAt", false);
  if (const auto* prices = body.optional_value("prices")) {
    // {"VIP": "180.00", "R": 120}: tier → price for this schedule.
    if (!prices->is_object()) {
      body.problem("prices", "must be an object of tier: price");
    } else {
      for (const auto& entry : prices->as_object()) {
        const std::string field = fmt::format("prices.{}", std::string_view(entry.key()));
        const auto text = price_text(entry.value());
        const auto price = text ? domain::parse_price(*text) : std::nullopt;
        if (!price) {
          body.problem(field, fmt::format("must be {}", domain::kPriceRule));
        } else {
          schedule.tier_prices.emplace_back(std::string(entry.key()), *price);
        }
      }
    }
  }
  schedule.settings = settings_fields(body);
  body.done();
  schedule.times.show_at = *show_at;
  schedule.times.booking_opens_at = *opens_at;
  const auto created = co_await admin.create_schedule(who(request), schedule);
  co_return schedule_response(201, created.schedule, created.seats);
}

Task<ApiResponse> get_schedule(application::AdminService& admin, const ApiRequest& request) {
  const auto found = co_await admin.schedule(who(request), domain::ScheduleId{path_id(request, "id")});
  co_return schedule_response(200, found.schedule, found.seats);
}

Task<ApiResponse> put_sale_state(application::AdminService& admin, const ApiRequest& request) {
  const domain::ScheduleId schedule{path_id(request, "id")};
  auto body = JsonBody::parse(request, {"state"});
  const auto text = body.string("state", 16);
  const auto state = domain::sale_state_from(text);
  if (!text.empty() && !state) body.problem("state", "must be OPEN, PAUSED or CLOSED");
  body.done();
  const auto changed = co_await admin.set_sale_state(who(request), schedule, *state);
  co_return schedule_response(200, changed);
}

Task<ApiResponse> patch_queue_settings(application::AdminService& admin, const ApiRequest& request) {
  const domain::ScheduleId schedule{path_id(request, "id")};
  auto body = JsonBody::parse(request, {"maxActive", "admitPerSecond", "maxSeatsPerUser"});
  const auto patch = settings_fields(body);
  body.done();
  if (patch == domain::QueueSettings{}) {
    throw domain::invalid_argument("body", "set at least one of maxActive, admitPerSecond, maxSeatsPerUser");
  }
  const auto changed = co_await admin.update_queue_settings(who(request), schedule, patch);
  co_return schedule_response(200, changed);
}

Task<ApiResponse> schedule_stats(application::AdminService& admin, const ApiRequest& request) {
  const auto stats = co_await admin.stats(who(request), domain::ScheduleId{path_id(request, "id")});
  JsonWriter json;
  json.begin_object()
      .key("scheduleId")
      .integer(stats.schedule.value)
      .key("saleState")
      .string(domain::to_string(stats.sale_state))
      .key("waiting")
      .integer(stats.queue.waiting)
      .key("prequeued")
      .integer(stats.prequeued)
      .key("admitted")
      .integer(stats.queue.active)
      .key("held")
      .integer(stats.sales.held)
      .key("sold")
      .integer(stats.sales.sold)
      .key("revenue")
      .raw_number(stats.sales.revenue.to_decimal_string())
      .key("admissionsPerSecond")
      .raw_number(fmt::format("{:.2f}", stats.queue.admissions_per_second))
      .key("confirmationsPerSecond")
      .raw_number(fmt::format("{:.2f}", stats.confirmations_per_second))
      .key("confirming")
      .integer(stats.sales.confirming)
      .key("confirmationLagMs")
      .integer(stats.sales.oldest_confirming_ms)
      .key("outboxBacklog")
      .integer(stats.sales.outbox_backlog)
      .key("deadLetters")
      .integer(stats.sales.dead_letters)
      .key("at")
      .string(domain::to_iso8601(stats.at))
      .end_object();
  co_return json_response(200, std::move(json).str());
}

// ---- orders ---------------------------------------------------------------------------------------

void write_order(JsonWriter& json, const domain::PaymentOrder& order, const std::string& email) {
  json.begin_object()
      .key("orderNo")
      .string(order.order_no)
      .key("status")
      .string(domain::to_string(order.status))
      .key("failReason");
  if (order.fail_reason) {
    json.string(*order.fail_reason);
  } else {
    json.null();
  }
  json.key("amount")
      .raw_number(order.amount.to_decimal_string())
      .key("scheduleId")
      .integer(order.schedule.value)
      .key("userId")
      .integer(order.user.value)
      .key("email")
      .string(email)
      .key("createdAt")
      .string(domain::to_iso8601(order.created_at))
      .key("seatNos")
      .begin_array();
  for (const auto& seat : order.seat_nos) json.string(seat);
  json.end_array().end_object();
}

// 400 for what cannot be an order number, before it reaches a lookup or an audit row.
void require_order_no(std::string_view order_no) {
  if (!domain::is_valid_order_no(order_no)) {
    throw domain::invalid_argument("orderNo", "not an order number (1 to 40 of A-Z a-z 0-9 -)");
  }
}

Task<ApiResponse> find_orders(application::AdminService& admin, const ApiRequest& request) {
  const auto order_no = query_param(request, "orderNo");
  const auto email = query_param(request, "email");
  if (order_no) require_order_no(*order_no);
  if (email && (email->empty() || email->size() > 255)) {
    throw domain::invalid_argument("email", "must be 1 to 255 characters");
  }
  const auto orders = co_await admin.find_orders(who(request), order_no, email);
  JsonWriter json;
  json.begin_array();
  for (const auto& found : orders) write_order(json, found.order, found.email);
  json.end_array();
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> refund_order(application::AdminService& admin, const ApiRequest& request) {
  std::string order_no;
  for (const auto& [name, value] : request.path_params) {
    if (name == "orderNo") order_no = value;
  }
  require_order_no(order_no);
  // No body is needed; one that is sent is held to the rules of every body (JSON, no unknown fields).
  if (!request.body.empty()) JsonBody::parse(request, {}).done();
  const auto result = co_await admin.refund(who(request), order_no);
  JsonWriter json;
  json.begin_object().key("refunded").boolean(result.kind == domain::RefundDecision::Kind::kRefunded).key("order");
  write_order(json, result.order, result.email);
  json.end_object();
  co_return json_response(200, std::move(json).str());
}

// ---- dead letters ---------------------------------------------------------------------------------

// replayedAt, discardedAt and discardReason (null when not).
void write_resolution(JsonWriter& json, const domain::DeadLetter& letter) {
  const auto optional_time = [&](const char* key, const std::optional<domain::Timestamp>& at) {
    json.key(key);
    if (at) {
      json.string(domain::to_iso8601(*at));
    } else {
      json.null();
    }
  };
  optional_time("replayedAt", letter.replayed_at);
  optional_time("discardedAt", letter.discarded_at);
  json.key("discardReason");
  if (letter.discard_reason) {
    json.string(*letter.discard_reason);
  } else {
    json.null();
  }
}

Task<ApiResponse> list_dead_letters(application::AdminService& admin, const ApiRequest& request) {
  const int limit = static_cast<int>(query_int(request, "limit", 1, 500).value_or(50));
  bool pending_only = false;
  if (const auto text = query_param(request, "pending")) {
    if (*text != "true" && *text != "false") throw domain::invalid_argument("pending", "must be true or false");
    pending_only = *text == "true";
  }
  std::optional<std::int64_t> before;
  if (query_param(request, "before")) before = query_id(request, "before");
  const auto letters = co_await admin.dead_letters(who(request), limit, pending_only, before);
  JsonWriter json;
  json.begin_array();
  for (const auto& letter : letters) {
    json.begin_object()
        .key("id")
        .integer(letter.id)
        .key("topic")
        .string(letter.topic)
        .key("partition")
        .integer(letter.partition)
        .key("offset")
        .integer(letter.offset)
        .key("key");
    if (letter.key) {
      json.string(std::string_view(*letter.key).substr(0, 1024));  // keys are short; a poison one need not be
    } else {
      json.null();
    }
    // The payload is shown as text: it may be anything (that is why it was dead-lettered). A list of
    // near-1-MB messages would be a response of tens of MB: each shows its first 16 KiB, and its size.
    constexpr std::size_t kShownPayloadBytes = 16 * 1024;
    json.key("payload").string(std::string_view(letter.payload).substr(0, kShownPayloadBytes));
    json.key("payloadBytes").integer(static_cast<std::int64_t>(letter.payload.size()));
    json.key("error").string(letter.error);
    json.key("createdAt").string(domain::to_iso8601(letter.created_at));
    write_resolution(json, letter);
    json.end_object();
  }
  json.end_array();
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> discard_dead_letter(application::AdminService& admin, const ApiRequest& request) {
  const auto id = path_id(request, "id");
  auto body = JsonBody::parse(request, {"reason"});
  auto reason = body.text("reason");  // its rule (1–255 characters) is the service's
  body.done();
  const auto caller = who(request);  // named: no class-type temporary inside co_await (GCC 12)
  const auto letter = co_await admin.discard_dead_letter(caller, id, std::move(reason));
  JsonWriter json;
  json.begin_object().key("id").integer(letter.id);
  write_resolution(json, letter);
  json.end_object();
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> replay_dead_letter(application::AdminService& admin, const ApiRequest& request) {
  const auto id = path_id(request, "id");
  if (!request.body.empty()) JsonBody::parse(request, {}).done();  // as for a refund
  const auto outcome = co_await admin.replay_dead_letter(who(request), id);
  const char* result = "confirmed";
  switch (outcome.kind) {
    case domain::ConfirmOutcome::Kind::kConfirmed: result = "CONFIRMED"; break;
    case domain::ConfirmOutcome::Kind::kCancelled: result = "CANCELLED"; break;
    case domain::ConfirmOutcome::Kind::kDuplicate: result = "DUPLICATE"; break;
    case domain::ConfirmOutcome::Kind::kIgnored: result = "IGNORED"; break;
  }
  JsonWriter json;
  json.begin_object()
      .key("outcome")
      .string(result)
      .key("orderNo")
      .string(outcome.order.order_no)
      .key("orderStatus")
      .string(domain::to_string(outcome.order.status))
      .end_object();
  co_return json_response(200, std::move(json).str());
}

// Runs an admin route; a call its input or the state refused (400, 404, 409, 415, 422) is audited
// as REFUSED before the refusal goes out (DESIGN.md §14: every /admin call is written). Calls
// refused before they reach a route (401, 403, 413, 429) have no admin to name; a 5xx is a fault,
// not the caller's doing, and the database may be what is down.
// By value: the coroutine outlives the router's copy of the handler that called it.
template <typename Route>
Task<ApiResponse> run_audited(application::AdminService& admin, ApiRequest& request, std::string route_path,
                              Route route) {
  std::exception_ptr refused;
  ErrorSpec answer{};
  std::string message;
  try {
    refuse_user_id_param(request);  // here, not in the dispatcher: so that it is audited
    co_return co_await route(admin, request);
  } catch (const domain::DependencyUnavailable&) {
    // A fault, or contention (409 Contention) — possibly after a commit (a replay's confirmation
    // commits before the letter is marked): not a refusal of the call.
    throw;
  } catch (const DomainError& error) {
    answer = error_spec(error.code());
    if (answer.status >= 500 || answer.status == 401 || answer.status == 403 || answer.status == 429) throw;
    refused = std::current_exception();
    message = error.message();
  }
  const auto caller = who(request);
  const std::string call = request.method_text + " " + route_path;
  co_await admin.record_refused(caller, call, request.path, answer.status, answer.code, message);
  std::rethrow_exception(refused);
}

}  // namespace

void add_admin_routes(Router& router, application::AdminService& admin) {
  const auto route = [&](Method method, std::string path, auto handler) {
    router.add(
        method, path,
        [&admin, handler, path](ApiRequest& request) { return run_audited(admin, request, path, handler); },
        Access::kAdmin);
  };
  route(Method::kGet, "/admin/audit", [](auto& a, const ApiRequest& r) { return list_audit(a, r); });
  route(Method::kGet, "/admin/venues", [](auto& a, const ApiRequest& r) { return list_venues(a, r); });
  route(Method::kPost, "/admin/venues", [](auto& a, const ApiRequest& r) { return create_venue(a, r); });
  route(Method::kPut, "/admin/venues/{id}/layout", [](auto& a, const ApiRequest& r) { return replace_layout(a, r); });
  route(Method::kPost, "/admin/concerts", [](auto& a, const ApiRequest& r) { return create_concert(a, r); });
  route(Method::kPost, "/admin/schedules", [](auto& a, const ApiRequest& r) { return create_schedule(a, r); });
  route(Method::kGet, "/admin/schedules/{id}", [](auto& a, const ApiRequest& r) { return get_schedule(a, r); });
  route(Method::kPut, "/admin/schedules/{id}/sale-state",
        [](auto& a, const ApiRequest& r) { return put_sale_state(a, r); });
  route(Method::kPatch, "/admin/schedules/{id}/queue-settings",
        [](auto& a, const ApiRequest& r) { return patch_queue_settings(a, r); });
  route(Method::kGet, "/admin/schedules/{id}/stats", [](auto& a, const ApiRequest& r) { return schedule_stats(a, r); });
  route(Method::kGet, "/admin/orders", [](auto& a, const ApiRequest& r) { return find_orders(a, r); });
  route(Method::kPost, "/admin/orders/{orderNo}/refund",
        [](auto& a, const ApiRequest& r) { return refund_order(a, r); });
  route(Method::kGet, "/admin/dead-letters", [](auto& a, const ApiRequest& r) { return list_dead_letters(a, r); });
  route(Method::kPost, "/admin/dead-letters/{id}/replay",
        [](auto& a, const ApiRequest& r) { return replay_dead_letter(a, r); });
  route(Method::kPost, "/admin/dead-letters/{id}/discard",
        [](auto& a, const ApiRequest& r) { return discard_dead_letter(a, r); });
}

}  // namespace ticketing::api
