#include "application/queue_service.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "domain/errors.hpp"
#include "run_task.hpp"

using namespace ticketing;
using namespace ticketing::domain;
using application::AdmissionGuard;
using application::QueueService;

namespace {

using ticketing::testing::run_task;

ErrorCode error_code_of(Task<void> task) {
  try {
    run_task(std::move(task));
  } catch (const DomainError& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

class FakeClock final : public Clock {
 public:
  Timestamp now() const override { return now_; }
  Timestamp now_ = Timestamp{std::chrono::hours(24 * 365 * 50)};
};

// A FIFO waiting room in memory: same contract as the Redis store, without admission.
class FakeQueueStore final : public QueueStore {
 public:
  Task<QueuePlace> enter(ScheduleId s, UserId u, Timestamp now, const EnterGate& gate) override {
    last_gate = gate;
    co_return place(s, u, now, true);
  }
  // As the place script: a waiter's status call before the next poll is due is refused; an enter
  // then answers the place and writes nothing.
  QueuePlace place(ScheduleId s, UserId u, Timestamp now, bool join) {
    auto& q = waiting_[s.value];
    if (active_[s.value].count(u.value)) return QueuePlace{QueueStatus::kAdmitted, 0, {}, rate};
    auto it = std::find(q.begin(), q.end(), u.value);
    const bool was_waiting = it != q.end();
    const bool early = was_waiting && paced_until_[u.value] > now;
    if (early && !join) {
      QueuePlace refused;
      refused.refusal = QueueRefusal::kPollTooSoon;
      refused.poll_allowed_at = paced_until_[u.value];
      return refused;
    }
    if (!was_waiting) {
      q.push_back(u.value);
      it = q.end() - 1;
    }
    QueuePlace place{QueueStatus::kWaiting, (it - q.begin()) + 1, {}, rate};
    place.was_waiting = was_waiting;
    place.entered_early = early;
    if (early) place.poll_allowed_at = paced_until_[u.value];
    place.outlook.position = place.position;
    place.outlook.max_active = 10;
    place.outlook.admit_per_second = 5;
    place.outlook.active = static_cast<std::int64_t>(active_[s.value].size());
    place.outlook.completion_rate = rate;
    return place;
  }
  Task<std::optional<QueuePlace>> status(ScheduleId s, UserId u, Timestamp now) override {
    auto& q = waiting_[s.value];
    if (active_[s.value].count(u.value) || std::find(q.begin(), q.end(), u.value) != q.end()) {
      co_return place(s, u, now, false);
    }
    co_return std::nullopt;
  }
  Task<void> pace(ScheduleId, UserId u, Timestamp allowed_at, Timestamp) override {
    paced_until_[u.value] = allowed_at;
    ++pace_writes;
    co_return;
  }
  int pace_writes = 0;
  std::map<std::int64_t, Timestamp> paced_until_;
  EnterGate last_gate;
  Task<bool> leave(ScheduleId s, UserId u, Timestamp) override {
    auto& q = waiting_[s.value];
    const auto before = q.size() + active_[s.value].size();
    q.erase(std::remove(q.begin(), q.end(), u.value), q.end());
    active_[s.value].erase(u.value);
    co_return before != q.size() + active_[s.value].size();
  }
  Task<bool> touch_active(ScheduleId s, UserId u, Timestamp, Timestamp, bool) override {
    co_return active_[s.value].count(u.value) > 0;
  }
  Task<bool> complete_slot(ScheduleId s, UserId u, Timestamp, Timestamp) override {
    co_return active_[s.value].erase(u.value) > 0;
  }
  Task<AdmissionRound> admit(ScheduleId s, Timestamp) override {
    auto& q = waiting_[s.value];
    AdmissionRound round;
    if (!q.empty()) {
      active_[s.value].insert(q.front());
      q.erase(q.begin());
      round.admitted = 1;
    }
    round.waiting = static_cast<std::int64_t>(q.size());
    round.active = static_cast<std::int64_t>(active_[s.value].size());
    co_return round;
  }
  Task<std::vector<ScheduleId>> queued_schedules() override {
    std::vector<ScheduleId> out;
    for (const auto& [id, _] : waiting_) out.push_back(ScheduleId{id});
    co_return out;
  }
  Task<void> apply_controls(ScheduleId s, const QueueControls& c) override {
    controls_[s.value] = c;
    co_return;
  }
  Task<QueueSnapshot> snapshot(ScheduleId s) override {
    co_return QueueSnapshot{static_cast<std::int64_t>(waiting_[s.value].size()),
                            static_cast<std::int64_t>(active_[s.value].size()), rate};
  }
  std::map<std::int64_t, QueueControls> controls_;
  double rate = 0;
  std::map<std::int64_t, std::vector<std::int64_t>> waiting_;
  std::map<std::int64_t, std::set<std::int64_t>> active_;
};

class FakeCatalog final : public CatalogRepository {
 public:
  Task<std::vector<Concert>> list_concerts() override { co_return std::vector<Concert>{}; }
  Task<std::optional<std::vector<Schedule>>> list_schedules(ConcertId) override { co_return std::nullopt; }
  Task<std::optional<Schedule>> find_schedule(ScheduleId id) override {
    if (down) throw DependencyUnavailable("db", "down in this test");
    if (id.value == 1) co_return Schedule{id, ConcertId{1}, opens + std::chrono::hours(48), opens};
    co_return std::nullopt;
  }
  Task<std::optional<SeatMap>> seat_map(ScheduleId) override { co_return std::nullopt; }
  Task<SeatLayoutSeats> seat_layout(ScheduleId) override { co_return nullptr; }
  Task<std::vector<PriceTier>> price_tiers(ScheduleId) override { co_return std::vector<PriceTier>{}; }
  Timestamp opens{};
  bool down = false;
};

class FakeUsers final : public UserRepository {
 public:
  Task<bool> exists(UserId user) override { co_return user.value <= 100; }
};

class FakeTokens final : public TokenService {
 public:
  std::string issue(const AdmissionClaims& c) const override {
    return "token:" + std::to_string(c.user.value) + ":" + std::to_string(c.schedule.value);
  }
  TokenCheck verify(std::string_view token, Timestamp) const override {
    if (token == "expired") return {std::nullopt, TokenProblem::kExpired};
    if (!token.starts_with("token:")) return {std::nullopt, TokenProblem::kBadSignature};
    const auto rest = token.substr(6);
    const auto colon = rest.find(':');
    AdmissionClaims claims{UserId{std::stoll(std::string(rest.substr(0, colon)))},
                           ScheduleId{std::stoll(std::string(rest.substr(colon + 1)))},
                           {},
                           {}};
    return {claims, TokenProblem::kMalformed};
  }
};

struct Fixture {
  FakeClock clock;
  FakeQueueStore store;
  FakeCatalog catalog;
  FakeUsers users;
  FakeTokens tokens;
  QueuePolicy policy{10, 5, std::chrono::seconds(30), std::chrono::seconds(100)};
  QueueService service{store, catalog, users, tokens, clock, policy, std::chrono::minutes(10)};
  AdmissionGuard guard{tokens, store, clock};
  application::AdmissionJob job{store, clock, service.counters()};
};

}  // namespace

TEST(QueueService, EnterIsIdempotentAndWaitersGetNoToken) {
  Fixture f;
  const auto first = run_task(f.service.enter(UserId{7}, ScheduleId{1}));
  run_task(f.service.enter(UserId{8}, ScheduleId{1}));
  const auto again = run_task(f.service.enter(UserId{7}, ScheduleId{1}));
  EXPECT_EQ(first.status, QueueStatus::kWaiting);
  EXPECT_EQ(first.position, 1);
  EXPECT_EQ(again.position, 1);
  EXPECT_FALSE(again.token.has_value());
  EXPECT_EQ(run_task(f.service.status(UserId{8}, ScheduleId{1})).position, 2);
}

TEST(QueueService, AdmittedUsersGetPositionZeroAndAToken) {
  Fixture f;
  run_task(f.service.enter(UserId{7}, ScheduleId{1}));
  run_task(f.job.run_once());
  const auto view = run_task(f.service.status(UserId{7}, ScheduleId{1}));
  EXPECT_EQ(view.status, QueueStatus::kAdmitted);
  EXPECT_EQ(view.position, 0);
  EXPECT_EQ(view.estimated_wait_seconds, 0);
  EXPECT_EQ(view.token, "token:7:1");
  EXPECT_EQ(f.service.counters().admitted.load(), 1u);
  EXPECT_EQ(f.job.queue_sizes().at(1).waiting, 0);
  EXPECT_EQ(f.job.queue_sizes().at(1).active, 1);
}

TEST(QueueService, RejectsUnknownUsersSchedulesAndClosedBooking) {
  Fixture f;
  EXPECT_EQ(error_code_of([&]() -> Task<void> { co_await f.service.enter(UserId{101}, ScheduleId{1}); }()),
            ErrorCode::kNotFound);
  EXPECT_EQ(error_code_of([&]() -> Task<void> { co_await f.service.enter(UserId{1}, ScheduleId{2}); }()),
            ErrorCode::kNotFound);
  f.catalog.opens = f.clock.now_ + std::chrono::minutes(1);
  EXPECT_EQ(error_code_of([&]() -> Task<void> { co_await f.service.enter(UserId{1}, ScheduleId{1}); }()),
            ErrorCode::kBookingNotOpen);
  EXPECT_TRUE(f.store.waiting_[1].empty()) << "nothing written for a rejected enter";
  EXPECT_EQ(error_code_of([&]() -> Task<void> { co_await f.service.status(UserId{1}, ScheduleId{1}); }()),
            ErrorCode::kNotFound);
}

TEST(QueueService, EstimateCountsHeldSlotsAndTheMeasuredCompletionRate) {
  Fixture f;
  f.store.rate = 2.0;                                                      // two slots freed per second by purchases
  for (int user = 1; user <= 10; ++user) f.store.active_[1].insert(user);  // every slot held
  for (int user = 11; user <= 19; ++user) run_task(f.service.enter(UserId{user}, ScheduleId{1}));
  // 9th waiter: the 9th slot frees at 9 / 2 s (held slots expire only later: none known).
  EXPECT_EQ(run_task(f.service.status(UserId{19}, ScheduleId{1})).estimated_wait_seconds, 5);
}

TEST(QueueService, WaitersArePacedAdmittedUsersAreNot) {
  Fixture f;
  run_task(f.service.enter(UserId{7}, ScheduleId{1}));
  run_task(f.service.enter(UserId{8}, ScheduleId{1}));
  const auto first = run_task(f.service.status(UserId{8}, ScheduleId{1}));  // a first enter leaves no record
  ASSERT_GE(first.poll_after_ms, kMinPollMs);
  // Asking again right away: 429 with Retry-After, and the store wrote nothing (the fake refuses).
  try {
    run_task(f.service.status(UserId{8}, ScheduleId{1}));
    ADD_FAILURE() << "a poll right after the last one was accepted";
  } catch (const RetryLater& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTooManyRequests);
    EXPECT_GE(e.retry_after().count(), 1);
  }
  // Entering again then is idempotent (DESIGN.md §5): the same place, nothing written, and advice
  // that a client following it is not refused for.
  const auto writes = f.store.pace_writes;
  const auto again = run_task(f.service.enter(UserId{8}, ScheduleId{1}));
  EXPECT_EQ(again.position, 2);
  EXPECT_EQ(f.store.pace_writes, writes) << "an early enter moved the pacing";
  EXPECT_GE(f.clock.now_ + std::chrono::milliseconds(again.poll_after_ms), f.store.paced_until_[8]);
  // Once the advice's early share has passed, the poll is accepted.
  f.clock.now_ += std::chrono::milliseconds(first.poll_after_ms);
  EXPECT_EQ(run_task(f.service.status(UserId{8}, ScheduleId{1})).position, 2);
  // Admitted: the token comes at once, however often.
  run_task(f.job.run_once());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(run_task(f.service.status(UserId{7}, ScheduleId{1})).token.has_value());
}

TEST(AdmissionGuard, FollowsThe401Versus403Rules) {
  Fixture f;
  run_task(f.service.enter(UserId{7}, ScheduleId{1}));
  run_task(f.job.run_once());
  auto authorize = [&](std::optional<std::string> token, std::int64_t user, std::int64_t schedule) {
    return error_code_of([&, token]() -> Task<void> {
      const auto admission = co_await f.guard.admit(token, UserId{user});
      application::AdmissionGuard::require_schedule(admission, ScheduleId{schedule});
      throw DomainError(ErrorCode::kInternal, "authorized");  // marks success
    }());
  };
  EXPECT_EQ(authorize("token:7:1", 7, 1), ErrorCode::kInternal);  // accepted
  EXPECT_EQ(authorize(std::nullopt, 7, 1), ErrorCode::kUnauthenticated);
  EXPECT_EQ(authorize("", 7, 1), ErrorCode::kUnauthenticated);
  EXPECT_EQ(authorize("forged", 7, 1), ErrorCode::kUnauthenticated);
  EXPECT_EQ(authorize("expired", 7, 1), ErrorCode::kUnauthenticated);
  EXPECT_EQ(authorize("token:7:1", 8, 1), ErrorCode::kForbidden);
  EXPECT_EQ(authorize("token:7:1", 7, 2), ErrorCode::kForbidden);
  run_task(f.service.leave(UserId{7}, ScheduleId{1}));
  EXPECT_EQ(authorize("token:7:1", 7, 1), ErrorCode::kUnauthenticated) << "slot revoked after leaving";
  // The schedule the body names comes after the slot: a revoked token is 401 whatever the schedule.
  EXPECT_EQ(authorize("token:7:1", 7, 2), ErrorCode::kUnauthenticated);
  EXPECT_EQ(authorize("token:7:1", 8, 1), ErrorCode::kForbidden) << "someone else's token, revoked or not";
}

// DESIGN.md §5: auth before the body is read. admit() needs only the token and the caller, and
// checks the slot of the token's own schedule.
TEST(AdmissionGuard, AdmitsWithoutTheScheduleAndChecksTheTokensOwnSlot) {
  Fixture f;
  run_task(f.service.enter(UserId{7}, ScheduleId{1}));
  run_task(f.job.run_once());
  const auto admission = run_task(f.guard.admit("token:7:1", UserId{7}));
  EXPECT_EQ(admission.user(), UserId{7});
  EXPECT_EQ(admission.claims().schedule, ScheduleId{1});
  EXPECT_NO_THROW(application::AdmissionGuard::require_schedule(admission, ScheduleId{1}));
  EXPECT_EQ(error_code_of([&]() -> Task<void> {
              application::AdmissionGuard::require_schedule(admission, ScheduleId{2});
              co_return;
            }()),
            ErrorCode::kForbidden);
}

TEST(QueueService, LeavingWorksWhileTheDatabaseIsDown) {
  Fixture f;
  run_task(f.service.enter(UserId{7}, ScheduleId{1}));
  f.catalog.down = true;
  run_task(f.service.leave(UserId{7}, ScheduleId{1}));  // no schedule lookup needed to leave
  f.catalog.down = false;
  EXPECT_THROW(run_task(f.service.status(UserId{7}, ScheduleId{1})), DomainError);  // 404: not queued
  f.catalog.down = true;
  // Not queued: whether the schedule exists is unknown now, so the outage is reported.
  EXPECT_THROW(run_task(f.service.leave(UserId{7}, ScheduleId{1})), DependencyUnavailable);
}
