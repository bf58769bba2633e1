#include "application/admin_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "application/seat_events.hpp"
#include "domain/booking_rules.hpp"
#include "domain/errors.hpp"
#include "support/json_writer.hpp"
#include "support/utf8.hpp"

namespace ticketing::application {

using domain::DomainError;
using domain::ErrorCode;
using support::JsonWriter;

namespace {

std::string schedule_target(domain::ScheduleId schedule) {
  return "schedule:" + std::to_string(schedule.value);
}

DomainError schedule_not_found(domain::ScheduleId schedule) {
  return DomainError(ErrorCode::kNotFound, fmt::format("schedule {} not found", schedule.value));
}

// What the queue keeps of a schedule: its sale state and settings, with the version they have.
domain::QueueControls controls_of(const domain::Schedule& schedule) {
  return {schedule.sale_state, schedule.settings, schedule.controls_version};
}

}  // namespace

Task<std::vector<domain::AuditEntry>> AdminService::audit(const domain::AuditContext& who, int limit,
                                                          std::optional<std::int64_t> before_id,
                                                          std::optional<domain::AuditKind> kind) {
  if (limit < 1 || limit > 500) throw domain::invalid_argument("limit", "must be 1 to 500");
  auto entries = co_await repository_.audit(limit, before_id, kind);
  JsonWriter details;
  details.begin_object().key("limit").integer(limit).key("before");
  if (before_id) {
    details.integer(*before_id);
  } else {
    details.null();
  }
  details.key("kind");
  if (kind) {
    details.string(domain::to_string(*kind));
  } else {
    details.null();
  }
  details.end_object();
  co_await repository_.record_read(who, "audit.list", "audit", details.str());
  co_return entries;
}

Task<void> AdminService::record_refused(const domain::AuditContext& who, std::string_view call, std::string_view target,
                                        int status, std::string_view code, std::string_view message) {
  constexpr std::size_t kMaxMessage = 300;
  JsonWriter refusal;
  refusal.begin_object()
      .key("status")
      .integer(status)
      .key("code")
      .string(code)
      .key("message")
      .string(support::utf8_prefix(message, kMaxMessage))
      .end_object();
  try {
    co_await repository_.record_refused(who, call, target, refusal.str());
  } catch (const std::exception& error) {
    spdlog::warn("audit of a refused {} not written: {}", call, error.what());
  }
}

Task<domain::VenueSummary> AdminService::create_venue(const domain::AuditContext& who, const std::string& name,
                                                      const std::vector<domain::SeatRun>& runs,
                                                      std::vector<domain::FieldError> parse_errors) {
  const domain::VenueLayout layout = domain::build_layout(runs, std::move(parse_errors));
  co_return co_await repository_.create_venue(name, layout, who);
}

Task<domain::VenueSummary> AdminService::replace_layout(const domain::AuditContext& who, domain::VenueId venue,
                                                        const std::vector<domain::SeatRun>& runs,
                                                        std::vector<domain::FieldError> parse_errors) {
  const domain::VenueLayout layout = domain::build_layout(runs, std::move(parse_errors));
  auto replaced = co_await repository_.replace_layout(venue, layout, clock_.now(), who);
  if (!replaced) throw DomainError(ErrorCode::kNotFound, fmt::format("venue {} not found", venue.value));
  co_return std::move(*replaced);
}

Task<std::vector<domain::VenueSummary>> AdminService::venues(const domain::AuditContext& who) {
  auto venues = co_await repository_.list_venues();
  JsonWriter details;
  details.begin_object().key("found").integer(static_cast<std::int64_t>(venues.size())).end_object();
  co_await repository_.record_read(who, "venue.list", "venues", details.str());
  co_return venues;
}

Task<domain::Concert> AdminService::create_concert(const domain::AuditContext& who, const std::string& title,
                                                   const std::string& description) {
  co_return co_await repository_.create_concert(title, description, who);
}

Task<domain::ScheduleDetail> AdminService::create_schedule(const domain::AuditContext& who,
                                                           const domain::NewSchedule& request) {
  domain::check_new_schedule(request.times, request.settings, clock_.now());
  auto created = co_await repository_.create_schedule(request, who);
  co_await publish(created.schedule);
  co_return created;
}

Task<domain::ScheduleDetail> AdminService::schedule(const domain::AuditContext& who, domain::ScheduleId schedule) {
  auto found = co_await repository_.find_schedule(schedule);
  if (!found) throw schedule_not_found(schedule);
  const std::string target = schedule_target(schedule);
  co_await repository_.record_read(who, "schedule.read", target, "{}");
  co_return std::move(*found);
}

Task<domain::Schedule> AdminService::set_sale_state(const domain::AuditContext& who, domain::ScheduleId schedule,
                                                    domain::SaleState state) {
  auto changed = co_await repository_.set_sale_state(schedule, state, who);
  if (!changed) throw schedule_not_found(schedule);
  co_await publish(*changed);
  co_return std::move(*changed);
}

Task<domain::Schedule> AdminService::update_queue_settings(const domain::AuditContext& who, domain::ScheduleId schedule,
                                                           const domain::QueueSettings& patch) {
  domain::check_queue_settings(patch);
  auto changed = co_await repository_.update_queue_settings(schedule, patch, who);
  if (!changed) throw schedule_not_found(schedule);
  co_await publish(*changed);
  co_return std::move(*changed);
}

// The database has committed; the queue follows, and this instance's cached copy of the schedule
// (whose seat limit the hold path reads) is dropped. Should Redis fail here the call answers 503;
// the workers' restore publishes the committed change within its interval (or a repeat does).
Task<void> AdminService::publish(const domain::Schedule& schedule) {
  if (catalog_ != nullptr) catalog_->forget_schedule(schedule.id);
  co_await queue_.apply_controls(schedule.id, controls_of(schedule));
}

Task<std::size_t> AdminService::restore_controls() {
  const auto schedules = co_await repository_.controlled_schedules();
  std::size_t restored = 0;
  std::size_t failed = 0;
  std::string first_failure;
  for (const auto& schedule : schedules) {
    try {
      co_await queue_.restore_controls(schedule.id, controls_of(schedule));
      ++restored;
    } catch (const std::exception& failure) {
      // One schedule's failure does not keep the others waiting; the round reports them once.
      if (failed++ == 0) first_failure = fmt::format("schedule {}: {}", schedule.id.value, failure.what());
    }
  }
  if (failed > 0) {
    throw std::runtime_error(fmt::format("{} of {} schedules' queue controls not restored (first: {})", failed,
                                         schedules.size(), first_failure));
  }
  co_return restored;
}

Task<ScheduleStats> AdminService::stats(const domain::AuditContext& who, domain::ScheduleId schedule) {
  const auto found = co_await repository_.find_schedule(schedule);
  if (!found) throw schedule_not_found(schedule);
  ScheduleStats stats;
  stats.schedule = schedule;
  stats.sale_state = found->schedule.sale_state;
  stats.queue = co_await queue_.snapshot(schedule);
  if (fair_start_ != nullptr) stats.prequeued = co_await fair_start_->prequeued_count(schedule);
  auto sales = co_await repository_.sales(schedule);
  if (!sales) throw schedule_not_found(schedule);
  stats.sales = *sales;
  stats.confirmations_per_second = static_cast<double>(sales->confirmed_last_10s) / 10.0;
  stats.at = clock_.now();
  const std::string target = schedule_target(schedule);
  co_await repository_.record_read(who, "schedule.stats", target, "{}");
  co_return stats;
}

Task<std::vector<domain::OrderLookup>> AdminService::find_orders(const domain::AuditContext& who,
                                                                 const std::optional<std::string>& order_no,
                                                                 const std::optional<std::string>& email) {
  if (order_no.has_value() == email.has_value()) {
    throw domain::invalid_argument("orderNo", "give exactly one of the query parameters orderNo and email");
  }
  // Two statements, not `?:` around two co_awaits: g++ 12 destroys such a temporary twice.
  std::vector<domain::OrderLookup> orders;
  if (order_no) {
    orders = co_await repository_.orders_by_number(*order_no);
  } else {
    orders = co_await repository_.orders_by_email(*email, 50);
  }
  JsonWriter details;
  details.begin_object();
  if (order_no) {
    details.key("orderNo").string(*order_no);
  } else {
    details.key("email").string(*email);
  }
  details.key("found").integer(static_cast<std::int64_t>(orders.size())).end_object();
  const std::string target = order_no ? "order:" + *order_no : std::string("orders");
  co_await repository_.record_read(who, "order.find", target, details.str());
  co_return orders;
}

Task<domain::RefundResult> AdminService::refund(const domain::AuditContext& who, const std::string& order_no) {
  auto result = co_await repository_.refund_order(order_no, clock_.now(), who);
  using Kind = domain::RefundDecision::Kind;
  switch (result.kind) {
    case Kind::kNotFound: throw DomainError(ErrorCode::kNotFound, fmt::format("order {} not found", order_no));
    case Kind::kNotPaid:
      throw DomainError(ErrorCode::kConflict, fmt::format("order {} is {}, not PAID: only a paid order is refunded",
                                                          order_no, domain::to_string(result.order.status)));
    case Kind::kAlreadyRefunded: {
      // The first refund's removal of the sold locks may not have happened (Redis failed then, or
      // its answer was lost after the commit and this is the operator's retry): a sold lock never
      // expires, so it would keep the seat from every hold for good. Remove the buyer's locks of
      // the seats nobody holds now (compare-and-delete: nobody else's lock goes, nor the buyer's
      // lock of a seat held or bought again since).
      if (!result.seats_free_now.empty()) {
        try {
          co_await seat_locks_.unlock(result.order.schedule, result.order.user, result.seats_free_now);
        } catch (const domain::DependencyUnavailable& error) {
          spdlog::warn("refund of {} (repeated): seat locks not removed ({})", order_no, error.what());
        }
      }
      // Served, and changed nothing: audited like a read (every /admin call is, DESIGN.md §14).
      const std::string target = "order:" + order_no;
      JsonWriter details;
      details.begin_object()
          .key("refunded")
          .boolean(false)
          .key("orderStatus")
          .string(domain::to_string(result.order.status))
          .end_object();
      co_await repository_.record_read(who, "order.refund", target, details.str());
      co_return result;
    }
    case Kind::kRefunded: break;
  }
  // Committed: the seats' sold locks go (owner compare-and-delete), then the live map hears it.
  // A Redis failure here leaves a stale lock that makes Redis refuse holds the database would
  // allow (the seat shows AVAILABLE); it is logged, and repeating the refund removes it (above).
  for (const auto& change : result.events) {
    try {
      co_await seat_locks_.unlock(change.schedule, result.order.user, change.seat_nos);
    } catch (const domain::DependencyUnavailable& error) {
      spdlog::warn("refund of {}: seat locks not removed ({})", order_no, error.what());
    }
  }
  emit_seat_changes(seat_events_, result.events);
  co_return result;
}

Task<std::vector<domain::DeadLetter>> AdminService::dead_letters(const domain::AuditContext& who, int limit,
                                                                 bool pending_only,
                                                                 std::optional<std::int64_t> before) {
  if (limit < 1 || limit > 500) throw domain::invalid_argument("limit", "must be 1 to 500");
  auto letters = co_await dead_letters_.list(limit, pending_only, before);
  JsonWriter details;
  details.begin_object().key("limit").integer(limit).key("pendingOnly").boolean(pending_only);
  if (before) details.key("before").integer(*before);
  details.end_object();
  co_await repository_.record_read(who, "dead-letter.list", "dead-letters", details.str());
  co_return letters;
}

Task<domain::DeadLetter> AdminService::discard_dead_letter(const domain::AuditContext& who, std::int64_t id,
                                                           std::string reason) {
  if (!domain::is_reason_text(reason)) {
    throw domain::invalid_argument("reason",
                                   "must be 1 to 255 characters of text (no control characters), not only spaces");
  }
  const auto found = co_await dead_letters_.find(id);
  if (!found) throw DomainError(ErrorCode::kNotFound, fmt::format("dead letter {} not found", id));
  if (found->event) {
    // A payment of an order we have: a replay settles it (or finds it settled). Setting it aside
    // could leave a paid order CONFIRMING with nothing left to say so. An event that does not match
    // its order (forged or corrupted) is not its payment: a replay is refused, so it may go.
    const auto orders = co_await repository_.orders_by_number(found->event->order_no);
    if (!orders.empty() && !domain::payment_event_mismatch(*found->event, orders.front().order)) {
      throw DomainError(
          ErrorCode::kConflict,
          fmt::format("dead letter {} is the payment of order {}: replay it instead", id, found->event->order_no));
    }
  }
  co_return co_await dead_letters_.discard(id, clock_.now(), who, reason);
}

Task<domain::ConfirmOutcome> AdminService::replay_dead_letter(const domain::AuditContext& who, std::int64_t id) {
  const auto found = co_await dead_letters_.find(id);
  if (!found) throw DomainError(ErrorCode::kNotFound, fmt::format("dead letter {} not found", id));
  if (!found->event) {
    throw DomainError(ErrorCode::kUndecodableEvent,
                      fmt::format("dead letter {} cannot be replayed: {}", id, found->decode_error),
                      {{"payload", found->decode_error}});
  }
  auto outcome = co_await confirmation_.handle(*found->event);
  if (outcome.order.order_no.empty()) {
    // A duplicate (settled before, by a delivery or an earlier replay) changed nothing and read no
    // order: the answer shows the order as it is now, never a blank one.
    const auto now = co_await repository_.orders_by_number(found->event->order_no);
    if (!now.empty()) outcome.order = now.front().order;
  }
  const char* result = "confirmed";
  switch (outcome.kind) {
    case domain::ConfirmOutcome::Kind::kConfirmed: result = "confirmed"; break;
    case domain::ConfirmOutcome::Kind::kCancelled: result = "cancelled"; break;
    case domain::ConfirmOutcome::Kind::kDuplicate: result = "duplicate"; break;
    case domain::ConfirmOutcome::Kind::kIgnored: result = "ignored"; break;
  }
  co_await dead_letters_.mark_replayed(id, clock_.now(), who, result);
  co_return outcome;
}

}  // namespace ticketing::application
