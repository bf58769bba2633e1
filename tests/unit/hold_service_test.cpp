#include <gtest/gtest.h>

#include "run_task.hpp"

#include <set>

#include "application/hold_service.hpp"
#include "domain/errors.hpp"

using namespace ticketing;
using namespace ticketing::domain;

namespace {

using ticketing::testing::run_task;

class FixedClock final : public Clock {
 public:
  Timestamp now() const override { return Timestamp{std::chrono::hours(500000)}; }
};

class AllowAllTokens final : public TokenService {
 public:
  std::string issue(const AdmissionClaims&) const override { return "t"; }
  TokenCheck verify(std::string_view, Timestamp) const override {
    return {AdmissionClaims{UserId{1}, ScheduleId{1}, {}, {}}, TokenProblem::kMalformed};
  }
};

class ActiveQueue final : public QueueStore {
 public:
  Task<QueuePlace> enter(ScheduleId, UserId, Timestamp) override { co_return QueuePlace{}; }
  Task<std::optional<QueuePlace>> status(ScheduleId, UserId, Timestamp) override { co_return std::nullopt; }
  Task<bool> leave(ScheduleId, UserId, Timestamp) override { co_return true; }
  Task<bool> touch_active(ScheduleId, UserId, Timestamp, Timestamp) override {
    if (redis_down) throw DependencyUnavailable("redis", "down");
    co_return true;
  }
  Task<bool> complete_slot(ScheduleId, UserId, Timestamp, Timestamp) override { co_return true; }
  Task<AdmissionRound> admit(ScheduleId, Timestamp) override { co_return AdmissionRound{}; }
  Task<std::vector<ScheduleId>> queued_schedules() override { co_return std::vector<ScheduleId>{}; }
  bool redis_down = false;
};

class FakeLocks final : public SeatLockStore {
 public:
  Task<SeatLockResult> lock(ScheduleId, UserId, const std::vector<std::string>& seats,
                            std::chrono::milliseconds) override {
    if (down) throw DependencyUnavailable("redis", "down");
    SeatLockResult result;
    for (const auto& seat : seats) {
      if (others.count(seat)) result.conflicts.push_back(seat);
    }
    if (result.conflicts.empty()) {
      for (const auto& seat : seats) {
        if (mine.insert(seat).second) result.taken.push_back(seat);
      }
    }
    co_return result;
  }
  Task<void> mark_sold(ScheduleId, UserId, const std::vector<std::string>&) override { co_return; }
  Task<void> unlock(ScheduleId, UserId, const std::vector<std::string>& seats) override {
    for (const auto& seat : seats) mine.erase(seat);
    co_return;
  }
  bool down = false;
  std::set<std::string> others, mine;
};

class FakeReservations final : public ReservationRepository {
 public:
  Task<std::vector<std::string>> missing_seats(ScheduleId, const std::vector<std::string>& seats) override {
    std::vector<std::string> missing;
    for (const auto& seat : seats) {
      if (seat.starts_with("X")) missing.push_back(seat);
    }
    co_return missing;
  }
  Task<HoldOutcome> hold(ScheduleId, UserId, const std::vector<std::string>& seats, Timestamp, Timestamp, int) override {
    ++hold_calls;
    HoldOutcome outcome;
    for (const auto& seat : seats) {
      if (db_taken.count(seat)) outcome.taken_seats.push_back(seat);
    }
    if (!outcome.taken_seats.empty()) {
      outcome.kind = HoldOutcome::Kind::kSeatsTaken;
      co_return outcome;
    }
    for (const auto& seat : seats) outcome.seats.push_back({ReservationId{++next_id}, seat});
    co_return outcome;
  }
  Task<ReleaseOutcome> release(ScheduleId, UserId, const std::vector<std::string>& seats, Timestamp) override {
    co_return ReleaseOutcome{ReleaseOutcome::Kind::kReleased, seats};
  }
  Task<std::int64_t> expire_holds(Timestamp, int) override { co_return 0; }
  std::set<std::string> db_taken;
  int hold_calls = 0;
  std::int64_t next_id = 0;
};

struct Fixture {
  FixedClock clock;
  AllowAllTokens tokens;
  ActiveQueue queue;
  FakeLocks locks;
  FakeReservations reservations;
  application::AdmissionGuard guard{tokens, queue, clock};
  application::HoldService holds{guard, locks, reservations, clock, {std::chrono::minutes(5), 4}};
  std::optional<std::string> token = "t";

  application::HoldView hold(std::vector<std::string> seats) {
    return run_task(holds.hold_seats(token, UserId{1}, ScheduleId{1}, seats));
  }
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

TEST(HoldService, HoldsFreeSeats) {
  Fixture f;
  const auto view = f.hold({"A-1", "A-2"});
  ASSERT_EQ(view.seats.size(), 2u);
  EXPECT_EQ(view.seats[1].seat_no, "A-2");
  EXPECT_EQ(view.expires_at, f.clock.now() + std::chrono::minutes(5));
  EXPECT_EQ(f.locks.mine, (std::set<std::string>{"A-1", "A-2"}));
}

TEST(HoldService, RedisConflictNamesExactlyTheTakenSeatsAndSkipsTheDatabase) {
  Fixture f;
  f.locks.others = {"A-2", "A-9"};
  try {
    f.hold({"A-1", "A-2", "A-3"});
    FAIL();
  } catch (const SeatConflict& e) {
    EXPECT_EQ(e.seats(), std::vector<std::string>{"A-2"});
  }
  EXPECT_EQ(f.reservations.hold_calls, 0);
  EXPECT_TRUE(f.locks.mine.empty());
}

TEST(HoldService, DatabaseRefusalDropsExactlyTheLocksThisRequestTook) {
  Fixture f;
  f.locks.mine = {"A-1"};  // the user's lock from an earlier hold: not ours to drop
  f.reservations.db_taken = {"A-3"};
  try {
    f.hold({"A-1", "A-2", "A-3"});
    FAIL();
  } catch (const SeatConflict& e) {
    EXPECT_EQ(e.seats(), std::vector<std::string>{"A-3"});
  }
  EXPECT_EQ(f.locks.mine, std::set<std::string>{"A-1"});
  EXPECT_EQ(f.holds.counters().db_conflicts.load(), 1u);
}

TEST(HoldService, RedisDownStillHoldsThroughTheDatabase) {
  Fixture f;
  f.locks.down = true;
  f.queue.redis_down = true;
  EXPECT_EQ(f.hold({"A-1"}).seats.size(), 1u);
  EXPECT_EQ(f.holds.counters().redis_bypassed.load(), 1u);
  f.reservations.db_taken = {"A-2"};
  EXPECT_THROW(f.hold({"A-2"}), SeatConflict);
}

TEST(HoldService, ValidatesBeforeTouchingAnything) {
  Fixture f;
  EXPECT_EQ(code_of([&] { f.hold({"X-1"}); }), ErrorCode::kNotFound);
  EXPECT_EQ(code_of([&] { f.hold({"A-1", "A-1"}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { f.hold({"A-1", "A-2", "A-3", "A-4", "A-5"}); }), ErrorCode::kInvalidArgument);
  f.token.reset();
  EXPECT_EQ(code_of([&] { f.hold({"A-1"}); }), ErrorCode::kUnauthenticated);
  EXPECT_EQ(f.reservations.hold_calls, 0);
  EXPECT_TRUE(f.locks.mine.empty());
}
