// Table-driven tests of the booking rules (domain/booking_rules.hpp): state × request → decision.
#include "domain/booking_rules.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <stdexcept>

#include "domain/errors.hpp"

using namespace ticketing::domain;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

const Timestamp kNow{std::chrono::hours(500000)};
constexpr UserId kMe{1};
constexpr UserId kOther{2};
constexpr ScheduleId kSchedule{7};

using Seats = std::vector<std::string>;
using Ids = std::vector<ReservationId>;

OrderRef order(std::int64_t id, OrderStatus status, Timestamp expires_at) {
  return OrderRef{id, status, expires_at};
}

SeatRow row(std::int64_t id, std::string seat, UserId owner, ReservationStatus status, Timestamp expires_at,
            std::optional<OrderRef> order_ref = std::nullopt, ScheduleId schedule = kSchedule) {
  return SeatRow{ReservationId{id}, schedule,           std::move(seat), owner, status,
                 expires_at,        kNow - minutes(10), order_ref};
}
SeatRow held(std::int64_t id, std::string seat, UserId owner, Timestamp expires_at,
             std::optional<OrderRef> order_ref = std::nullopt) {
  return row(id, std::move(seat), owner, ReservationStatus::kHeld, expires_at, order_ref);
}

const Timestamp kLater = kNow + minutes(3);
const Timestamp kEarlier = kNow - seconds(1);

}  // namespace

// ---- the shared predicate ---------------------------------------------------------------------

struct StaleCase {
  const char* name;
  SeatRow row;
  bool stale;
};
void PrintTo(const StaleCase& c, std::ostream* os) {
  *os << c.name;
}

class HoldIsStale : public ::testing::TestWithParam<StaleCase> {};

TEST_P(HoldIsStale, Decides) {
  EXPECT_EQ(hold_is_stale(GetParam().row, kNow), GetParam().stale) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, HoldIsStale,
    ::testing::Values(StaleCase{"held_unexpired", held(1, "A-1", kMe, kLater), false},
                      StaleCase{"held_expired_no_order", held(1, "A-1", kMe, kEarlier), true},
                      StaleCase{"held_expiring_exactly_now", held(1, "A-1", kMe, kNow), true},
                      StaleCase{"confirmed_never", row(1, "A-1", kMe, ReservationStatus::kConfirmed, kEarlier), false},
                      StaleCase{"expired_ready_order_unexpired",
                                held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kReady, kLater)), false},
                      StaleCase{"expired_ready_order_expired",
                                held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kReady, kNow)), true},
                      StaleCase{"expired_confirming_order",
                                held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kConfirming, kEarlier)), false},
                      StaleCase{"expired_cancelled_order",
                                held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kCancelled, kLater)), true},
                      StaleCase{"expired_failed_order",
                                held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kFailed, kLater)), true}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- decide_hold ------------------------------------------------------------------------------

struct HoldCase {
  const char* name;
  Seats seats;
  std::int64_t live_seats;
  std::vector<SeatRow> rows;
  HoldOutcome::Kind kind;
  Seats taken;
  Ids expire;
  std::vector<SeatChanged> events;
};
void PrintTo(const HoldCase& c, std::ostream* os) {
  *os << c.name;
}

class DecideHold : public ::testing::TestWithParam<HoldCase> {};

TEST_P(DecideHold, Decides) {
  const auto& c = GetParam();
  const auto decision =
      decide_hold(HoldInput{kMe, kSchedule, c.seats, kNow, kNow + minutes(5), 4, c.live_seats, c.rows});
  EXPECT_EQ(decision.outcome.kind, c.kind);
  EXPECT_EQ(decision.outcome.taken_seats, c.taken);
  EXPECT_EQ(decision.expire, c.expire);
  EXPECT_EQ(decision.outcome.events, c.events);
  if (c.kind == HoldOutcome::Kind::kHeld) {
    EXPECT_EQ(decision.insert, c.seats);
  } else {
    EXPECT_TRUE(decision.insert.empty());
  }
  if (c.kind == HoldOutcome::Kind::kLimitExceeded) {
    EXPECT_EQ(decision.outcome.live_seats, c.live_seats);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecideHold,
    ::testing::Values(
        HoldCase{"free_seats",
                 {"A-1", "A-2"},
                 0,
                 {},
                 HoldOutcome::Kind::kHeld,
                 {},
                 {},
                 {{kSchedule, {"A-1", "A-2"}, SeatChange::kHeld}}},
        HoldCase{"up_to_the_limit",
                 {"A-1", "A-2"},
                 2,
                 {},
                 HoldOutcome::Kind::kHeld,
                 {},
                 {},
                 {{kSchedule, {"A-1", "A-2"}, SeatChange::kHeld}}},
        HoldCase{"over_the_limit", {"A-1", "A-2"}, 3, {}, HoldOutcome::Kind::kLimitExceeded, {}, {}, {}},
        HoldCase{"limit_before_taken_seats",
                 {"A-1"},
                 4,
                 {held(5, "A-1", kOther, kLater)},
                 HoldOutcome::Kind::kLimitExceeded,
                 {},
                 {},
                 {}},
        // At the limit, asking again for a seat you hold is SEAT_ALREADY_HELD (docs/holds.md), not
        // one more seat over the limit.
        HoldCase{"own_seat_at_the_limit_is_taken",
                 {"A-1"},
                 4,
                 {held(5, "A-1", kMe, kLater)},
                 HoldOutcome::Kind::kSeatsTaken,
                 {"A-1"},
                 {},
                 {}},
        HoldCase{"own_seat_and_a_new_one_at_the_limit",
                 {"A-1", "A-2"},
                 4,
                 {held(5, "A-1", kMe, kLater)},
                 HoldOutcome::Kind::kLimitExceeded,
                 {},
                 {},
                 {}},
        HoldCase{"someone_elses_hold",
                 {"A-1", "A-2"},
                 0,
                 {held(5, "A-2", kOther, kLater)},
                 HoldOutcome::Kind::kSeatsTaken,
                 {"A-2"},
                 {},
                 {}},
        HoldCase{"own_hold_is_taken_never_extended",
                 {"A-1"},
                 1,
                 {held(5, "A-1", kMe, kNow + seconds(1))},
                 HoldOutcome::Kind::kSeatsTaken,
                 {"A-1"},
                 {},
                 {}},
        HoldCase{"sold_seat",
                 {"A-1"},
                 0,
                 {row(5, "A-1", kOther, ReservationStatus::kConfirmed, kEarlier)},
                 HoldOutcome::Kind::kSeatsTaken,
                 {"A-1"},
                 {},
                 {}},
        HoldCase{"stale_hold_gives_way",
                 {"A-1", "A-2"},
                 0,
                 {held(5, "A-2", kOther, kEarlier)},
                 HoldOutcome::Kind::kHeld,
                 {},
                 {ReservationId{5}},
                 {{kSchedule, {"A-2"}, SeatChange::kExpired}, {kSchedule, {"A-1", "A-2"}, SeatChange::kHeld}}},
        HoldCase{"hold_expiring_now_gives_way",
                 {"A-1"},
                 0,
                 {held(5, "A-1", kOther, kNow)},
                 HoldOutcome::Kind::kHeld,
                 {},
                 {ReservationId{5}},
                 {{kSchedule, {"A-1"}, SeatChange::kExpired}, {kSchedule, {"A-1"}, SeatChange::kHeld}}},
        HoldCase{"ready_order_keeps_its_seats",
                 {"A-1"},
                 0,
                 {held(5, "A-1", kOther, kEarlier, order(9, OrderStatus::kReady, kLater))},
                 HoldOutcome::Kind::kSeatsTaken,
                 {"A-1"},
                 {},
                 {}},
        HoldCase{"expired_ready_order_gives_way",
                 {"A-1"},
                 0,
                 {held(5, "A-1", kOther, kEarlier, order(9, OrderStatus::kReady, kEarlier))},
                 HoldOutcome::Kind::kHeld,
                 {},
                 {ReservationId{5}},
                 {{kSchedule, {"A-1"}, SeatChange::kExpired}, {kSchedule, {"A-1"}, SeatChange::kHeld}}},
        HoldCase{"confirming_order_keeps_its_seats",
                 {"A-1"},
                 0,
                 {held(5, "A-1", kOther, kEarlier, order(9, OrderStatus::kConfirming, kEarlier))},
                 HoldOutcome::Kind::kSeatsTaken,
                 {"A-1"},
                 {},
                 {}},
        HoldCase{"cancelled_order_gives_way",
                 {"A-1"},
                 0,
                 {held(5, "A-1", kOther, kEarlier, order(9, OrderStatus::kCancelled, kLater))},
                 HoldOutcome::Kind::kHeld,
                 {},
                 {ReservationId{5}},
                 {{kSchedule, {"A-1"}, SeatChange::kExpired}, {kSchedule, {"A-1"}, SeatChange::kHeld}}},
        HoldCase{"taken_in_request_order_nothing_expired",
                 {"A-3", "A-1", "A-2"},
                 0,
                 {held(5, "A-1", kOther, kLater), held(6, "A-2", kOther, kEarlier), held(7, "A-3", kMe, kLater)},
                 HoldOutcome::Kind::kSeatsTaken,
                 {"A-3", "A-1"},
                 {},
                 {}}),
    [](const auto& info) { return std::string(info.param.name); });

// The user's own lapsed holds of other seats end with a new hold (their slots are freed); their
// live ones, another user's lapsed ones and a requested seat's row are left to the other rules.
TEST(DecideHoldOwnStaleRows, EndWithTheHoldAndAreReportedExpired) {
  HoldInput input{kMe, kSchedule, {"A-1"}, kNow, kNow + minutes(5), 4, 1, {held(10, "A-1", kOther, kEarlier)}};
  input.own_stale_rows = {held(11, "B-1", kMe, kEarlier), held(12, "B-2", kMe, kLater),
                          held(13, "B-3", kOther, kEarlier), held(10, "A-1", kOther, kEarlier),
                          held(14, "B-4", kMe, kEarlier, order(5, OrderStatus::kConfirming, kEarlier))};
  const auto decision = decide_hold(input);
  ASSERT_EQ(decision.outcome.kind, HoldOutcome::Kind::kHeld);
  EXPECT_EQ(decision.expire, (Ids{ReservationId{10}, ReservationId{11}}));
  EXPECT_EQ(decision.outcome.events, (std::vector<SeatChanged>{{kSchedule, {"A-1", "B-1"}, SeatChange::kExpired},
                                                               {kSchedule, {"A-1"}, SeatChange::kHeld}}));

  // A refused hold ends nothing.
  input.live_seats = 4;
  EXPECT_TRUE(decide_hold(input).expire.empty());
}

// ---- decide_release ---------------------------------------------------------------------------

struct ReleaseCase {
  const char* name;
  Seats seats;
  std::vector<SeatRow> rows;
  ReleaseOutcome::Kind kind;
  Seats named;
  Ids cancel;
};
void PrintTo(const ReleaseCase& c, std::ostream* os) {
  *os << c.name;
}

class DecideRelease : public ::testing::TestWithParam<ReleaseCase> {};

TEST_P(DecideRelease, Decides) {
  const auto& c = GetParam();
  const auto decision = decide_release(ReleaseInput{kMe, kSchedule, c.seats, kNow, c.rows});
  EXPECT_EQ(decision.outcome.kind, c.kind);
  EXPECT_EQ(decision.outcome.seats, c.named);
  EXPECT_EQ(decision.cancel, c.cancel);
  if (c.kind == ReleaseOutcome::Kind::kReleased) {
    EXPECT_EQ(decision.outcome.events, (std::vector<SeatChanged>{{kSchedule, c.seats, SeatChange::kReleased}}));
  } else {
    EXPECT_TRUE(decision.outcome.events.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecideRelease,
    ::testing::Values(
        ReleaseCase{"own_holds",
                    {"A-1", "A-2"},
                    {held(1, "A-1", kMe, kLater), held(2, "A-2", kMe, kLater)},
                    ReleaseOutcome::Kind::kReleased,
                    {"A-1", "A-2"},
                    {ReservationId{1}, ReservationId{2}}},
        ReleaseCase{"own_hold_of_a_cancelled_order",
                    {"A-1"},
                    {held(1, "A-1", kMe, kLater, order(9, OrderStatus::kCancelled, kEarlier))},
                    ReleaseOutcome::Kind::kReleased,
                    {"A-1"},
                    {ReservationId{1}}},
        ReleaseCase{"other_owner_wins_over_everything",
                    {"A-1", "A-2", "A-3", "A-4"},
                    {held(1, "A-1", kMe, kLater, order(9, OrderStatus::kReady, kLater)),
                     row(2, "A-2", kMe, ReservationStatus::kConfirmed, kEarlier), held(3, "A-3", kOther, kLater)},
                    ReleaseOutcome::Kind::kOtherOwner,
                    {"A-3"},
                    {}},
        ReleaseCase{"someone_elses_sale_is_sold_not_forbidden",
                    {"A-1"},
                    {row(1, "A-1", kOther, ReservationStatus::kConfirmed, kEarlier)},
                    ReleaseOutcome::Kind::kSold,
                    {"A-1"},
                    {}},
        ReleaseCase{"someone_elses_hold_outranks_someone_elses_sale",
                    {"A-1", "A-2"},
                    {row(1, "A-1", kOther, ReservationStatus::kConfirmed, kEarlier), held(2, "A-2", kOther, kLater)},
                    ReleaseOutcome::Kind::kOtherOwner,
                    {"A-2"},
                    {}},
        ReleaseCase{"someone_elses_expired_hold_is_not_held",
                    {"A-1"},
                    {held(1, "A-1", kOther, kEarlier)},
                    ReleaseOutcome::Kind::kNotHeld,
                    {"A-1"},
                    {}},
        ReleaseCase{"in_payment_before_sold_and_not_held",
                    {"A-1", "A-2", "A-3"},
                    {held(1, "A-1", kMe, kLater, order(9, OrderStatus::kReady, kLater)),
                     row(2, "A-2", kMe, ReservationStatus::kConfirmed, kEarlier)},
                    ReleaseOutcome::Kind::kInPayment,
                    {"A-1"},
                    {}},
        ReleaseCase{"confirming_is_in_payment",
                    {"A-1"},
                    {held(1, "A-1", kMe, kLater, order(9, OrderStatus::kConfirming, kLater))},
                    ReleaseOutcome::Kind::kInPayment,
                    {"A-1"},
                    {}},
        ReleaseCase{"confirming_past_hold_expiry_is_still_in_payment",
                    {"A-1"},
                    {held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kConfirming, kEarlier))},
                    ReleaseOutcome::Kind::kInPayment,
                    {"A-1"},
                    {}},
        ReleaseCase{"expired_ready_order_with_live_hold_is_in_payment",
                    {"A-1"},
                    {held(1, "A-1", kMe, kLater, order(9, OrderStatus::kReady, kEarlier))},
                    ReleaseOutcome::Kind::kInPayment,
                    {"A-1"},
                    {}},
        ReleaseCase{"sold_before_not_held",
                    {"A-1", "A-2"},
                    {row(2, "A-2", kMe, ReservationStatus::kConfirmed, kEarlier)},
                    ReleaseOutcome::Kind::kSold,
                    {"A-2"},
                    {}},
        ReleaseCase{"missing_and_expired_are_not_held",
                    {"A-1", "A-2", "A-3"},
                    {held(2, "A-2", kMe, kNow), held(3, "A-3", kMe, kLater)},
                    ReleaseOutcome::Kind::kNotHeld,
                    {"A-1", "A-2"},
                    {}}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- decide_ready -----------------------------------------------------------------------------

namespace {

ReadyRequest ready_request(Seats seats, std::string fingerprint = "fp") {
  ReadyRequest request;
  request.user = kMe;
  request.schedule = kSchedule;
  request.seat_nos = std::move(seats);
  request.idempotency_key = "key-1";
  request.fingerprint = std::move(fingerprint);
  request.slot_token_issued_at = kNow - minutes(1);
  request.hold_max_total = minutes(15);
  return request;
}

HeldSeatRow priced(SeatRow seat_row, std::int64_t cents, Timestamp created_at = kNow - minutes(2)) {
  seat_row.created_at = created_at;
  return HeldSeatRow{std::move(seat_row), Money{cents}};
}

PaymentOrder stored_order() {
  PaymentOrder o;
  o.id = 42;
  o.order_no = "ORD-1";
  o.user = kMe;
  o.schedule = kSchedule;
  o.amount = Money{5000};
  o.status = OrderStatus::kCancelled;
  o.fail_reason = "ORDER_EXPIRED";
  o.expires_at = kLater;
  return o;
}

}  // namespace

struct ReadyCase {
  const char* name;
  Seats seats;
  std::optional<KeyedOrder> keyed;
  std::vector<HeldSeatRow> held;
  Seats unknown;
  ReadyOutcome::Kind kind;
  Seats named;
};
void PrintTo(const ReadyCase& c, std::ostream* os) {
  *os << c.name;
}

class DecideReady : public ::testing::TestWithParam<ReadyCase> {};

TEST_P(DecideReady, Decides) {
  const auto& c = GetParam();
  const auto decision =
      decide_ready(ReadyInput{ready_request(c.seats), kNow, kNow + minutes(10), "ORD-NEW", c.keyed, c.held, c.unknown});
  EXPECT_EQ(decision.outcome.kind, c.kind);
  EXPECT_EQ(decision.outcome.seats, c.named);
  const bool commits = c.kind == ReadyOutcome::Kind::kCreated || c.kind == ReadyOutcome::Kind::kReplayed;
  EXPECT_EQ(decision.commit, commits);
  if (c.kind != ReadyOutcome::Kind::kCreated) {
    EXPECT_TRUE(decision.link.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecideReady,
    ::testing::Values(ReadyCase{"keyed_same_request_replays",
                                {"A-1"},
                                KeyedOrder{"fp", stored_order()},
                                {},
                                {"A-1"},
                                ReadyOutcome::Kind::kReplayed,
                                {}},
                      ReadyCase{"keyed_other_request_is_key_reused",
                                {"A-1"},
                                KeyedOrder{"other", stored_order()},
                                {},
                                {"A-1"},
                                ReadyOutcome::Kind::kKeyReused,
                                {}},
                      ReadyCase{"unknown_seats_first_naming_only_them",
                                {"A-1", "Z-9", "A-2"},
                                std::nullopt,
                                {priced(held(1, "A-1", kMe, kLater, order(9, OrderStatus::kReady, kLater)), 100)},
                                {"Z-9"},
                                ReadyOutcome::Kind::kSeatsUnknown,
                                {"Z-9"}},
                      ReadyCase{"in_payment_before_not_held",
                                {"A-1", "A-2"},
                                std::nullopt,
                                {priced(held(1, "A-1", kMe, kLater, order(9, OrderStatus::kReady, kLater)), 100)},
                                {},
                                ReadyOutcome::Kind::kSeatsInPayment,
                                {"A-1"}},
                      ReadyCase{
                          "confirming_is_in_payment",
                          {"A-1"},
                          std::nullopt,
                          {priced(held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kConfirming, kEarlier)), 100)},
                          {},
                          ReadyOutcome::Kind::kSeatsInPayment,
                          {"A-1"}},
                      ReadyCase{"missing_and_expired_are_not_held",
                                {"A-1", "A-2", "A-3"},
                                std::nullopt,
                                {priced(held(2, "A-2", kMe, kNow), 100), priced(held(3, "A-3", kMe, kLater), 100)},
                                {},
                                ReadyOutcome::Kind::kSeatsNotHeld,
                                {"A-1", "A-2"}},
                      ReadyCase{"someone_elses_live_hold_is_theirs",
                                {"A-1", "A-2"},
                                std::nullopt,
                                {priced(held(1, "A-1", kOther, kLater), 100)},
                                {},
                                ReadyOutcome::Kind::kSeatsHeldByOthers,
                                {"A-1"}},
                      ReadyCase{"someone_elses_hold_in_payment_is_theirs_before_mine_in_payment",
                                {"A-1", "A-2"},
                                std::nullopt,
                                {priced(held(1, "A-1", kMe, kLater, order(8, OrderStatus::kReady, kLater)), 100),
                                 priced(held(2, "A-2", kOther, kEarlier, order(9, OrderStatus::kReady, kLater)), 100)},
                                {},
                                ReadyOutcome::Kind::kSeatsHeldByOthers,
                                {"A-2"}},
                      ReadyCase{"someone_elses_lapsed_hold_is_not_held",
                                {"A-1"},
                                std::nullopt,
                                {priced(held(1, "A-1", kOther, kNow), 100)},
                                {},
                                ReadyOutcome::Kind::kSeatsNotHeld,
                                {"A-1"}},
                      ReadyCase{"a_sold_seat_is_not_held",
                                {"A-1"},
                                std::nullopt,
                                {priced(row(1, "A-1", kOther, ReservationStatus::kConfirmed, kEarlier), 100)},
                                {},
                                ReadyOutcome::Kind::kSeatsNotHeld,
                                {"A-1"}},
                      ReadyCase{"my_sold_seat_is_not_held",
                                {"A-1"},
                                std::nullopt,
                                {priced(row(1, "A-1", kMe, ReservationStatus::kConfirmed, kEarlier), 100)},
                                {},
                                ReadyOutcome::Kind::kSeatsNotHeld,
                                {"A-1"}},
                      ReadyCase{"unknown_before_someone_elses",
                                {"A-1", "Z-9"},
                                std::nullopt,
                                {priced(held(1, "A-1", kOther, kLater), 100)},
                                {"Z-9"},
                                ReadyOutcome::Kind::kSeatsUnknown,
                                {"Z-9"}},
                      ReadyCase{"held_seats_of_a_cancelled_order_make_a_new_one",
                                {"A-1"},
                                std::nullopt,
                                {priced(held(1, "A-1", kMe, kLater, order(9, OrderStatus::kCancelled, kEarlier)), 100)},
                                {},
                                ReadyOutcome::Kind::kCreated,
                                {}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DecideReadyCreate, SumsPricesLinksInRequestOrderAndCapsTheExpiryByTheOrderTtl) {
  const auto decision = decide_ready(ReadyInput{ready_request({"A-2", "A-1"}),
                                                kNow,
                                                kNow + minutes(10),
                                                "ORD-NEW",
                                                std::nullopt,
                                                {priced(held(1, "A-1", kMe, kLater), 5000, kNow - minutes(1)),
                                                 priced(held(2, "A-2", kMe, kLater), 2550, kNow - minutes(2))},
                                                {}});
  ASSERT_EQ(decision.outcome.kind, ReadyOutcome::Kind::kCreated);
  const auto& o = decision.outcome.order;
  EXPECT_EQ(o.amount, Money{7550});
  EXPECT_EQ(o.status, OrderStatus::kReady);
  EXPECT_EQ(o.order_no, "ORD-NEW");
  EXPECT_EQ(o.user, kMe);
  EXPECT_EQ(o.schedule, kSchedule);
  EXPECT_EQ(o.created_at, kNow);
  EXPECT_EQ(o.expires_at, kNow + minutes(10));  // first hold + 15 min is later
  EXPECT_EQ(o.seat_nos, (Seats{"A-2", "A-1"}));
  EXPECT_EQ(o.slot_token_issued_at, kNow - minutes(1));
  EXPECT_EQ(decision.link, (Ids{ReservationId{2}, ReservationId{1}}));
  EXPECT_TRUE(decision.commit);
}

TEST(DecideReadyCreate, NoSeatIsHeldLongerThanHoldMaxTotalAfterItsFirstHold) {
  const auto decision = decide_ready(ReadyInput{ready_request({"A-1", "A-2"}),
                                                kNow,
                                                kNow + minutes(10),
                                                "ORD-NEW",
                                                std::nullopt,
                                                {priced(held(1, "A-1", kMe, kLater), 100, kNow - minutes(9)),
                                                 priced(held(2, "A-2", kMe, kLater), 100, kNow - minutes(12))},
                                                {}});
  ASSERT_EQ(decision.outcome.kind, ReadyOutcome::Kind::kCreated);
  EXPECT_EQ(decision.outcome.order.expires_at, kNow + minutes(3));  // earliest hold (−12 min) + 15 min
}

TEST(DecideReadyReplay, ReturnsTheOrderAsCreatedWhateverHappenedSince) {
  const auto decision = decide_ready(ReadyInput{ready_request({"A-2", "A-1"}),
                                                kNow,
                                                kNow + minutes(10),
                                                "ORD-NEW",
                                                KeyedOrder{"fp", stored_order()},
                                                {},
                                                {"A-1", "A-2"}});
  ASSERT_EQ(decision.outcome.kind, ReadyOutcome::Kind::kReplayed);
  EXPECT_EQ(decision.outcome.order.id, 42);
  EXPECT_EQ(decision.outcome.order.order_no, "ORD-1");
  EXPECT_EQ(decision.outcome.order.status, OrderStatus::kReady);
  EXPECT_FALSE(decision.outcome.order.fail_reason);
  EXPECT_EQ(decision.outcome.order.seat_nos, (Seats{"A-2", "A-1"}));
}

// ---- on_gateway_success -----------------------------------------------------------------------

namespace {

OrderState order_state(OrderStatus status, Timestamp expires_at, std::optional<std::string> fail_reason = {},
                       std::optional<Timestamp> paid_at = {}) {
  OrderState state{stored_order(), paid_at};
  state.order.status = status;
  state.order.expires_at = expires_at;
  state.order.fail_reason = std::move(fail_reason);
  state.order.seat_nos = {"A-1"};
  return state;
}

}  // namespace

struct GatewayCase {
  const char* name;
  std::optional<OrderState> state;
  PaymentRecord::Kind kind;
  OrderStatus status_after;
  bool writes;
  bool completed;
  std::optional<std::string> refund;
  std::optional<std::string> fail_reason_after;
};
void PrintTo(const GatewayCase& c, std::ostream* os) {
  *os << c.name;
}

class OnGatewaySuccess : public ::testing::TestWithParam<GatewayCase> {};

TEST_P(OnGatewaySuccess, Decides) {
  const auto& c = GetParam();
  const auto decision = on_gateway_success(c.state, kNow);
  EXPECT_EQ(decision.record.kind, c.kind);
  EXPECT_EQ(decision.write_order, c.writes);
  EXPECT_EQ(decision.emit_payment_completed, c.completed);
  EXPECT_EQ(decision.refund_reason, c.refund);
  if (c.state) {
    EXPECT_EQ(decision.record.order.status, c.status_after);
    EXPECT_EQ(decision.record.order.fail_reason, c.fail_reason_after);
  }
  EXPECT_EQ(decision.paid_at.has_value(), c.writes);
  if (decision.paid_at) {
    EXPECT_EQ(*decision.paid_at, kNow);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, OnGatewaySuccess,
    ::testing::Values(GatewayCase{"unknown_order", std::nullopt, PaymentRecord::Kind::kNotFound, OrderStatus::kReady,
                                  false, false, std::nullopt, std::nullopt},
                      GatewayCase{"ready_unexpired_is_recorded", order_state(OrderStatus::kReady, kLater),
                                  PaymentRecord::Kind::kRecorded, OrderStatus::kConfirming, true, true, std::nullopt,
                                  std::nullopt},
                      GatewayCase{"ready_expiring_now_is_refunded", order_state(OrderStatus::kReady, kNow),
                                  PaymentRecord::Kind::kRefundRequested, OrderStatus::kCancelled, true, false,
                                  std::string("ORDER_EXPIRED"), std::string("ORDER_EXPIRED")},
                      GatewayCase{"cancelled_never_paid_is_refunded_with_its_reason",
                                  order_state(OrderStatus::kCancelled, kLater, std::string("HOLD_EXPIRED")),
                                  PaymentRecord::Kind::kRefundRequested, OrderStatus::kCancelled, true, false,
                                  std::string("HOLD_EXPIRED"), std::string("HOLD_EXPIRED")},
                      GatewayCase{"cancelled_without_reason", order_state(OrderStatus::kCancelled, kLater),
                                  PaymentRecord::Kind::kRefundRequested, OrderStatus::kCancelled, true, false,
                                  std::string("ORDER_CANCELLED"), std::nullopt},
                      GatewayCase{"cancelled_and_paid_already",
                                  order_state(OrderStatus::kCancelled, kLater, std::string("ORDER_EXPIRED"), kEarlier),
                                  PaymentRecord::Kind::kAlreadyRecorded, OrderStatus::kCancelled, false, false,
                                  std::nullopt, std::string("ORDER_EXPIRED")},
                      GatewayCase{"confirming", order_state(OrderStatus::kConfirming, kLater, {}, kEarlier),
                                  PaymentRecord::Kind::kAlreadyRecorded, OrderStatus::kConfirming, false, false,
                                  std::nullopt, std::nullopt},
                      GatewayCase{"paid", order_state(OrderStatus::kPaid, kEarlier, {}, kEarlier),
                                  PaymentRecord::Kind::kAlreadyRecorded, OrderStatus::kPaid, false, false, std::nullopt,
                                  std::nullopt},
                      GatewayCase{"failed", order_state(OrderStatus::kFailed, kLater),
                                  PaymentRecord::Kind::kAlreadyRecorded, OrderStatus::kFailed, false, false,
                                  std::nullopt, std::nullopt}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- decide_confirmation ----------------------------------------------------------------------

struct ConfirmCase {
  const char* name;
  bool processed;
  OrderStatus order_status;
  Seats event_seats;
  std::vector<SeatRow> holds;
  ConfirmOutcome::Kind kind;
  Ids confirm;
  Ids cancel;
  std::vector<SeatChanged> events;
};
void PrintTo(const ConfirmCase& c, std::ostream* os) {
  *os << c.name;
}

class DecideConfirmation : public ::testing::TestWithParam<ConfirmCase> {};

TEST_P(DecideConfirmation, Decides) {
  const auto& c = GetParam();
  auto o = stored_order();
  o.status = c.order_status;
  o.fail_reason.reset();
  o.seat_nos = c.event_seats;  // the outbox writes an order's own seats
  PaymentCompleted event{"ev-1", o.order_no, kMe, kSchedule, c.event_seats, o.amount, kEarlier};
  const auto decision = decide_confirmation(ConfirmationInput{&event, c.processed, &o, c.holds});
  EXPECT_EQ(decision.outcome.kind, c.kind);
  EXPECT_EQ(decision.record_processed, !c.processed);
  EXPECT_EQ(decision.confirm, c.confirm);
  EXPECT_EQ(decision.cancel, c.cancel);
  EXPECT_EQ(decision.outcome.events, c.events);
  switch (c.kind) {
    case ConfirmOutcome::Kind::kConfirmed:
      EXPECT_EQ(decision.outcome.order.status, OrderStatus::kPaid);
      EXPECT_FALSE(decision.refund_reason);
      break;
    case ConfirmOutcome::Kind::kCancelled:
      EXPECT_EQ(decision.outcome.order.status, OrderStatus::kCancelled);
      EXPECT_EQ(decision.outcome.order.fail_reason, std::string("HOLD_EXPIRED"));
      EXPECT_EQ(decision.refund_reason, std::string("HOLD_EXPIRED"));
      break;
    case ConfirmOutcome::Kind::kIgnored:
      EXPECT_EQ(decision.outcome.order.status, c.order_status);
      EXPECT_FALSE(decision.refund_reason);
      break;
    case ConfirmOutcome::Kind::kDuplicate: EXPECT_FALSE(decision.refund_reason); break;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, DecideConfirmation,
                         ::testing::Values(ConfirmCase{"processed_before_is_duplicate",
                                                       true,
                                                       OrderStatus::kConfirming,
                                                       {"A-1"},
                                                       {held(1, "A-1", kMe, kLater)},
                                                       ConfirmOutcome::Kind::kDuplicate,
                                                       {},
                                                       {},
                                                       {}},
                                           ConfirmCase{"ready_order_is_ignored",
                                                       false,
                                                       OrderStatus::kReady,
                                                       {"A-1"},
                                                       {held(1, "A-1", kMe, kLater)},
                                                       ConfirmOutcome::Kind::kIgnored,
                                                       {},
                                                       {},
                                                       {}},
                                           ConfirmCase{"paid_order_is_ignored",
                                                       false,
                                                       OrderStatus::kPaid,
                                                       {"A-1"},
                                                       {},
                                                       ConfirmOutcome::Kind::kIgnored,
                                                       {},
                                                       {},
                                                       {}},
                                           ConfirmCase{"cancelled_order_is_ignored",
                                                       false,
                                                       OrderStatus::kCancelled,
                                                       {"A-1"},
                                                       {},
                                                       ConfirmOutcome::Kind::kIgnored,
                                                       {},
                                                       {},
                                                       {}},
                                           ConfirmCase{"all_holds_live_confirms",
                                                       false,
                                                       OrderStatus::kConfirming,
                                                       {"A-1", "A-2"},
                                                       {held(1, "A-1", kMe, kEarlier), held(2, "A-2", kMe, kEarlier)},
                                                       ConfirmOutcome::Kind::kConfirmed,
                                                       {ReservationId{1}, ReservationId{2}},
                                                       {},
                                                       {{kSchedule, {"A-1", "A-2"}, SeatChange::kSold}}},
                                           ConfirmCase{"a_hold_lost_cancels_and_releases_the_rest",
                                                       false,
                                                       OrderStatus::kConfirming,
                                                       {"A-1", "A-2"},
                                                       {held(2, "A-2", kMe, kEarlier)},
                                                       ConfirmOutcome::Kind::kCancelled,
                                                       {},
                                                       {ReservationId{2}},
                                                       {{kSchedule, {"A-2"}, SeatChange::kCancelled}}},
                                           ConfirmCase{"no_holds_left_cancels_without_seat_events",
                                                       false,
                                                       OrderStatus::kConfirming,
                                                       {"A-1"},
                                                       {},
                                                       ConfirmOutcome::Kind::kCancelled,
                                                       {},
                                                       {},
                                                       {}}),
                         [](const auto& info) { return std::string(info.param.name); });

// An event that is not its order's payment (forged, or corrupted on the way) settles nothing: no
// confirmation, no cancellation with a refund, not even "processed" — it is refused, whatever the
// order's state, and the consumer dead-letters it.
TEST(DecideConfirmation, AnEventThatDoesNotMatchItsOrderIsRefused) {
  auto o = stored_order();
  o.status = OrderStatus::kConfirming;
  o.fail_reason.reset();
  o.seat_nos = {"A-1", "A-2"};
  const std::vector<SeatRow> holds{held(1, "A-1", kMe, kLater), held(2, "A-2", kMe, kLater)};
  const PaymentCompleted genuine{"ev-1", o.order_no, kMe, kSchedule, {"A-2", "A-1"}, o.amount, kEarlier};
  EXPECT_EQ(decide_confirmation(ConfirmationInput{&genuine, false, &o, holds}).outcome.kind,
            ConfirmOutcome::Kind::kConfirmed)
      << "the seats in another order are the same seats";
  std::vector<std::pair<const char*, PaymentCompleted>> forged;
  auto add = [&](const char* name, auto change) {
    auto event = genuine;
    change(event);
    forged.emplace_back(name, event);
  };
  add("a seat fewer", [](PaymentCompleted& e) { e.seat_nos = {"A-1"}; });
  add("a seat more", [](PaymentCompleted& e) { e.seat_nos = {"A-1", "A-2", "A-3"}; });
  add("another seat", [](PaymentCompleted& e) { e.seat_nos = {"A-1", "B-9"}; });
  add("a seat twice", [](PaymentCompleted& e) { e.seat_nos = {"A-1", "A-1"}; });
  add("no seats", [](PaymentCompleted& e) { e.seat_nos.clear(); });
  add("another user", [](PaymentCompleted& e) { e.user = UserId{kMe.value + 1}; });
  add("another schedule", [](PaymentCompleted& e) { e.schedule = ScheduleId{kSchedule.value + 1}; });
  add("another amount", [&](PaymentCompleted& e) { e.amount = Money{o.amount.cents + 1}; });
  for (const auto status :
       {OrderStatus::kConfirming, OrderStatus::kReady, OrderStatus::kPaid, OrderStatus::kCancelled}) {
    o.status = status;
    for (const auto& [name, event] : forged) {
      EXPECT_TRUE(payment_event_mismatch(event, o)) << name;
      try {
        decide_confirmation(ConfirmationInput{&event, false, &o, holds});
        ADD_FAILURE() << name << ": settled";
      } catch (const DomainError& refused) {
        EXPECT_EQ(refused.code(), ErrorCode::kUndecodableEvent) << name;
      }
      // Seen before, it is a duplicate like any other: nothing happens either way.
      EXPECT_EQ(decide_confirmation(ConfirmationInput{&event, true, nullptr, {}}).outcome.kind,
                ConfirmOutcome::Kind::kDuplicate);
    }
  }
  EXPECT_FALSE(payment_event_mismatch(genuine, o));
}

TEST(DecideConfirmationInput, AnUnprocessedEventNeedsItsOrder) {
  PaymentCompleted event{"ev-1", "ORD-1", kMe, kSchedule, {"A-1"}, Money{100}, kEarlier};
  EXPECT_THROW(decide_confirmation(ConfirmationInput{&event, false, nullptr, {}}), std::invalid_argument);
  EXPECT_EQ(decide_confirmation(ConfirmationInput{&event, true, nullptr, {}}).outcome.kind,
            ConfirmOutcome::Kind::kDuplicate);
}

// ---- decide_expiry ----------------------------------------------------------------------------

struct ExpiryCase {
  const char* name;
  std::vector<std::int64_t> expired_orders;
  std::vector<SeatRow> rows;
  Ids expire;
  std::vector<std::int64_t> hold_expired;
  std::vector<SeatChanged> events;
};
void PrintTo(const ExpiryCase& c, std::ostream* os) {
  *os << c.name;
}

class DecideExpiry : public ::testing::TestWithParam<ExpiryCase> {};

TEST_P(DecideExpiry, Decides) {
  const auto& c = GetParam();
  const auto decision = decide_expiry(ExpiryInput{kNow, c.expired_orders, c.rows});
  EXPECT_EQ(decision.cancel_order_expired, c.expired_orders);
  EXPECT_EQ(decision.expire, c.expire);
  EXPECT_EQ(decision.cancel_hold_expired, c.hold_expired);
  EXPECT_EQ(decision.events, c.events);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecideExpiry,
    ::testing::Values(
        ExpiryCase{"nothing", {}, {}, {}, {}, {}}, ExpiryCase{"expired_orders_only", {3, 4}, {}, {}, {}, {}},
        ExpiryCase{
            "stale_holds_grouped_per_schedule",
            {},
            {held(1, "A-1", kMe, kEarlier), row(2, "B-1", kOther, ReservationStatus::kHeld, kNow, {}, ScheduleId{8}),
             held(3, "A-2", kOther, kEarlier)},
            {ReservationId{1}, ReservationId{2}, ReservationId{3}},
            {},
            {{kSchedule, {"A-1", "A-2"}, SeatChange::kExpired}, {ScheduleId{8}, {"B-1"}, SeatChange::kExpired}}},
        ExpiryCase{"unexpired_and_confirmed_rows_stay",
                   {},
                   {held(1, "A-1", kMe, kLater), row(2, "A-2", kMe, ReservationStatus::kConfirmed, kEarlier)},
                   {},
                   {},
                   {}},
        ExpiryCase{"confirming_orders_keep_their_holds",
                   {},
                   {held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kConfirming, kEarlier))},
                   {},
                   {},
                   {}},
        ExpiryCase{"unexpired_ready_orders_keep_their_holds",
                   {},
                   {held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kReady, kLater))},
                   {},
                   {},
                   {}},
        ExpiryCase{"expired_ready_order_is_cancelled_once_for_its_holds",
                   {},
                   {held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kReady, kEarlier)),
                    held(2, "A-2", kMe, kEarlier, order(9, OrderStatus::kReady, kEarlier))},
                   {ReservationId{1}, ReservationId{2}},
                   {9},
                   {{kSchedule, {"A-1", "A-2"}, SeatChange::kExpired}}},
        ExpiryCase{"order_expired_wins_over_hold_expired",
                   {9},
                   {held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kReady, kEarlier))},
                   {ReservationId{1}},
                   {},
                   {{kSchedule, {"A-1"}, SeatChange::kExpired}}},
        ExpiryCase{"cancelled_orders_holds_expire_without_cancelling_again",
                   {},
                   {held(1, "A-1", kMe, kEarlier, order(9, OrderStatus::kCancelled, kEarlier))},
                   {ReservationId{1}},
                   {},
                   {{kSchedule, {"A-1"}, SeatChange::kExpired}}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ReservationStatusText, RoundTrips) {
  for (auto status : {ReservationStatus::kHeld, ReservationStatus::kConfirmed, ReservationStatus::kExpired,
                      ReservationStatus::kCancelled}) {
    EXPECT_EQ(reservation_status_from(to_string(status)), status);
  }
  EXPECT_EQ(to_string(ReservationStatus::kHeld), "HELD");
  EXPECT_FALSE(reservation_status_from("held"));
  EXPECT_EQ(to_string(SeatChange::kSold), "sold");
  EXPECT_EQ(to_string(SeatChange::kRefunded), "refunded");
}

// ---- operator refund ------------------------------------------------------------------------------

namespace {

struct RefundCase {
  const char* name;
  std::optional<OrderStatus> status;  // nullopt: no such order
  std::optional<std::string> fail_reason;
  RefundDecision::Kind kind;
  bool cancels_rows;
};

void PrintTo(const RefundCase& c, std::ostream* os) {
  *os << c.name;
}

class DecideRefund : public ::testing::TestWithParam<RefundCase> {};

}  // namespace

TEST_P(DecideRefund, Decides) {
  const auto& c = GetParam();
  RefundInput input;
  if (c.status) {
    PaymentOrder order;
    order.id = 5;
    order.order_no = "T-1";
    order.schedule = kSchedule;
    order.status = *c.status;
    order.fail_reason = c.fail_reason;
    input.order = order;
    input.live_rows = {row(1, "A-1", kMe, ReservationStatus::kConfirmed, kLater),
                       row(2, "A-2", kMe, ReservationStatus::kConfirmed, kLater)};
  }
  const auto decision = decide_refund(input);
  EXPECT_EQ(decision.kind, c.kind) << c.name;
  EXPECT_EQ(decision.request_refund, c.cancels_rows) << c.name;
  if (c.cancels_rows) {
    EXPECT_EQ(decision.cancel, (std::vector<ReservationId>{ReservationId{1}, ReservationId{2}}));
    ASSERT_EQ(decision.events.size(), 1u);
    EXPECT_EQ(decision.events[0], (SeatChanged{kSchedule, {"A-1", "A-2"}, SeatChange::kRefunded}));
  } else {
    EXPECT_TRUE(decision.cancel.empty()) << c.name;
    EXPECT_TRUE(decision.events.empty()) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecideRefund,
    ::testing::Values(RefundCase{"paid", OrderStatus::kPaid, std::nullopt, RefundDecision::Kind::kRefunded, true},
                      RefundCase{"refunded_before", OrderStatus::kCancelled, std::string(kRefundedByOperator),
                                 RefundDecision::Kind::kAlreadyRefunded, false},
                      RefundCase{"cancelled_otherwise", OrderStatus::kCancelled, std::string(kHoldExpired),
                                 RefundDecision::Kind::kNotPaid, false},
                      RefundCase{"ready", OrderStatus::kReady, std::nullopt, RefundDecision::Kind::kNotPaid, false},
                      RefundCase{"confirming", OrderStatus::kConfirming, std::nullopt, RefundDecision::Kind::kNotPaid,
                                 false},
                      RefundCase{"failed", OrderStatus::kFailed, std::nullopt, RefundDecision::Kind::kNotPaid, false},
                      RefundCase{"missing", std::nullopt, std::nullopt, RefundDecision::Kind::kNotFound, false}),
    [](const auto& info) { return std::string(info.param.name); });
