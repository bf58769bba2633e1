#include "application/hold_service.hpp"

#include <gtest/gtest.h>

#include <set>

#include "booking_fakes.hpp"
#include "domain/errors.hpp"
#include "run_task.hpp"

using namespace ticketing;
using namespace ticketing::domain;

namespace {

using ticketing::testing::run_task;
using namespace ticketing::testing;

constexpr ScheduleId kSchedule{1};
constexpr UserId kMe{1};
constexpr UserId kOther{2};

struct Fixture {
  Fixture() { store.add_seats(kSchedule, {"A-1", "A-2", "A-3", "A-4", "A-5"}, Money{5000}); }

  ManualClock clock;
  FakeTokens tokens;
  FakeQueueStore queue;
  FakeSeatLockStore locks{clock};
  BookingStore store;
  FakeReservationRepository reservations{store};
  RecordingSeatEvents events;
  application::AdmissionGuard guard{tokens, queue, clock};
  application::HoldService holds{guard, locks, reservations, clock, events, {std::chrono::minutes(5), 4}};
  application::HoldExpiryJob expiry{reservations, clock, events, 2};
  std::optional<std::string> token = "1:1";

  application::HoldView hold(std::vector<std::string> seats, UserId user = kMe) {
    const std::optional<std::string> as =
        user == kMe ? token : std::optional<std::string>(tokens.issue({user, kSchedule, {}, {}}));
    const auto admission = run_task(holds.admit(as, user));
    return run_task(holds.hold_seats(admission, kSchedule, seats));
  }
  std::vector<std::string> release(std::vector<std::string> seats, UserId user = kMe) {
    const std::optional<std::string> as = tokens.issue({user, kSchedule, {}, {}});
    const auto admission = run_task(holds.admit(as, user));
    return run_task(holds.release_seats(admission, kSchedule, seats));
  }
  std::vector<std::string> conflict_of(std::vector<std::string> seats, UserId user = kMe) {
    try {
      hold(std::move(seats), user);
    } catch (const SeatConflict& e) {
      return e.seats();
    }
    ADD_FAILURE() << "no conflict";
    return {};
  }
  const BookingStore::Reservation* live(const std::string& seat) const { return store.live_row(kSchedule, seat); }
};

template <typename F>
ErrorCode code_of(F&& f) {
  try {
    f();
  } catch (const DomainError& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

}  // namespace

TEST(ValidateSeatRequest, RejectsEmptyTooManyMalformedAndDuplicates) {
  EXPECT_NO_THROW(validate_seat_request({"A-1", "A-2"}, 4));
  EXPECT_THROW(validate_seat_request({}, 4), DomainError);
  EXPECT_THROW(validate_seat_request({"A-1", "A-2", "A-3", "A-4", "A-5"}, 4), DomainError);
  EXPECT_THROW(validate_seat_request({"A 1"}, 4), DomainError);
  try {
    validate_seat_request({"A-1", "B-2", "A-1"}, 4);
    FAIL();
  } catch (const DomainError& e) {
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].field, "seatNos[2]");
  }
}

TEST(HoldService, HoldsFreeSeatsAndEmitsThemOnce) {
  Fixture f;
  const auto view = f.hold({"A-1", "A-2"});
  ASSERT_EQ(view.seats.size(), 2u);
  EXPECT_EQ(view.seats[1].seat_no, "A-2");
  EXPECT_EQ(view.expires_at, f.clock.now() + std::chrono::minutes(5));
  ASSERT_NE(f.live("A-2"), nullptr);
  EXPECT_EQ(f.live("A-2")->id, view.seats[1].id);
  EXPECT_EQ(f.locks.lock_of(kSchedule, "A-1")->owner, kMe);
  EXPECT_EQ(f.locks.lock_of(kSchedule, "A-1")->expires_at, view.expires_at);
  EXPECT_EQ(f.events.events, (std::vector<SeatChanged>{{kSchedule, {"A-1", "A-2"}, SeatChange::kHeld}}));
}

TEST(HoldService, RedisConflictNamesExactlyTheTakenSeatsAndSkipsTheDatabase) {
  Fixture f;
  f.hold({"A-2"}, kOther);
  const int db_calls = f.reservations.hold_calls;
  EXPECT_EQ(f.conflict_of({"A-1", "A-2", "A-3"}), std::vector<std::string>{"A-2"});
  EXPECT_EQ(f.reservations.hold_calls, db_calls);
  EXPECT_FALSE(f.locks.lock_of(kSchedule, "A-1"));  // all or nothing
  EXPECT_EQ(f.events.events.size(), 1u);            // only the other user's hold
}

TEST(HoldService, DatabaseRefusalDropsExactlyTheLocksThisRequestTook) {
  Fixture f;
  f.hold({"A-1"});  // the user's own lock and row: not this request's to drop
  const auto own_lock = f.locks.lock_of(kSchedule, "A-1");
  f.hold({"A-3"}, kOther);
  f.locks.drop(kSchedule, "A-3");  // evicted from Redis; the database still has the row
  f.events.events.clear();
  // Own seats are named too: a hold never extends itself.
  EXPECT_EQ(f.conflict_of({"A-1", "A-2", "A-3"}), (std::vector<std::string>{"A-1", "A-3"}));
  EXPECT_EQ(f.locks.lock_of(kSchedule, "A-1")->expires_at, own_lock->expires_at);
  EXPECT_FALSE(f.locks.lock_of(kSchedule, "A-2"));
  EXPECT_FALSE(f.locks.lock_of(kSchedule, "A-3"));
  EXPECT_EQ(f.holds.counters().db_conflicts.load(), 1u);
  EXPECT_TRUE(f.events.events.empty());
}

// A lock call that timed out may still run in Redis later. When the database then refuses the hold
// (someone else's row, its lock lost in a flush), the request's seats are let go by owner: a late
// lock of a seat the user does not have would refuse it to everyone else for hold.ttl after its
// holder releases it.
TEST(HoldService, ATimedOutLockIsLetGoWhenTheDatabaseRefusesTheHold) {
  Fixture f;
  f.hold({"A-3"}, kOther);
  f.locks.drop(kSchedule, "A-3");  // lost in a flush; the database still has the row
  f.locks.times_out_after_locking = true;
  EXPECT_EQ(f.conflict_of({"A-2", "A-3"}), (std::vector<std::string>{"A-3"}));
  EXPECT_FALSE(f.locks.lock_of(kSchedule, "A-2")) << "a free seat stayed locked to the refused user";
  EXPECT_FALSE(f.locks.lock_of(kSchedule, "A-3")) << "a seat the refused user does not hold stayed locked to them";
  // Once its holder lets it go, anyone can have it.
  f.release({"A-3"}, kOther);
  EXPECT_EQ(f.hold({"A-3"}).seats.size(), 1u);
}

// One user's hold and release of a seat racing: the release commits in the database, the hold
// finds the user's lock still there (so takes none), and the release's unlock, after its commit,
// drops that lock while the new hold is being written. The new hold keeps a lock of its own: the
// fast path goes on refusing the seat to others (it was left without one until hold.ttl).
TEST(HoldService, AHoldThatFoundItsUsersLockKeepsOneWhenAParallelReleaseDropsIt) {
  Fixture f;
  f.hold({"A-1"});
  run_task(f.reservations.release(kSchedule, kMe, {"A-1"}, f.clock.now()));
  f.reservations.before_hold = [&] { run_task(f.locks.unlock(kSchedule, kMe, {"A-1"})); };
  f.clock.advance(std::chrono::seconds(30));
  const auto again = f.hold({"A-1"});
  ASSERT_EQ(again.seats.size(), 1u);
  const auto lock = f.locks.lock_of(kSchedule, "A-1");
  ASSERT_TRUE(lock) << "the new hold was left without a lock";
  EXPECT_EQ(lock->owner, kMe);
  EXPECT_EQ(lock->expires_at, again.expires_at) << "the lock lasts as long as the new hold";
  EXPECT_EQ(f.locks.renew_calls, 1);
  // A hold that took every lock itself needs no second call.
  f.reservations.before_hold = nullptr;
  f.hold({"A-2"});
  EXPECT_EQ(f.locks.renew_calls, 1);
  // Another user's lock is never taken over.
  f.hold({"A-3"}, kOther);
  run_task(f.locks.renew_for_new_hold(kSchedule, kMe, {"A-3"}, std::chrono::minutes(5)));
  EXPECT_EQ(f.locks.lock_of(kSchedule, "A-3")->owner, kOther);
}

TEST(HoldService, ReHoldingOwnSeatsJustBeforeExpiryNeverExtendsThem) {
  Fixture f;
  const auto first = f.hold({"A-1"});
  for (int i = 0; i < 100; ++i) {
    f.clock.set(first.expires_at - std::chrono::milliseconds(100 - i));
    EXPECT_EQ(f.conflict_of({"A-1"}), std::vector<std::string>{"A-1"});
  }
  EXPECT_EQ(f.locks.lock_of(kSchedule, "A-1")->expires_at, first.expires_at);
  EXPECT_EQ(f.live("A-1")->expires_at, first.expires_at);
  f.clock.set(first.expires_at);
  // The lock has lapsed and the row is stale: someone else gets the seat, the old hold expires.
  f.events.events.clear();
  const auto taken = f.hold({"A-1"}, kOther);
  EXPECT_EQ(f.live("A-1")->user, kOther);
  EXPECT_EQ(f.events.events, (std::vector<SeatChanged>{{kSchedule, {"A-1"}, SeatChange::kExpired},
                                                       {kSchedule, {"A-1"}, SeatChange::kHeld}}));
  EXPECT_EQ(f.store.reservation(first.seats[0].id).status, ReservationStatus::kExpired);
  EXPECT_EQ(taken.seats.size(), 1u);
}

TEST(HoldService, TheLimitCountsHeldAndSoldSeatsAcrossRequests) {
  Fixture f;
  f.hold({"A-1", "A-2", "A-3"});
  EXPECT_EQ(code_of([&] { f.hold({"A-4", "A-5"}); }), ErrorCode::kHoldLimitExceeded);
  EXPECT_FALSE(f.locks.lock_of(kSchedule, "A-4"));  // the refused request's locks are dropped
  EXPECT_EQ(f.holds.counters().limit_refused.load(), 1u);
  EXPECT_EQ(f.hold({"A-4"}).seats.size(), 1u);
}

TEST(HoldService, RedisDownStillHoldsThroughTheDatabase) {
  Fixture f;
  f.locks.down = true;
  f.queue.down = true;
  EXPECT_EQ(f.hold({"A-1"}).seats.size(), 1u);
  EXPECT_EQ(f.holds.counters().redis_bypassed.load(), 1u);
  EXPECT_EQ(f.conflict_of({"A-1"}, kOther), std::vector<std::string>{"A-1"});
}

TEST(HoldService, ReleaseCancelsOwnHoldsDropsTheLocksAndEmitsOnce) {
  Fixture f;
  f.hold({"A-1", "A-2"});
  f.events.events.clear();
  EXPECT_EQ(f.release({"A-2", "A-1"}), (std::vector<std::string>{"A-2", "A-1"}));
  EXPECT_EQ(f.live("A-1"), nullptr);
  EXPECT_FALSE(f.locks.lock_of(kSchedule, "A-1"));
  EXPECT_EQ(f.events.events, (std::vector<SeatChanged>{{kSchedule, {"A-2", "A-1"}, SeatChange::kReleased}}));
}

TEST(HoldService, ReleaseRefusalsFollowThePrecedenceAndChangeNothing) {
  Fixture f;
  f.hold({"A-1"});
  f.hold({"A-2"}, kOther);
  f.events.events.clear();
  EXPECT_EQ(code_of([&] { f.release({"A-1", "A-2", "A-3"}); }), ErrorCode::kForbidden);
  EXPECT_EQ(code_of([&] { f.release({"A-1", "A-3"}); }), ErrorCode::kConflict);
  EXPECT_NE(f.live("A-1"), nullptr);
  EXPECT_TRUE(f.locks.lock_of(kSchedule, "A-1"));  // nothing released, nothing unlocked
  EXPECT_TRUE(f.events.events.empty());
}

TEST(HoldExpiryJob, ExpiresStaleHoldsAndEmitsThem) {
  Fixture f;
  f.hold({"A-1", "A-2"});
  f.hold({"A-3"}, kOther);
  f.clock.advance(std::chrono::minutes(5));
  f.events.events.clear();
  EXPECT_EQ(run_task(f.expiry.run_once()), 3);  // batch 2: two rounds
  EXPECT_EQ(f.live("A-1"), nullptr);
  EXPECT_EQ(f.live("A-3"), nullptr);
  ASSERT_EQ(f.events.events.size(), 2u);
  EXPECT_EQ(f.events.events[0], (SeatChanged{kSchedule, {"A-1", "A-2"}, SeatChange::kExpired}));
  EXPECT_EQ(f.events.events[1], (SeatChanged{kSchedule, {"A-3"}, SeatChange::kExpired}));
  EXPECT_EQ(run_task(f.expiry.run_once()), 0);
}

TEST(HoldService, ValidatesBeforeTouchingAnything) {
  Fixture f;
  EXPECT_EQ(code_of([&] { f.hold({"X-1"}); }), ErrorCode::kNotFound);
  EXPECT_EQ(code_of([&] { f.hold({"A-1", "A-1"}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { f.hold({"A-1", "A-2", "A-3", "A-4", "A-5"}); }), ErrorCode::kInvalidArgument);
  f.token = "2:1";  // another user's admission
  EXPECT_EQ(code_of([&] { f.hold({"A-1"}); }), ErrorCode::kForbidden);
  f.token.reset();
  EXPECT_EQ(code_of([&] { f.hold({"A-1"}); }), ErrorCode::kUnauthenticated);
  EXPECT_EQ(f.reservations.hold_calls, 0);
  EXPECT_EQ(f.locks.lock_calls, 0);
}

// A booking call extends its admission slot only when its own input passes: a bad body (400) or a
// body for another schedule (403) is refused without writing — a junk call every few minutes must
// not keep a slot from the people waiting. An ended slot still answers 401 before the bad body.
TEST(AdmissionGuardInput, OnlyACallWhoseInputPassesExtendsTheSlot) {
  Fixture f;
  const auto claims_schedule = [&](ScheduleId schedule) {
    return application::AdmissionGuard::InputCheck(
        [schedule](const AdmissionClaims& claims) { application::AdmissionGuard::require_schedule(claims, schedule); });
  };
  const application::AdmissionGuard::InputCheck bad_body = [](const AdmissionClaims&) {
    throw invalid_argument("body", "malformed JSON body");
  };
  EXPECT_EQ(code_of([&] { run_task(f.holds.admit(f.token, kMe, bad_body)); }), ErrorCode::kInvalidArgument);
  const auto other_schedule = claims_schedule(ScheduleId{2});
  EXPECT_EQ(code_of([&] { run_task(f.holds.admit(f.token, kMe, other_schedule)); }), ErrorCode::kForbidden);
  EXPECT_EQ(f.queue.extended, 0);
  EXPECT_EQ(f.queue.looked_at, 2);

  const auto this_schedule = claims_schedule(kSchedule);
  const auto admission = run_task(f.holds.admit(f.token, kMe, this_schedule));
  EXPECT_EQ(admission.user(), kMe);
  EXPECT_EQ(f.queue.extended, 1);

  // The slot has ended: 401 whatever the body, and the body is never the answer.
  f.queue.live = false;
  EXPECT_EQ(code_of([&] { run_task(f.holds.admit(f.token, kMe, bad_body)); }), ErrorCode::kUnauthenticated);
  EXPECT_EQ(code_of([&] { run_task(f.holds.admit(f.token, kMe, this_schedule)); }), ErrorCode::kUnauthenticated);
  // Someone else's token is 403 before the body or the slot is looked at.
  const std::optional<std::string> theirs = f.tokens.issue({kOther, kSchedule, {}, {}});
  const int looked = f.queue.looked_at + f.queue.extended;
  EXPECT_EQ(code_of([&] { run_task(f.holds.admit(theirs, kMe, bad_body)); }), ErrorCode::kForbidden);
  EXPECT_EQ(f.queue.looked_at + f.queue.extended, looked);
}
