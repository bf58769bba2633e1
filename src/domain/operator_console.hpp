#pragma once
// The operator console's pure rules (DESIGN.md §14): sale states, per-schedule queue settings,
// venue seat layouts (from CSV or JSON) and the schedule time checks. No I/O here: the api layer
// turns requests into these values, the application service applies them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/errors.hpp"
#include "domain/ids.hpp"
#include "domain/money.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

using VenueId = Id<struct VenueIdTag>;

// OPEN admits in arrival order; PAUSED keeps everyone's place and admits nobody; CLOSED also
// refuses new entries. People already admitted keep their slot in every state.
enum class SaleState { kOpen, kPaused, kClosed };
std::string_view to_string(SaleState state) noexcept;
std::optional<SaleState> sale_state_from(std::string_view text) noexcept;

// Per-schedule overrides of the config defaults; nullopt = the default.
struct QueueSettings {
  std::optional<std::int64_t> max_active;
  std::optional<std::int64_t> admit_per_second;
  std::optional<std::int64_t> max_seats_per_user;
  friend bool operator==(const QueueSettings&, const QueueSettings&) = default;
};

// What the admission rounds of every instance read for one schedule (kept next to the queue).
struct QueueControls {
  SaleState state = SaleState::kOpen;
  QueueSettings settings;
  std::int64_t version = 0;  // Schedule::controls_version they were read with
};

// Limits an operator may set (a typo must not admit a million people at once).
inline constexpr std::int64_t kMaxActiveLimit = 1'000'000;
inline constexpr std::int64_t kAdmitPerSecondLimit = 100'000;
inline constexpr std::int64_t kMaxSeatsPerUserLimit = 50;

// ---- venue layouts ------------------------------------------------------------------------------

inline constexpr std::size_t kMaxVenueSeats = 100'000;
// Prices are DECIMAL(12,2): at most 9,999,999,999.99.
inline constexpr std::int64_t kMaxPriceCents = 999'999'999'999;
inline constexpr std::string_view kPriceRule = "a decimal amount from 0 to 9999999999.99";
// A seat or tier price: digits with at most two decimals ("150", "150.5", "150.50") within
// 0..kMaxPriceCents; nullopt otherwise ("-0", ".5", "5.", "1e3", "+5").
std::optional<Money> parse_price(std::string_view text);
inline constexpr std::size_t kMaxNameLength = 16;  // section, row and tier names (seat.section is 16)

// A run of seats of one row: seat numbers first..last. `source` names where it came from in the
// request ("line 17", "sections[0].rows[2]") for error messages.
struct SeatRun {
  std::string source;
  std::string section;
  std::string row;  // empty: seats are numbered per section ("A-12")
  std::int64_t first = 1;
  std::int64_t last = 1;
  std::string tier;
  std::string price;  // decimal text, validated by build_layout
};

struct LayoutSeat {
  std::string seat_no;  // "A-3-12" (section-row-seat) or "A-12" (section-seat)
  std::string section;
  std::string tier;
  Money price;
};

struct VenueLayout {
  std::vector<LayoutSeat> seats;
  std::vector<std::pair<std::string, Money>> tiers;  // tier → price, in first-seen order
};

// The seat number of a run's seat: "section-row-seat", or "section-seat" without a row.
std::string seat_number(std::string_view section, std::string_view row, std::int64_t seat);

// Parses the CSV form, one line per run of seats:
//   section,row,seats,tier,price      e.g.  A,3,1-50,VIP,150.00   or   A,3,12,VIP,150.00
// `seats` is one seat number or an inclusive range first-last; `row` may be empty. An optional
// header line starting with "section," is skipped; blank lines are ignored. Problems are appended
// to `errors` naming the line ("line 17"); the runs read are returned.
std::vector<SeatRun> parse_layout_csv(std::string_view text, std::vector<FieldError>& errors);

// Expands and validates runs into a layout: names 1..16 of [A-Za-z0-9], seat numbers valid and
// unique, 1 <= first <= last, prices decimal >= 0 and one price per tier, at least one seat and at
// most kMaxVenueSeats. Every problem names its run's source. Throws 400 INVALID_ARGUMENT listing
// the problems (with `errors` from parsing first).
VenueLayout build_layout(const std::vector<SeatRun>& runs, std::vector<FieldError> errors = {});

// Only spaces, Unicode's space separators too (U+00A0, U+1680, U+2000..U+200A, U+202F, U+205F,
// U+3000 — what a Korean input method types); true for "". Not a name or reason anyone could
// find again in a list.
bool is_blank_text(std::string_view text);
// An operator's reason (e.g. for setting a dead letter aside): 1–255 characters of valid UTF-8
// (counted as code points, as the column's VARCHAR(255) does), not only spaces (is_blank_text).
bool is_reason_text(std::string_view text);

// ---- schedules ----------------------------------------------------------------------------------

struct ScheduleTimes {
  Timestamp show_at;
  Timestamp booking_opens_at;
  std::optional<Timestamp> prequeue_opens_at;
};

// Opening before the show, the pre-queue before opening (400 naming the field). The field names
// are the API's: showAt, bookingOpensAt, prequeueOpensAt.
std::vector<FieldError> schedule_time_problems(const ScheduleTimes& times);

// Settings within their limits (400 naming maxActive / admitPerSecond / maxSeatsPerUser).
std::vector<FieldError> queue_settings_problems(const QueueSettings& settings);

// What every new schedule must pass, from the console or the demo seed: throws 400
// INVALID_ARGUMENT listing the problems of schedule_time_problems and queue_settings_problems, and
// a show that is not after `now` (a sale for a show already over).
void check_new_schedule(const ScheduleTimes& times, const QueueSettings& settings, Timestamp now);
// Throws 400 INVALID_ARGUMENT listing queue_settings_problems.
void check_queue_settings(const QueueSettings& settings);

// ---- audit ----------------------------------------------------------------------------------------

// What an admin_audit row records: a change (written in the change's transaction, with before and
// after) or a read (written once it was served; `after` names what was asked for).
enum class AuditKind { kChange, kRead, kRefused };
std::string_view to_string(AuditKind kind) noexcept;
std::optional<AuditKind> audit_kind_from(std::string_view text) noexcept;

// One row of admin_audit. before/after are JSON documents (or empty for none).
struct AuditEntry {
  std::int64_t id = 0;
  UserId admin;
  AuditKind kind = AuditKind::kChange;
  std::string action;  // "schedule.sale-state", "venue.create", ...
  std::string target;  // "schedule:42", "venue:7", "order:T-..."
  std::string before_json;
  std::string after_json;
  std::string request_id;
  Timestamp created_at{};
};

// Who did it, for the audit row written with a change.
struct AuditContext {
  UserId admin;
  std::string request_id;
};

}  // namespace ticketing::domain
