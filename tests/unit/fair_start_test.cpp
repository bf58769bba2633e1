// The pre-queue's fair start (DESIGN.md §15): the pure rules, the shuffle computed by FairStart and
// applied through an in-memory store with the Redis store's contract, and QueueService's PREQUEUED
// answers.
#include "application/fair_start.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "application/queue_service.hpp"
#include "domain/errors.hpp"
#include "infra/security/sodium_fairness_crypto.hpp"
#include "run_task.hpp"

using namespace ticketing;
using namespace ticketing::domain;
using application::FairStart;
using ticketing::testing::run_task;

namespace {

const Digest kSeed = [] {
  Digest seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i);
  return seed;
}();
// From `openssl`: SHA-256 of the bytes 00..1f, and HMAC-SHA256 with them as key of "42" and "7".
constexpr std::string_view kSeedCommitment = "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd";
constexpr std::string_view kMac42 = "7df989924b2ebf8832c80802d1213a8a21a062a23877f0718effe501daee1703";
constexpr std::string_view kMac7 = "43c875c1027e0bb60b3c5e055d7245befa0322f45d7a0f86cfb578e79a5ce269";

const Timestamp kT0 = Timestamp{std::chrono::hours(24 * 365 * 50)};

TEST(FairnessRules, HexRoundTripsAndRejectsAnythingElse) {
  EXPECT_EQ(to_hex(kSeed), "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  EXPECT_EQ(digest_from_hex(to_hex(kSeed)), kSeed);
  EXPECT_EQ(digest_from_hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"), kSeed);
  EXPECT_FALSE(digest_from_hex(""));
  EXPECT_FALSE(digest_from_hex(std::string(63, 'a')));
  EXPECT_FALSE(digest_from_hex(std::string(65, 'a')));
  EXPECT_FALSE(digest_from_hex(std::string(63, 'a') + "g"));
  EXPECT_EQ(fairness_message(UserId{42}), "42");
}

TEST(FairnessRules, CryptoMatchesOpenssl) {
  infra::security::SodiumFairnessCrypto crypto;
  EXPECT_EQ(to_hex(crypto.sha256(as_bytes_view(kSeed))), kSeedCommitment);
  EXPECT_EQ(to_hex(crypto.hmac_sha256(kSeed, "42")), kMac42);
  EXPECT_EQ(to_hex(crypto.hmac_sha256(kSeed, "7")), kMac7);
  EXPECT_NE(crypto.random_seed(), crypto.random_seed());
}

TEST(FairnessRules, OrderIsMacAscendingBytewiseThenUserId) {
  Digest low{}, high{};
  high[0] = 0x80;  // would sort first if bytes compared as signed char
  low[0] = 0x7f;
  Digest same{};
  same[31] = 1;
  std::vector<FairnessEntry> entries{{UserId{1}, high}, {UserId{9}, same}, {UserId{2}, low}, {UserId{3}, same}};
  sort_fair_order(entries);
  std::vector<std::int64_t> users;
  for (const auto& e : entries) users.push_back(e.user.value);
  EXPECT_EQ(users, (std::vector<std::int64_t>{3, 9, 2, 1}));
  // And the hex of the sorted MACs is sorted as strings too (what the reveal publishes).
  EXPECT_TRUE(std::is_sorted(entries.begin(), entries.end(),
                             [](const auto& a, const auto& b) { return to_hex(a.mac) < to_hex(b.mac); }));
}

TEST(FairnessRules, PhaseFollowsTheClockAndTheApply) {
  const auto pre = kT0;
  const auto opens = kT0 + std::chrono::minutes(30);
  const auto ms = std::chrono::milliseconds(1);
  EXPECT_EQ(fair_start_phase(opens - ms, std::nullopt, opens, false), FairStartPhase::kClosed);
  EXPECT_EQ(fair_start_phase(opens, std::nullopt, opens, false), FairStartPhase::kOpen);
  EXPECT_EQ(fair_start_phase(pre - ms, pre, opens, false), FairStartPhase::kBeforePrequeue);
  EXPECT_EQ(fair_start_phase(pre, pre, opens, false), FairStartPhase::kPrequeue);
  EXPECT_EQ(fair_start_phase(opens - ms, pre, opens, false), FairStartPhase::kPrequeue);
  EXPECT_EQ(fair_start_phase(opens, pre, opens, false), FairStartPhase::kOpenedNotApplied);
  EXPECT_EQ(fair_start_phase(opens, pre, opens, true), FairStartPhase::kOpen);
  EXPECT_TRUE(enters_prequeue(FairStartPhase::kPrequeue));
  EXPECT_TRUE(enters_prequeue(FairStartPhase::kOpenedNotApplied));
  EXPECT_FALSE(enters_prequeue(FairStartPhase::kOpen));
  EXPECT_FALSE(enters_prequeue(FairStartPhase::kBeforePrequeue));
  EXPECT_EQ(prequeue_poll_after_ms(kT0, kT0 + std::chrono::hours(1)), 30'000);
  EXPECT_EQ(prequeue_poll_after_ms(kT0, kT0 + std::chrono::seconds(10)), 5'000);
  EXPECT_EQ(prequeue_poll_after_ms(kT0, kT0 - std::chrono::seconds(10)), 1'000);
}

FairnessReveal good_reveal() {
  std::vector<std::string> order{std::string(kMac42), std::string(kMac7)};
  std::sort(order.begin(), order.end());
  return FairnessReveal{std::string(kSeedCommitment), to_hex(kSeed), order, 2};
}

TEST(FairnessVerify, AcceptsAGoodRevealAndFindsAUsersPlace) {
  infra::security::SodiumFairnessCrypto crypto;
  const auto verdict = verify_fairness(good_reveal(), crypto, UserPlaceCheck{UserId{42}, std::string(kMac42)});
  EXPECT_TRUE(verdict.ok()) << verdict.problems.front();
  EXPECT_EQ(verdict.user_mac, std::string(kMac42));
  EXPECT_EQ(verdict.user_place, 2);  // 43c8... < 7df9...
  const auto outsider = verify_fairness(good_reveal(), crypto, UserPlaceCheck{UserId{8}, std::nullopt});
  EXPECT_TRUE(outsider.ok());
  EXPECT_FALSE(outsider.user_place);
}

TEST(FairnessVerify, NamesEachProblem) {
  infra::security::SodiumFairnessCrypto crypto;
  auto wrong_commitment = good_reveal();
  wrong_commitment.commitment[0] = wrong_commitment.commitment[0] == '6' ? '7' : '6';
  EXPECT_FALSE(verify_fairness(wrong_commitment, crypto).ok());
  auto unsorted = good_reveal();
  std::swap(unsorted.order[0], unsorted.order[1]);
  EXPECT_FALSE(verify_fairness(unsorted, crypto).ok());
  auto duplicate = good_reveal();
  duplicate.order[1] = duplicate.order[0];
  EXPECT_FALSE(verify_fairness(duplicate, crypto).ok());
  auto upper = good_reveal();
  upper.order[0] = std::string(64, 'A');
  EXPECT_FALSE(verify_fairness(upper, crypto).ok());
  auto miscounted = good_reveal();
  miscounted.pre_queued = 3;
  EXPECT_FALSE(verify_fairness(miscounted, crypto).ok());
  auto unrevealed = good_reveal();
  unrevealed.seed.clear();
  EXPECT_FALSE(verify_fairness(unrevealed, crypto).ok());
  const auto wrong_mac = verify_fairness(good_reveal(), crypto, UserPlaceCheck{UserId{42}, std::string(kMac7)});
  ASSERT_EQ(wrong_mac.problems.size(), 1u);
  EXPECT_NE(wrong_mac.problems[0].find("HMAC"), std::string::npos);
}

// The Redis store's contract in memory.
class FakePrequeueStore final : public PrequeueStore {
 public:
  static constexpr std::int64_t kLate = 1'000'000'000'000'000;
  Task<PrequeueEntry> enter(ScheduleId, UserId user, Timestamp opens_at, bool is_late) override {
    if (applied_at) co_return PrequeueEntry::kApplied;
    opens = opens_at;
    if (!pre.contains(user.value)) pre[user.value] = ++seq + (is_late ? kLate : 0);
    co_return PrequeueEntry::kPrequeued;
  }
  Task<std::optional<Timestamp>> prequeued(ScheduleId, UserId user) override {
    if (pre.contains(user.value)) co_return opens;
    co_return std::nullopt;
  }
  Task<bool> leave(ScheduleId, UserId user) override { co_return pre.erase(user.value) > 0; }
  Task<std::int64_t> count(ScheduleId) override { co_return static_cast<std::int64_t>(pre.size()); }
  Task<Digest> ensure_seed(ScheduleId, const Digest& candidate) override {
    ++seed_calls;
    if (!seed) seed = candidate;
    pending = true;
    co_return *seed;
  }
  Task<FairnessState> state(ScheduleId, bool with_order) override {
    FairnessState state;
    state.seed = seed;
    state.applied_at = applied_at;
    state.pre_queued = pre_queued;
    state.late = late;
    if (with_order) state.order = order;
    co_return state;
  }
  Task<PrequeueSnapshot> members(ScheduleId) override {
    PrequeueSnapshot snapshot;
    for (const auto& [user, arrival] : pre) {
      if (arrival >= kLate) continue;
      snapshot.users.push_back(UserId{user});
      snapshot.last_arrival = std::max(snapshot.last_arrival, arrival);
    }
    if (on_members) on_members();
    co_return snapshot;
  }
  Task<ShuffleApplied> apply(ScheduleId, const std::vector<FairnessEntry>& entries, std::int64_t last_arrival,
                             Timestamp now) override {
    if (applied_at) co_return ShuffleApplied{};
    ShuffleApplied result{true, 0, 0};
    for (const auto& entry : entries) {
      const auto found = pre.find(entry.user.value);
      if (found == pre.end() || found->second > last_arrival) continue;  // left (and maybe came back late)
      pre.erase(found);
      waiting.push_back(entry.user.value);
      order.push_back(to_hex(entry.mac));
      ++result.ordered;
    }
    std::vector<std::pair<std::int64_t, std::int64_t>> rest;
    for (const auto& [user, arrival] : pre) rest.emplace_back(arrival, user);
    std::sort(rest.begin(), rest.end());
    for (const auto& [_, user] : rest) waiting.push_back(user);
    result.late = static_cast<std::int64_t>(rest.size());
    pre.clear();
    applied_at = now;
    pre_queued = result.ordered;
    late = result.late;
    co_return result;
  }
  Task<std::vector<ScheduleId>> pending_schedules() override {
    std::vector<ScheduleId> out;
    if (pending) out.push_back(ScheduleId{1});
    co_return out;
  }
  Task<void> forget_pending(ScheduleId) override {
    pending = false;
    co_return;
  }

  std::map<std::int64_t, std::int64_t> pre;  // user -> arrival
  std::int64_t seq = 0;
  Timestamp opens{};
  std::optional<Digest> seed;
  int seed_calls = 0;
  std::optional<Timestamp> applied_at;
  std::int64_t pre_queued = 0, late = 0;
  std::vector<std::string> order;
  std::vector<std::int64_t> waiting;
  bool pending = true;
  std::function<void()> on_members;
};

class FakeClock final : public Clock {
 public:
  Timestamp now() const override { return now_; }
  Timestamp now_ = kT0;
};

class FakeCatalog final : public CatalogRepository {
 public:
  Task<std::vector<Concert>> list_concerts() override { co_return std::vector<Concert>{}; }
  Task<std::optional<std::vector<Schedule>>> list_schedules(ConcertId) override { co_return std::nullopt; }
  Task<std::optional<Schedule>> find_schedule(ScheduleId id) override {
    if (id.value == 1) co_return schedule;
    if (id.value == 2) co_return Schedule{id, ConcertId{1}, opens + std::chrono::hours(48), opens};  // no pre-queue
    co_return std::nullopt;
  }
  Task<std::optional<SeatMap>> seat_map(ScheduleId) override { co_return std::nullopt; }
  Task<SeatLayoutSeats> seat_layout(ScheduleId) override { co_return nullptr; }
  Task<std::vector<PriceTier>> price_tiers(ScheduleId) override { co_return std::vector<PriceTier>{}; }
  Timestamp pre = kT0 + std::chrono::minutes(10);
  Timestamp opens = kT0 + std::chrono::minutes(40);
  Schedule schedule{ScheduleId{1}, ConcertId{1}, opens + std::chrono::hours(48), opens, pre};
};

struct FairFixture {
  FakeClock clock;
  FakePrequeueStore store;
  FakeCatalog catalog;
  infra::security::SodiumFairnessCrypto crypto;
  FairStart fair{store, catalog, crypto, clock};
};

TEST(FairStart, CommitmentFromThePrequeuesOpeningAndTheRevealAfterTheApply) {
  FairFixture f;
  auto view = *run_task(f.fair.fairness(ScheduleId{1}));
  EXPECT_EQ(view.phase, FairStartPhase::kBeforePrequeue);
  EXPECT_FALSE(view.commitment);
  EXPECT_FALSE(f.store.seed) << "no seed is drawn before the pre-queue opens";

  f.clock.now_ = f.catalog.pre;
  view = *run_task(f.fair.fairness(ScheduleId{1}));
  EXPECT_EQ(view.phase, FairStartPhase::kPrequeue);
  ASSERT_TRUE(view.commitment);
  ASSERT_TRUE(f.store.seed);
  EXPECT_EQ(*view.commitment, to_hex(f.crypto.sha256(as_bytes_view(*f.store.seed))));
  EXPECT_FALSE(view.seed) << "the seed stays secret until the shuffle is applied";

  for (std::int64_t user = 1; user <= 50; ++user) {
    EXPECT_EQ(run_task(f.fair.enter(f.catalog.schedule, UserId{user})), PrequeueEntry::kPrequeued);
  }
  EXPECT_EQ(run_task(f.fair.enter(f.catalog.schedule, UserId{7})), PrequeueEntry::kPrequeued);  // idempotent
  EXPECT_EQ(run_task(f.fair.prequeued_count(ScheduleId{1})), 50);
  EXPECT_EQ(run_task(f.fair.fairness(ScheduleId{1}))->commitment, view.commitment) << "drawn once";

  run_task(f.fair.run_once());  // not open yet: nothing applied
  EXPECT_FALSE(f.store.applied_at);
  EXPECT_TRUE(f.store.pending);

  f.clock.now_ = f.catalog.opens;
  EXPECT_EQ(run_task(f.fair.fairness(ScheduleId{1}))->phase, FairStartPhase::kOpenedNotApplied);
  EXPECT_FALSE(run_task(f.fair.fairness(ScheduleId{1}))->seed);
  run_task(f.fair.run_once());
  ASSERT_TRUE(f.store.applied_at);
  EXPECT_FALSE(f.store.pending);
  view = *run_task(f.fair.fairness(ScheduleId{1}));
  EXPECT_EQ(view.phase, FairStartPhase::kOpen);
  ASSERT_TRUE(view.seed);
  EXPECT_EQ(view.pre_queued, 50);
  ASSERT_EQ(view.order.size(), 50u);
  // The waiting line is the order recomputed from the revealed seed.
  const auto seed = *digest_from_hex(*view.seed);
  std::vector<FairnessEntry> expected;
  for (std::int64_t user = 1; user <= 50; ++user) {
    expected.push_back({UserId{user}, f.crypto.hmac_sha256(seed, fairness_message(UserId{user}))});
  }
  sort_fair_order(expected);
  std::vector<std::int64_t> expected_users;
  std::vector<std::string> expected_macs;
  for (const auto& e : expected) {
    expected_users.push_back(e.user.value);
    expected_macs.push_back(to_hex(e.mac));
  }
  EXPECT_EQ(f.store.waiting, expected_users);
  EXPECT_EQ(view.order, expected_macs);
  std::vector<std::int64_t> arrival_order(50);
  std::iota(arrival_order.begin(), arrival_order.end(), 1);
  EXPECT_NE(f.store.waiting, arrival_order) << "shuffled, not FIFO";
  EXPECT_TRUE(
      verify_fairness(FairnessReveal{*view.commitment, *view.seed, view.order, view.pre_queued}, f.crypto).ok());
  // After the apply, enter answers kApplied (the caller queues FIFO behind).
  EXPECT_EQ(run_task(f.fair.enter(f.catalog.schedule, UserId{51})), PrequeueEntry::kApplied);
  // A second apply (another worker) changes nothing.
  f.store.pending = true;
  const auto again = run_task(f.fair.open(ScheduleId{1}));
  EXPECT_FALSE(again.applied.applied);
  EXPECT_EQ(f.store.waiting.size(), 50u);
}

TEST(FairStart, UsersJoiningWhileTheShuffleIsComputedQueueBehindInArrivalOrder) {
  FairFixture f;
  f.clock.now_ = f.catalog.pre;
  for (std::int64_t user = 1; user <= 20; ++user) run_task(f.fair.enter(f.catalog.schedule, UserId{user}));
  f.clock.now_ = f.catalog.opens;
  // Between the worker's read and its apply: two late users join, one pre-queued user leaves.
  f.store.on_members = [&] {
    f.store.on_members = nullptr;
    f.store.pre[102] = ++f.store.seq;
    f.store.pre[101] = ++f.store.seq;
    f.store.pre.erase(5);
    f.store.pre.erase(6);
    f.store.pre[6] = ++f.store.seq;  // left and came back: late now
  };
  const auto report = run_task(f.fair.open(ScheduleId{1}));
  EXPECT_TRUE(report.applied.applied);
  EXPECT_EQ(report.applied.ordered, 18);
  EXPECT_EQ(report.applied.late, 3);
  ASSERT_EQ(f.store.waiting.size(), 21u);
  EXPECT_EQ(f.store.waiting[18], 102);
  EXPECT_EQ(f.store.waiting[19], 101);
  EXPECT_EQ(f.store.waiting[20], 6);
  EXPECT_EQ(std::count(f.store.waiting.begin(), f.store.waiting.end(), 5), 0);
  EXPECT_EQ(f.store.order.size(), 18u) << "the reveal lists only the shuffled users";
}

TEST(FairStart, UnknownScheduleIs404AndNoPrequeueHasNoCommitment) {
  FairFixture f;
  try {
    run_task(f.fair.fairness(ScheduleId{3}));
    ADD_FAILURE() << "expected 404";
  } catch (const DomainError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  f.clock.now_ = f.catalog.opens;
  const auto view = *run_task(f.fair.fairness(ScheduleId{2}));
  EXPECT_EQ(view.phase, FairStartPhase::kOpen);
  EXPECT_FALSE(view.commitment);
  EXPECT_FALSE(f.store.seed);
}

}  // namespace

namespace {

// Just enough of a waiting line for QueueService: FIFO, nobody admitted.
class FifoQueueStore final : public QueueStore {
 public:
  Task<QueuePlace> enter(ScheduleId, UserId u, Timestamp, const EnterGate&) override {
    auto it = std::find(line.begin(), line.end(), u.value);
    if (it == line.end()) it = line.insert(line.end(), u.value);
    co_return QueuePlace{QueueStatus::kWaiting, (it - line.begin()) + 1, {}, 0};
  }
  Task<std::optional<QueuePlace>> status(ScheduleId s, UserId u, Timestamp now) override {
    if (std::find(line.begin(), line.end(), u.value) == line.end()) co_return std::nullopt;
    co_return co_await enter(s, u, now, EnterGate{});
  }
  Task<bool> leave(ScheduleId, UserId u, Timestamp) override {
    const auto before = line.size();
    line.erase(std::remove(line.begin(), line.end(), u.value), line.end());
    co_return line.size() != before;
  }
  Task<bool> touch_active(ScheduleId, UserId, Timestamp, Timestamp, bool) override { co_return false; }
  Task<bool> complete_slot(ScheduleId, UserId, Timestamp, Timestamp) override { co_return false; }
  Task<AdmissionRound> admit(ScheduleId, Timestamp) override { co_return AdmissionRound{}; }
  Task<std::vector<ScheduleId>> queued_schedules() override { co_return std::vector<ScheduleId>{}; }
  Task<void> apply_controls(ScheduleId, const QueueControls&) override { co_return; }
  Task<QueueSnapshot> snapshot(ScheduleId) override { co_return QueueSnapshot{}; }
  std::vector<std::int64_t> line;
};

class AllUsers final : public UserRepository {
 public:
  Task<bool> exists(UserId) override { co_return true; }
};

class PlainTokens final : public TokenService {
 public:
  std::string issue(const AdmissionClaims& c) const override { return "token:" + std::to_string(c.user.value); }
  TokenCheck verify(std::string_view, Timestamp) const override { return {std::nullopt, TokenProblem::kMalformed}; }
};

ErrorCode error_of(Task<application::QueueView> task) {
  try {
    run_task(std::move(task));
  } catch (const DomainError& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

struct QueueFixture : FairFixture {
  FifoQueueStore line;
  AllUsers users;
  PlainTokens tokens;
  application::QueueService queue{line, catalog, users, tokens, clock, QueuePolicy{}, std::chrono::minutes(10), &fair};
};

TEST(QueueServicePrequeue, PrequeuedWithoutPositionThenPlacedByTheShuffleThenLateUsersBehind) {
  QueueFixture f;
  const ScheduleId schedule{1};
  EXPECT_EQ(error_of(f.queue.enter(UserId{1}, schedule)), ErrorCode::kBookingNotOpen) << "before the pre-queue";
  f.clock.now_ = f.catalog.pre;
  for (std::int64_t user = 1; user <= 10; ++user) {
    const auto view = run_task(f.queue.enter(UserId{user}, schedule));
    EXPECT_EQ(view.status, QueueStatus::kPrequeued);
    EXPECT_EQ(view.position, 0);
    EXPECT_FALSE(view.token);
    EXPECT_EQ(view.opens_at, f.catalog.opens);
    EXPECT_EQ(view.poll_after_ms, 30'000);
  }
  EXPECT_EQ(to_string(QueueStatus::kPrequeued), "PREQUEUED");
  EXPECT_EQ(run_task(f.queue.status(UserId{3}, schedule)).status, QueueStatus::kPrequeued);
  EXPECT_EQ(error_of(f.queue.status(UserId{11}, schedule)), ErrorCode::kNotFound);
  run_task(f.queue.leave(UserId{10}, schedule));
  EXPECT_EQ(error_of(f.queue.status(UserId{10}, schedule)), ErrorCode::kNotFound);
  EXPECT_TRUE(f.line.line.empty()) << "nobody is in the waiting line before the opening";

  // Opened, shuffle not applied yet: a newcomer still goes into the pre-queue (then late).
  f.clock.now_ = f.catalog.opens;
  EXPECT_EQ(run_task(f.queue.enter(UserId{20}, schedule)).status, QueueStatus::kPrequeued);
  EXPECT_TRUE(f.line.line.empty());
  // The fake store is the waiting line of FairFixture's store; copy its apply into the FIFO line.
  run_task(f.fair.run_once());
  f.line.line = f.store.waiting;
  ASSERT_EQ(f.line.line.size(), 10u);
  EXPECT_EQ(f.line.line.back(), 20) << "the late user queues behind the shuffled ones";
  const auto first = run_task(f.queue.status(UserId{f.line.line.front()}, schedule));
  EXPECT_EQ(first.status, QueueStatus::kWaiting);
  EXPECT_EQ(first.position, 1);
  const auto after = run_task(f.queue.enter(UserId{30}, schedule));
  EXPECT_EQ(after.status, QueueStatus::kWaiting);
  EXPECT_EQ(after.position, 11);
}

TEST(QueueServicePrequeue, WithoutAFairStartAPrequeueScheduleIsNotOpenBeforeItsOpening) {
  FairFixture fixture;
  FifoQueueStore line;
  AllUsers users;
  PlainTokens tokens;
  application::QueueService queue{line,          fixture.catalog,         users, tokens, fixture.clock,
                                  QueuePolicy{}, std::chrono::minutes(10)};
  fixture.clock.now_ = fixture.catalog.pre;
  EXPECT_EQ(error_of(queue.enter(UserId{1}, ScheduleId{1})), ErrorCode::kBookingNotOpen);
  fixture.clock.now_ = fixture.catalog.opens;
  EXPECT_EQ(run_task(queue.enter(UserId{1}, ScheduleId{1})).status, QueueStatus::kWaiting);
}

}  // namespace
