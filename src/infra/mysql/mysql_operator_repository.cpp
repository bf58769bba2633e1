#include "infra/mysql/mysql_operator_repository.hpp"

#include <map>
#include <set>

#include "domain/errors.hpp"
#include "infra/mysql/mysql_catalog_repository.hpp"
#include "infra/mysql/mysql_payment_repository.hpp"
#include "infra/mysql/row_reader.hpp"
#include "infra/mysql/sql_text.hpp"
#include "support/json_writer.hpp"
#include "support/utf8.hpp"

namespace ticketing::infra::mysql {

using domain::DomainError;
using domain::ErrorCode;
using support::JsonWriter;

namespace {

constexpr int kBatchRows = 2000;

}  // namespace

void insert_audit(MysqlConnection& db, const domain::AuditContext& who, std::string_view action,
                  std::string_view target, const domain::Change& change) {
  const auto json_or_null = [](const std::string& json) -> Param {
    if (json.empty()) return nullptr;
    return Param(json);
  };
  db.execute(
      "INSERT INTO admin_audit (admin_id, action, target, before_json, after_json, request_id) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      {who.admin.value, action, target, json_or_null(change.before_json), json_or_null(change.after_json),
       who.request_id.substr(0, 64)});
}

void insert_read_audit(MysqlConnection& db, const domain::AuditContext& who, std::string_view action,
                       std::string_view target, std::string_view asked, domain::AuditKind kind) {
  db.execute(
      "INSERT INTO admin_audit (admin_id, kind, action, target, after_json, request_id) VALUES (?, ?, ?, ?, ?, ?)",
      {who.admin.value, domain::to_string(kind), action.substr(0, 64), support::utf8_prefix(target, 128), asked,
       who.request_id.substr(0, 64)});
}

namespace {

// A change's controls version: one more than the last, and never less than the database's clock in
// microseconds, so versions keep growing even after the database went back to a backup (the queue's
// copy in Redis is replaced only by a newer version). Below 2^53 for centuries: exact as a Lua number.
constexpr std::string_view kNextControlsVersion =
    "GREATEST(controls_version + 1, FLOOR(UNIX_TIMESTAMP(NOW(6)) * 1000000))";

void write_optional(JsonWriter& json, std::string_view key, const std::optional<std::int64_t>& value) {
  json.key(key);
  if (value) {
    json.integer(*value);
  } else {
    json.null();
  }
}

std::vector<std::pair<std::string, domain::Money>> tiers_of(MysqlConnection& db, domain::VenueId venue) {
  std::vector<std::pair<std::string, domain::Money>> tiers;
  const auto rows =
      db.query("SELECT tier, MIN(price) FROM venue_seat WHERE venue_id = ? GROUP BY tier ORDER BY MIN(price) DESC",
               {venue.value});
  for (const auto& row : rows.rows) tiers.emplace_back(to_string(row[0]), to_money(row[1]));
  return tiers;
}

std::optional<domain::ScheduleDetail> detail_of(MysqlConnection& db, domain::ScheduleId schedule) {
  auto found = load_schedule(db, schedule);
  if (!found) return std::nullopt;
  const auto seats = db.query("SELECT COUNT(*) FROM seat WHERE schedule_id = ?", {schedule.value});
  return domain::ScheduleDetail{std::move(*found), to_int64(seats.rows[0][0])};
}

std::string order_audit_json(const domain::PaymentOrder& order) {
  JsonWriter json;
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
  json.key("amount").raw_number(order.amount.to_decimal_string()).key("seatNos").begin_array();
  for (const auto& seat : order.seat_nos) json.string(seat);
  json.end_array().end_object();
  return std::move(json).str();
}

// Multi-row INSERTs of kBatchRows seats: 10,000 seats in five statements.
void insert_venue_seats(MysqlConnection& db, domain::VenueId venue, const domain::VenueLayout& layout) {
  const std::string row = "(?,?,?,?,?)";
  Params params;
  std::size_t rows = 0;
  const auto flush = [&] {
    if (rows == 0) return;
    std::string sql = "INSERT INTO venue_seat (venue_id, seat_no, section, tier, price) VALUES ";
    for (std::size_t i = 0; i < rows; ++i) {
      if (i > 0) sql += ',';
      sql += row;
    }
    db.execute(sql, params);
    params.clear();
    rows = 0;
  };
  for (const auto& seat : layout.seats) {
    params.insert(params.end(), {venue.value, seat.seat_no, seat.section, seat.tier, seat.price});
    if (++rows == kBatchRows) flush();
  }
  flush();
}

std::string venue_audit_json(const domain::VenueSummary& venue) {
  JsonWriter json;
  json.begin_object()
      .key("id")
      .integer(venue.id.value)
      .key("name")
      .string(venue.name)
      .key("seats")
      .integer(venue.seats)
      .key("tiers")
      .begin_object();
  for (const auto& [tier, price] : venue.tiers) json.key(tier).raw_number(price.to_decimal_string());
  json.end_object().end_object();
  return std::move(json).str();
}

// Copies the venue's seats into the schedule; `tier_prices` override the venue's prices.
void copy_venue_seats(MysqlConnection& db, domain::ScheduleId schedule, domain::VenueId venue,
                      const std::vector<std::pair<std::string, domain::Money>>& tier_prices) {
  std::string price = "v.price";
  Params params{schedule.value};
  if (!tier_prices.empty()) {
    price = "CASE v.tier";
    for (std::size_t i = 0; i < tier_prices.size(); ++i) price += " WHEN ? THEN ?";
    price += " ELSE v.price END";
    for (const auto& [tier, tier_price] : tier_prices) {
      params.emplace_back(tier);
      params.emplace_back(tier_price);
    }
  }
  params.emplace_back(venue.value);
  // `price` is SQL text with placeholders only; the tiers and prices are bound.
  db.execute("INSERT INTO seat (schedule_id, seat_no, section, price) SELECT ?, v.seat_no, v.section, " + price +
                 " FROM venue_seat v WHERE v.venue_id = ?",
             params);
}

std::string email_of(MysqlConnection& db, domain::UserId user) {
  const auto rows = db.query("SELECT email FROM user_account WHERE id = ?", {user.value});
  return rows.rows.empty() ? std::string() : to_string(rows.rows[0][0]);
}

}  // namespace

std::string schedule_audit_json(const domain::Schedule& schedule, const domain::NewSchedule* created) {
  JsonWriter json;
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
  json.key("saleState").string(domain::to_string(schedule.sale_state));
  write_optional(json, "maxActive", schedule.settings.max_active);
  write_optional(json, "admitPerSecond", schedule.settings.admit_per_second);
  write_optional(json, "maxSeatsPerUser", schedule.settings.max_seats_per_user);
  if (created != nullptr) {
    json.key("venueId").integer(created->venue.value).key("prices").begin_object();
    for (const auto& [tier, price] : created->tier_prices) json.key(tier).raw_number(price.to_decimal_string());
    json.end_object();
  }
  json.end_object();
  return std::move(json).str();
}

Task<std::vector<domain::AuditEntry>> MysqlOperatorRepository::audit(int limit, std::optional<std::int64_t> before_id,
                                                                     std::optional<domain::AuditKind> kind) {
  auto work = [limit, before_id, kind](MysqlConnection& db) {
    constexpr std::string_view kColumns =
        "SELECT id, admin_id, kind, action, target, before_json, after_json, request_id, created_at FROM admin_audit ";
    const std::int64_t before = before_id.value_or(INT64_MAX);
    // With a kind, idx_admin_audit_kind walks only that kind's rows (a dashboard's reads do not
    // stand between the console and the last change).
    const auto rows = kind ? db.query(std::string(kColumns) + "WHERE kind = ? AND id < ? ORDER BY id DESC LIMIT ?",
                                      {domain::to_string(*kind), before, limit})
                           : db.query(std::string(kColumns) + "WHERE id < ? ORDER BY id DESC LIMIT ?", {before, limit});
    std::vector<domain::AuditEntry> entries;
    for (const auto& row : rows.rows) {
      RowReader read(row);
      domain::AuditEntry entry;
      entry.id = read.int64();
      entry.admin = domain::UserId{read.int64()};
      const auto stored_kind = read.text();
      entry.kind = domain::audit_kind_from(stored_kind).value_or(domain::AuditKind::kChange);
      entry.action = read.text();
      entry.target = read.text();
      entry.before_json = read.optional_text().value_or("");
      entry.after_json = read.optional_text().value_or("");
      entry.request_id = read.text();
      entry.created_at = read.timestamp();
      entries.push_back(std::move(entry));
    }
    return entries;
  };
  co_return co_await pool_.run(work);
}

// Views in, owned copies in the unit of work: g++ 12 destroys by-value coroutine arguments made in
// a co_await expression twice (see MysqlPool::run).
Task<void> MysqlOperatorRepository::record_read(const domain::AuditContext& who, std::string_view action,
                                                std::string_view target, std::string_view asked) {
  auto work = [who = who, action = std::string(action), target = std::string(target),
               asked = std::string(asked)](MysqlConnection& db) {
    insert_read_audit(db, who, action, target, asked);
    return 0;
  };
  co_await pool_.run(work);
}

Task<void> MysqlOperatorRepository::record_refused(const domain::AuditContext& who, std::string_view action,
                                                   std::string_view target, std::string_view refusal) {
  auto work = [who = who, action = std::string(action), target = std::string(target),
               refusal = std::string(refusal)](MysqlConnection& db) {
    insert_read_audit(db, who, action, target, refusal, domain::AuditKind::kRefused);
    return 0;
  };
  co_await pool_.run(work);
}

domain::VenueSummary insert_venue(MysqlConnection& db, const std::string& name, const domain::VenueLayout& layout,
                                  const domain::AuditContext& who) {
  const auto venue = domain::VenueId{
      static_cast<std::int64_t>(db.execute("INSERT INTO venue (name) VALUES (?)", {name}).last_insert_id)};
  insert_venue_seats(db, venue, layout);
  domain::VenueSummary summary{venue, name, static_cast<std::int64_t>(layout.seats.size()), layout.tiers, {}};
  insert_audit(db, who, "venue.create", "venue:" + std::to_string(venue.value), {"", venue_audit_json(summary)});
  return summary;
}

Task<domain::VenueSummary> MysqlOperatorRepository::create_venue(const std::string& name,
                                                                 const domain::VenueLayout& layout,
                                                                 const domain::AuditContext& who) {
  auto work = [&](MysqlConnection& db) {
    Transaction tx(db);
    auto summary = insert_venue(db, name, layout, who);
    tx.commit();
    return summary;
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<domain::VenueSummary>> MysqlOperatorRepository::list_venues() {
  auto work = [](MysqlConnection& db) {
    std::vector<domain::VenueSummary> venues;
    const auto rows = db.query(
        "SELECT v.id, v.name, v.created_at, (SELECT COUNT(*) FROM venue_seat s WHERE s.venue_id = v.id) "
        "FROM venue v ORDER BY v.id");
    for (const auto& row : rows.rows) {
      RowReader read(row);
      domain::VenueSummary venue;
      venue.id = domain::VenueId{read.int64()};
      venue.name = read.text();
      venue.created_at = read.timestamp();
      venue.seats = read.int64();
      venue.tiers = tiers_of(db, venue.id);
      venues.push_back(std::move(venue));
    }
    return venues;
  };
  co_return co_await pool_.run(work);
}

Task<std::optional<domain::VenueSummary>> MysqlOperatorRepository::replace_layout(domain::VenueId venue,
                                                                                  const domain::VenueLayout& layout,
                                                                                  domain::Timestamp now,
                                                                                  const domain::AuditContext& who) {
  auto work = [&](MysqlConnection& db) -> std::optional<domain::VenueSummary> {
    Transaction tx(db);
    // The venue row lock orders this against create_schedule (which locks it too).
    const auto found = db.query("SELECT name FROM venue WHERE id = ? FOR UPDATE", {venue.value});
    if (found.rows.empty()) return std::nullopt;
    const auto schedules = db.query(
        "SELECT s.id, s.booking_opens_at <= ?, EXISTS (SELECT 1 FROM reservation r WHERE r.schedule_id = s.id) "
        "FROM schedule s WHERE s.venue_id = ? FOR UPDATE",
        {now, venue.value});
    std::vector<domain::ScheduleId> copies;
    for (const auto& row : schedules.rows) {
      RowReader read(row);
      const domain::ScheduleId schedule{read.int64()};
      const bool opened = read.flag();
      const bool sold = read.flag();
      if (opened || sold) {
        throw DomainError(ErrorCode::kConflict, "venue " + std::to_string(venue.value) + " is used by schedule " +
                                                    std::to_string(schedule.value) + ", which " +
                                                    (sold ? "has reservations" : "is open for booking") +
                                                    ": its layout cannot change");
      }
      copies.push_back(schedule);
    }
    const auto before_seats = db.query("SELECT COUNT(*) FROM venue_seat WHERE venue_id = ?", {venue.value});
    const domain::VenueSummary before{
        venue, to_string(found.rows[0][0]), to_int64(before_seats.rows[0][0]), tiers_of(db, venue), {}};
    // Each schedule keeps the tier prices it was given, for the tiers the new layout still has.
    std::vector<std::vector<std::pair<std::string, domain::Money>>> kept_prices;
    for (const auto schedule : copies) {
      std::vector<std::pair<std::string, domain::Money>> prices;
      const auto rows = db.query(
          "SELECT v.tier, MIN(s.price) FROM seat s JOIN venue_seat v ON v.venue_id = ? AND v.seat_no = s.seat_no "
          "WHERE s.schedule_id = ? GROUP BY v.tier",
          {venue.value, schedule.value});
      for (const auto& row : rows.rows) prices.emplace_back(to_string(row[0]), to_money(row[1]));
      kept_prices.push_back(std::move(prices));
      db.execute("DELETE FROM seat WHERE schedule_id = ?", {schedule.value});
    }
    db.execute("DELETE FROM venue_seat WHERE venue_id = ?", {venue.value});
    insert_venue_seats(db, venue, layout);
    for (std::size_t i = 0; i < copies.size(); ++i) {
      std::vector<std::pair<std::string, domain::Money>> prices;
      for (const auto& [tier, price] : kept_prices[i]) {
        for (const auto& tier_price : layout.tiers) {
          if (tier_price.first == tier) prices.emplace_back(tier, price);
        }
      }
      copy_venue_seats(db, copies[i], venue, prices);
    }
    domain::VenueSummary after{venue, before.name, static_cast<std::int64_t>(layout.seats.size()), layout.tiers, {}};
    insert_audit(db, who, "venue.layout", "venue:" + std::to_string(venue.value),
                 {venue_audit_json(before), venue_audit_json(after)});
    tx.commit();
    return after;
  };
  co_return co_await pool_.run(work);
}

domain::Concert insert_concert(MysqlConnection& db, const std::string& title, const std::string& description,
                               const domain::AuditContext& who) {
  const auto id = static_cast<std::int64_t>(
      db.execute("INSERT INTO concert (title, description) VALUES (?, ?)", {title, description}).last_insert_id);
  const auto created = db.query("SELECT created_at FROM concert WHERE id = ?", {id});
  JsonWriter after;
  after.begin_object().key("id").integer(id).key("title").string(title).key("description").string(description);
  after.end_object();
  insert_audit(db, who, "concert.create", "concert:" + std::to_string(id), {"", std::move(after).str()});
  return domain::Concert{domain::ConcertId{id}, title, description, to_timestamp(created.rows[0][0])};
}

Task<domain::Concert> MysqlOperatorRepository::create_concert(const std::string& title, const std::string& description,
                                                              const domain::AuditContext& who) {
  auto work = [&](MysqlConnection& db) {
    Transaction tx(db);
    auto concert = insert_concert(db, title, description, who);
    tx.commit();
    return concert;
  };
  co_return co_await pool_.run(work);
}

domain::ScheduleDetail insert_schedule(MysqlConnection& db, const domain::NewSchedule& request,
                                       const domain::AuditContext& who) {
  if (db.query("SELECT 1 FROM concert WHERE id = ?", {request.concert.value}).rows.empty()) {
    throw DomainError(ErrorCode::kNotFound, "concert " + std::to_string(request.concert.value) + " not found",
                      {{"concertId", "no such concert"}});
  }
  // Locks the venue row: its layout cannot be replaced while its seats are being copied.
  if (db.query("SELECT 1 FROM venue WHERE id = ? FOR UPDATE", {request.venue.value}).rows.empty()) {
    throw DomainError(ErrorCode::kNotFound, "venue " + std::to_string(request.venue.value) + " not found",
                      {{"venueId", "no such venue"}});
  }
  const auto tiers = tiers_of(db, request.venue);
  std::vector<domain::FieldError> unknown;
  for (const auto& [tier, price] : request.tier_prices) {
    bool known = false;
    for (const auto& venue_tier : tiers) known = known || venue_tier.first == tier;
    if (!known) unknown.push_back({"prices." + tier, "the venue has no such tier"});
  }
  if (!unknown.empty()) {
    throw DomainError(ErrorCode::kInvalidArgument, "prices name tiers the venue does not have", std::move(unknown));
  }
  const auto id = static_cast<std::int64_t>(
      db.execute("INSERT INTO schedule (concert_id, venue_id, show_at, booking_opens_at, prequeue_opens_at, "
                 "max_active, admit_per_second, max_seats_per_user) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 {request.concert.value, request.venue.value, request.times.show_at, request.times.booking_opens_at,
                  request.times.prequeue_opens_at, request.settings.max_active, request.settings.admit_per_second,
                  request.settings.max_seats_per_user})
          .last_insert_id);
  // One statement copies the layout; tier prices overridden by the request are applied on the way.
  copy_venue_seats(db, domain::ScheduleId{id}, request.venue, request.tier_prices);
  auto detail = detail_of(db, domain::ScheduleId{id});
  insert_audit(db, who, "schedule.create", "schedule:" + std::to_string(id),
               {"", schedule_audit_json(detail->schedule, &request)});
  return std::move(*detail);
}

Task<domain::ScheduleDetail> MysqlOperatorRepository::create_schedule(const domain::NewSchedule& request,
                                                                      const domain::AuditContext& who) {
  auto work = [&](MysqlConnection& db) {
    Transaction tx(db);
    auto detail = insert_schedule(db, request, who);
    tx.commit();
    return detail;
  };
  co_return co_await pool_.run(work);
}

Task<std::optional<domain::ScheduleDetail>> MysqlOperatorRepository::find_schedule(domain::ScheduleId schedule) {
  auto work = [schedule](MysqlConnection& db) { return detail_of(db, schedule); };
  co_return co_await pool_.run(work);
}

Task<std::optional<domain::Schedule>> MysqlOperatorRepository::set_sale_state(domain::ScheduleId schedule,
                                                                              domain::SaleState state,
                                                                              const domain::AuditContext& who) {
  auto work = [&](MysqlConnection& db) -> std::optional<domain::Schedule> {
    Transaction tx(db);
    if (db.query("SELECT 1 FROM schedule WHERE id = ? FOR UPDATE", {schedule.value}).rows.empty()) return std::nullopt;
    auto before = load_schedule(db, schedule);
    db.execute(
        "UPDATE schedule SET sale_state = ?, controls_version = " + std::string(kNextControlsVersion) + " WHERE id = ?",
        {domain::to_string(state), schedule.value});
    auto after = load_schedule(db, schedule);
    insert_audit(db, who, "schedule.sale-state", "schedule:" + std::to_string(schedule.value),
                 {schedule_audit_json(*before), schedule_audit_json(*after)});
    tx.commit();
    return after;
  };
  co_return co_await pool_.run(work);
}

Task<std::optional<domain::Schedule>> MysqlOperatorRepository::update_queue_settings(domain::ScheduleId schedule,
                                                                                     const domain::QueueSettings& patch,
                                                                                     const domain::AuditContext& who) {
  auto work = [&](MysqlConnection& db) -> std::optional<domain::Schedule> {
    Transaction tx(db);
    if (db.query("SELECT 1 FROM schedule WHERE id = ? FOR UPDATE", {schedule.value}).rows.empty()) return std::nullopt;
    auto before = load_schedule(db, schedule);
    db.execute(
        "UPDATE schedule SET max_active = COALESCE(?, max_active), admit_per_second = COALESCE(?, admit_per_second), "
        "max_seats_per_user = COALESCE(?, max_seats_per_user), controls_version = " +
            std::string(kNextControlsVersion) + " WHERE id = ?",
        {patch.max_active, patch.admit_per_second, patch.max_seats_per_user, schedule.value});
    auto after = load_schedule(db, schedule);
    insert_audit(db, who, "schedule.queue-settings", "schedule:" + std::to_string(schedule.value),
                 {schedule_audit_json(*before), schedule_audit_json(*after)});
    tx.commit();
    return after;
  };
  co_return co_await pool_.run(work);
}

Task<std::optional<domain::ScheduleSales>> MysqlOperatorRepository::sales(domain::ScheduleId schedule) {
  auto work = [schedule](MysqlConnection& db) -> std::optional<domain::ScheduleSales> {
    // One round trip of scalar subqueries, each on an index: cheap enough for a dashboard polling
    // every second.
    const auto result = db.query(
        "SELECT (SELECT COUNT(*) FROM schedule WHERE id = ?), "
        "(SELECT COUNT(*) FROM reservation WHERE schedule_id = ? AND active = 1 AND status = 'HELD'), "
        "(SELECT COUNT(*) FROM reservation WHERE schedule_id = ? AND active = 1 AND status = 'CONFIRMED'), "
        "(SELECT COALESCE(SUM(amount), 0) FROM payment_order WHERE schedule_id = ? AND status = 'PAID'), "
        "(SELECT COUNT(*) FROM payment_order WHERE schedule_id = ? AND status = 'PAID' "
        "   AND updated_at > UTC_TIMESTAMP(3) - INTERVAL 10 SECOND), "
        "(SELECT COUNT(*) FROM payment_order WHERE schedule_id = ? AND status = 'CONFIRMING'), "
        "(SELECT COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(updated_at), UTC_TIMESTAMP(3)) DIV 1000, 0) "
        "   FROM payment_order WHERE schedule_id = ? AND status = 'CONFIRMING'), "
        "(SELECT COUNT(*) FROM outbox_event WHERE published_at IS NULL), "
        "(SELECT COUNT(*) FROM dead_letter WHERE replayed_at IS NULL AND discarded_at IS NULL)",
        {schedule.value, schedule.value, schedule.value, schedule.value, schedule.value, schedule.value,
         schedule.value});
    RowReader read(result.rows[0]);
    if (read.int64() == 0) return std::nullopt;
    domain::ScheduleSales sales;
    sales.held = read.int64();
    sales.sold = read.int64();
    sales.revenue = read.money();
    sales.confirmed_last_10s = read.int64();
    sales.confirming = read.int64();
    sales.oldest_confirming_ms = read.int64();
    sales.outbox_backlog = read.int64();
    sales.dead_letters = read.int64();
    return sales;
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<domain::OrderLookup>> MysqlOperatorRepository::orders_by_number(const std::string& order_no) {
  auto work = [&](MysqlConnection& db) {
    std::vector<domain::OrderLookup> found;
    const auto rows = db.query("SELECT order_no FROM payment_order WHERE order_no = ?", {order_no});
    if (rows.rows.empty()) return found;
    // lock_order reads the order with its seats; outside a transaction its lock ends with the read.
    if (auto order = lock_order(db, order_no)) found.push_back({*order, email_of(db, order->user)});
    return found;
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<domain::OrderLookup>> MysqlOperatorRepository::orders_by_email(const std::string& email, int limit) {
  auto work = [&](MysqlConnection& db) {
    std::vector<domain::OrderLookup> found;
    const auto rows = db.query(
        "SELECT o.order_no, u.email FROM payment_order o JOIN user_account u ON u.id = o.user_id WHERE u.email = ? "
        "ORDER BY o.id DESC LIMIT ?",
        {email, limit});
    for (const auto& row : rows.rows) {
      // The address as stored, not as the operator typed it (the lookup ignores case).
      if (auto order = lock_order(db, to_string(row[0]))) found.push_back({*order, to_string(row[1])});
    }
    return found;
  };
  co_return co_await pool_.run(work);
}

Task<domain::RefundResult> MysqlOperatorRepository::refund_order(const std::string& order_no, domain::Timestamp now,
                                                                 const domain::AuditContext& who) {
  auto work = [&](MysqlConnection& db) {
    return with_deadlock_retries([&] {
      Transaction tx(db);
      domain::RefundInput input;
      input.order = lock_order(db, order_no);
      if (input.order) {
        const auto rows = db.query(
            "SELECT id, seat_no, status FROM reservation WHERE payment_order_id = ? AND active = 1 ORDER BY seat_no "
            "FOR UPDATE",
            {input.order->id});
        for (const auto& row : rows.rows) {
          RowReader read(row);
          domain::SeatRow seat;
          seat.id = domain::ReservationId{read.int64()};
          seat.schedule = input.order->schedule;
          seat.seat_no = read.text();
          seat.owner = input.order->user;
          seat.status = domain::reservation_status_from(read.text()).value_or(domain::ReservationStatus::kConfirmed);
          input.live_rows.push_back(std::move(seat));
        }
      }
      const auto decision = domain::decide_refund(input);
      domain::RefundResult result{decision.kind, input.order.value_or(domain::PaymentOrder{}), decision.events, {}, {}};
      if (input.order) result.email = email_of(db, input.order->user);
      if (decision.kind == domain::RefundDecision::Kind::kAlreadyRefunded && !result.order.seat_nos.empty()) {
        Params params{result.order.schedule.value};
        append_params(params, result.order.seat_nos);
        std::set<std::string> live;
        for (const auto& row : db.query("SELECT seat_no FROM reservation WHERE schedule_id = ? AND active = 1 AND "
                                        "seat_no IN (" +
                                            placeholders(result.order.seat_nos.size()) + ")",
                                        params)
                                   .rows) {
          live.insert(to_string(row[0]));
        }
        for (const auto& seat : result.order.seat_nos) {
          if (!live.contains(seat)) result.seats_free_now.push_back(seat);
        }
      }
      if (decision.kind != domain::RefundDecision::Kind::kRefunded) return result;

      const auto before = order_audit_json(*input.order);
      if (!decision.cancel.empty()) {
        Params params{std::string(domain::to_string(domain::ReservationStatus::kCancelled)), now};
        for (const auto id : decision.cancel) params.emplace_back(id.value);
        db.execute("UPDATE reservation SET status = ?, active = NULL, updated_at = ? WHERE id IN (" +
                       placeholders(decision.cancel.size()) + ")",
                   params);
      }
      db.execute("UPDATE payment_order SET status = ?, fail_reason = ?, updated_at = ? WHERE id = ?",
                 {std::string(domain::to_string(domain::OrderStatus::kCancelled)),
                  std::string(domain::kRefundedByOperator), now, input.order->id});
      result.order.status = domain::OrderStatus::kCancelled;
      result.order.fail_reason = std::string(domain::kRefundedByOperator);
      request_refund(db, topics_, result.order, std::string(domain::kRefundedByOperator), now);
      insert_audit(db, who, "order.refund", "order:" + order_no, {before, order_audit_json(result.order)});
      tx.commit();
      return result;
    });
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<domain::Schedule>> MysqlOperatorRepository::controlled_schedules() {
  auto work = [](MysqlConnection& db) {
    std::vector<domain::Schedule> schedules;
    const auto rows = db.query(
        "SELECT id FROM schedule WHERE sale_state <> 'OPEN' OR max_active IS NOT NULL OR admit_per_second IS NOT NULL "
        "OR controls_version > 0 ORDER BY id");
    for (const auto& row : rows.rows) {
      if (auto schedule = load_schedule(db, domain::ScheduleId{to_int64(row[0])})) schedules.push_back(*schedule);
    }
    return schedules;
  };
  co_return co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
