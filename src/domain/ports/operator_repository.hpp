#pragma once
// The operator console's storage (DESIGN.md §14). Every change is written in one transaction
// together with its admin_audit row (AuditContext names who and which request).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "domain/async.hpp"
#include "domain/booking_rules.hpp"
#include "domain/catalog.hpp"
#include "domain/operator_console.hpp"

namespace ticketing::domain {

struct VenueSummary {
  VenueId id;
  std::string name;
  std::int64_t seats = 0;
  std::vector<std::pair<std::string, Money>> tiers;  // tier → price
  Timestamp created_at{};
};

struct NewSchedule {
  ConcertId concert;
  VenueId venue;
  ScheduleTimes times;
  std::vector<std::pair<std::string, Money>> tier_prices;  // overrides of the venue's tier prices
  QueueSettings settings;
};

struct ScheduleDetail {
  Schedule schedule;
  std::int64_t seats = 0;
};

// The database half of a schedule's live stats.
struct ScheduleSales {
  std::int64_t held = 0;                  // live HELD seats
  std::int64_t sold = 0;                  // CONFIRMED seats
  Money revenue;                          // sum of PAID orders
  std::int64_t confirmed_last_10s = 0;    // orders that became PAID in the last 10 s
  std::int64_t confirming = 0;            // orders paid, booking not yet confirmed
  std::int64_t oldest_confirming_ms = 0;  // age of the oldest of those (confirmation lag)
  std::int64_t outbox_backlog = 0;        // unpublished outbox rows (all schedules)
  std::int64_t dead_letters = 0;          // dead-lettered messages neither replayed nor discarded (all schedules)
};

// The audit row's before/after for a change: JSON text of the state before and after it.
struct Change {
  std::string before_json;
  std::string after_json;
};

struct OrderLookup {
  PaymentOrder order;
  std::string email;  // the buyer's
};

struct RefundResult {
  RefundDecision::Kind kind = RefundDecision::Kind::kRefunded;
  PaymentOrder order;               // as it is afterwards (kRefunded, kAlreadyRefunded, kNotPaid)
  std::vector<SeatChanged> events;  // committed seat changes (kRefunded)
  std::string email;                // the buyer's (empty when the order does not exist)
  // kAlreadyRefunded: the order's seats that no live row holds now (neither its buyer's new hold or
  // purchase nor anyone else's): a sold lock left on one of them is stale.
  std::vector<std::string> seats_free_now;
};

class OperatorRepository {
 public:
  virtual ~OperatorRepository() = default;

  // Newest first; `before_id` pages (rows with a smaller id); `kind` keeps only changes or reads.
  virtual Task<std::vector<AuditEntry>> audit(int limit, std::optional<std::int64_t> before_id,
                                              std::optional<AuditKind> kind) = 0;
  // Appends a read's audit row: `asked` (JSON) is what the call asked for.
  virtual Task<void> record_read(const AuditContext& who, std::string_view action, std::string_view target,
                                 std::string_view asked) = 0;
  // Appends a refused call's audit row: `refusal` (JSON) is the answer it got (status, code, message).
  virtual Task<void> record_refused(const AuditContext& who, std::string_view action, std::string_view target,
                                    std::string_view refusal) = 0;

  virtual Task<VenueSummary> create_venue(const std::string& name, const VenueLayout& layout,
                                          const AuditContext& who) = 0;
  virtual Task<std::vector<VenueSummary>> list_venues() = 0;
  // Replaces a venue's layout and re-copies it into the venue's schedules (keeping each schedule's
  // tier prices). nullopt: no such venue. 409 CONFLICT while any schedule of the venue has a
  // reservation or its booking has opened: seats people may be buying never move.
  virtual Task<std::optional<VenueSummary>> replace_layout(VenueId venue, const VenueLayout& layout, Timestamp now,
                                                           const AuditContext& who) = 0;

  virtual Task<Concert> create_concert(const std::string& title, const std::string& description,
                                       const AuditContext& who) = 0;
  // Copies the venue's seats into the schedule (tier prices overridden as asked). 404 naming
  // concertId / venueId when one does not exist; 400 naming prices when a tier is not the venue's.
  virtual Task<ScheduleDetail> create_schedule(const NewSchedule& request, const AuditContext& who) = 0;
  virtual Task<std::optional<ScheduleDetail>> find_schedule(ScheduleId schedule) = 0;

  // Sets the state (nullopt: the schedule does not exist); returns the schedule afterwards.
  virtual Task<std::optional<Schedule>> set_sale_state(ScheduleId schedule, SaleState state,
                                                       const AuditContext& who) = 0;
  // Applies the fields set in `patch` (the others keep their values); returns the schedule afterwards.
  virtual Task<std::optional<Schedule>> update_queue_settings(ScheduleId schedule, const QueueSettings& patch,
                                                              const AuditContext& who) = 0;

  virtual Task<std::optional<ScheduleSales>> sales(ScheduleId schedule) = 0;
  // Schedules whose sale state or settings differ from the defaults (not OPEN, or a setting set).
  virtual Task<std::vector<Schedule>> controlled_schedules() = 0;

  // Orders by number (0 or 1) or by the buyer's email (newest first, at most `limit`).
  virtual Task<std::vector<OrderLookup>> orders_by_number(const std::string& order_no) = 0;
  virtual Task<std::vector<OrderLookup>> orders_by_email(const std::string& email, int limit) = 0;
  // One transaction (domain::decide_refund): a PAID order → CANCELLED REFUNDED_BY_OPERATOR, its
  // live rows CANCELLED, a RefundRequested in the outbox, and the audit row. A repeat writes nothing.
  virtual Task<RefundResult> refund_order(const std::string& order_no, Timestamp now, const AuditContext& who) = 0;
};

}  // namespace ticketing::domain
