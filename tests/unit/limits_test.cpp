// Per-address limits, the capped maps and the admission round's isolation (docs/limits.md).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>

#include "api/address_limiter.hpp"
#include "api/dispatcher.hpp"
#include "api/http_types.hpp"
#include "application/queue_service.hpp"
#include "domain/errors.hpp"
#include "run_task.hpp"

using namespace ticketing;
using namespace ticketing::api;
using namespace std::chrono_literals;
using ticketing::testing::run_task;

namespace {

struct ManualClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  AddressLimiter::Clock function() {
    return [this] { return now; };
  }
};

}  // namespace

TEST(AddressLimiter, AllowsTheBurstThenRefusesWithWholeSecondsUntilATokenIsBack) {
  ManualClock clock;
  AddressLimiter limiter(BucketLimit{0.5, 3}, 100, clock.function());  // one token every 2 s
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.take("10.0.0.1")) << i;
  const auto refused = limiter.take("10.0.0.1");
  ASSERT_TRUE(refused);
  EXPECT_EQ(*refused, 2s);
  EXPECT_FALSE(limiter.take("10.0.0.2")) << "another address has its own bucket";
  clock.now += 1500ms;
  ASSERT_TRUE(limiter.take("10.0.0.1"));
  EXPECT_EQ(*limiter.take("10.0.0.1"), 1s) << "never 0: at least one second";
  clock.now += 500ms;
  EXPECT_FALSE(limiter.take("10.0.0.1")) << "a token came back after 2 s";
  EXPECT_TRUE(limiter.take("10.0.0.1"));
}

TEST(AddressLimiter, RefusedRequestsDoNotDeepenTheDebt) {
  ManualClock clock;
  AddressLimiter limiter(BucketLimit{1, 1}, 100, clock.function());
  EXPECT_FALSE(limiter.take("10.0.0.1"));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.take("10.0.0.1"));
  clock.now += 1s;
  EXPECT_FALSE(limiter.take("10.0.0.1")) << "a client that kept hammering is let in once the rate allows";
}

TEST(AddressLimiter, EmptyAddressIsNeverLimited) {
  AddressLimiter limiter(BucketLimit{1, 1}, 100);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(limiter.take(""));
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(AddressLimiter, MapIsCappedAndForgetsTheLeastRecentlySeenAddress) {
  ManualClock clock;
  AddressLimiter limiter(BucketLimit{0.001, 1}, 64, clock.function());
  ASSERT_EQ(limiter.capacity(), 64u);
  for (int i = 0; i < 100'000; ++i)
    limiter.take("10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                 std::to_string(i % 256));
  EXPECT_LE(limiter.size(), limiter.capacity());
  EXPECT_GE(limiter.evicted(), 100'000u - limiter.capacity());

  // An address used all the time stays remembered (and limited) while others come and go.
  AddressLimiter busy(BucketLimit{0.001, 1}, AddressLimiter::kStripes * 4, clock.function());
  EXPECT_FALSE(busy.take("192.0.2.1"));
  for (int i = 0; i < 10'000; ++i) {
    busy.take("198.51." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256));
    EXPECT_TRUE(busy.take("192.0.2.1")) << i;
  }
}

TEST(AddressRange, ParsesNetworksAndMatchesClientAddresses) {
  const auto loopback = AddressRange::parse("127.0.0.0/8");
  ASSERT_TRUE(loopback);
  EXPECT_TRUE(loopback->contains("127.0.0.1"));
  EXPECT_TRUE(loopback->contains("127.255.1.2"));
  EXPECT_FALSE(loopback->contains("128.0.0.1"));
  EXPECT_FALSE(loopback->contains("::/64"));
  const auto host = AddressRange::parse(" 10.1.2.3 ");
  ASSERT_TRUE(host);
  EXPECT_TRUE(host->contains("10.1.2.3"));
  EXPECT_FALSE(host->contains("10.1.2.4"));
  const auto odd = AddressRange::parse("10.0.0.0/9");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains("10.127.0.1"));
  EXPECT_FALSE(odd->contains("10.128.0.1"));

  // IPv6 clients are their /64 (http::client_address): ::1 is "::/64".
  const auto v6_loopback = AddressRange::parse("::1/128");
  ASSERT_TRUE(v6_loopback);
  EXPECT_TRUE(v6_loopback->contains("::/64"));
  EXPECT_FALSE(v6_loopback->contains("2001:db8::/64"));
  EXPECT_FALSE(v6_loopback->contains("127.0.0.1"));
  const auto v6_net = AddressRange::parse("2001:db8::/32");
  ASSERT_TRUE(v6_net);
  EXPECT_TRUE(v6_net->contains("2001:db8:1:2::/64"));
  EXPECT_FALSE(v6_net->contains("2001:db9::/64"));

  for (const char* bad :
       {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/a", "host.example", "10.0.0/8", "1.2.3.4/-1"}) {
    EXPECT_FALSE(AddressRange::parse(bad)) << bad;
  }
  ASSERT_TRUE(parse_address_ranges("127.0.0.0/8,::1/128"));
  EXPECT_EQ(parse_address_ranges("127.0.0.0/8, ::1/128")->size(), 2u);
  EXPECT_EQ(parse_address_ranges("")->size(), 0u);
  EXPECT_FALSE(parse_address_ranges("127.0.0.0/8,,::1"));
}

namespace {

ApiRequest request_from(std::string address, std::string path, Method method = Method::kGet) {
  ApiRequest r;
  r.method = method;
  r.method_text = std::string(to_string(method));
  r.target = path;
  r.path = std::move(path);
  r.request_id = "rid-limits";
  r.remote_address = std::move(address);
  return r;
}

Router limited_router(int& calls) {
  Router router;
  const Handler count = [&calls](ApiRequest&) -> Task<ApiResponse> {
    ++calls;
    co_return no_content();
  };
  router.add(Method::kGet, "/concerts", count);
  router.add(Method::kPost, "/auth/login", count);
  router.add(Method::kGet, "/actuator/health", count);
  router.add(Method::kPost, "/payment/mock-success", count);
  router.add(Method::kGet, "/me", count, Access::kSignedIn);
  return router;
}

std::shared_ptr<AddressLimits> tight_limits(std::string exempt = "") {
  auto limits = std::make_shared<AddressLimits>();
  limits->exempt = *parse_address_ranges(exempt);
  limits->anonymous = std::make_unique<AddressLimiter>(BucketLimit{0.1, 2}, 100);
  limits->sign_in = std::make_unique<AddressLimiter>(BucketLimit{0.1, 1}, 100);
  return limits;
}

}  // namespace

TEST(DispatcherAddressLimits, AnonymousAndSignInRoutesAre429WithRetryAfterAndRunNothing) {
  int calls = 0;
  const auto limits = tight_limits();
  Dispatcher dispatcher(
      limited_router(calls), [](const std::optional<std::string>&) { return domain::Principal{domain::UserId{1}}; }, {},
      limits);
  for (int i = 0; i < 2; ++i) {
    auto ok = request_from("203.0.113.9", "/concerts");
    EXPECT_EQ(run_task(dispatcher.dispatch(ok)).response.status, 204);
  }
  auto over = request_from("203.0.113.9", "/concerts");
  const auto refused = run_task(dispatcher.dispatch(over));
  EXPECT_EQ(refused.response.status, 429);
  EXPECT_NE(refused.response.body.find("TOO_MANY_REQUESTS"), std::string::npos);
  ASSERT_FALSE(refused.response.headers.empty());
  EXPECT_EQ(refused.response.headers[0].name, "Retry-After");
  EXPECT_EQ(refused.response.headers[0].value, "10");
  EXPECT_EQ(refused.route, "/concerts");
  EXPECT_EQ(calls, 2) << "the refused request reached no handler";
  EXPECT_EQ(limits->refused_anonymous.load(), 1u);

  // Unknown paths count against the anonymous bucket too (no free probing).
  auto unknown = request_from("203.0.113.9", "/nope");
  EXPECT_EQ(run_task(dispatcher.dispatch(unknown)).response.status, 429);

  // /auth/* has its own, separate bucket.
  auto login = request_from("203.0.113.9", "/auth/login", Method::kPost);
  EXPECT_EQ(run_task(dispatcher.dispatch(login)).response.status, 204);
  auto again = request_from("203.0.113.9", "/auth/login", Method::kPost);
  EXPECT_EQ(run_task(dispatcher.dispatch(again)).response.status, 429);
  EXPECT_EQ(limits->refused_sign_in.load(), 1u);

  // Not limited by address: signed-in routes, probes, the gateway's signed callback.
  calls = 0;
  for (int i = 0; i < 5; ++i) {
    for (const auto& [path, method] : {std::pair<const char*, Method>{"/me", Method::kGet},
                                       {"/actuator/health", Method::kGet},
                                       {"/payment/mock-success", Method::kPost}}) {
      auto r = request_from("203.0.113.9", path, method);
      EXPECT_EQ(run_task(dispatcher.dispatch(r)).response.status, 204) << path;
    }
  }
  EXPECT_EQ(calls, 15);
  // Another address is not affected.
  auto other = request_from("203.0.113.10", "/concerts");
  EXPECT_EQ(run_task(dispatcher.dispatch(other)).response.status, 204);
}

TEST(DispatcherAddressLimits, ExemptNetworksAreNeverLimited) {
  int calls = 0;
  Dispatcher dispatcher(limited_router(calls), {}, {}, tight_limits("127.0.0.0/8,::1/128"));
  for (int i = 0; i < 50; ++i) {
    auto v4 = request_from("127.0.0.1", "/concerts");
    EXPECT_EQ(run_task(dispatcher.dispatch(v4)).response.status, 204);
    auto v6 = request_from("::/64", "/auth/login", Method::kPost);
    EXPECT_EQ(run_task(dispatcher.dispatch(v6)).response.status, 204);
  }
  auto outside = request_from("10.0.0.1", "/auth/login", Method::kPost);
  EXPECT_EQ(run_task(dispatcher.dispatch(outside)).response.status, 204);
  auto outside_again = request_from("10.0.0.1", "/auth/login", Method::kPost);
  EXPECT_EQ(run_task(dispatcher.dispatch(outside_again)).response.status, 429);
}

// ---- the admission round ----

namespace {

using namespace ticketing::domain;

class StepClock final : public Clock {
 public:
  Timestamp now() const override { return now_; }
  Timestamp now_ = Timestamp{std::chrono::hours(24 * 365 * 50)};
};

// admit() admits each schedule's arrivals and reports its waiting count, or throws for broken ones.
class RoundStore final : public QueueStore {
 public:
  Task<QueuePlace> enter(ScheduleId, UserId, Timestamp, const EnterGate&) override { co_return QueuePlace{}; }
  Task<std::optional<QueuePlace>> status(ScheduleId, UserId, Timestamp) override { co_return std::nullopt; }
  Task<bool> leave(ScheduleId, UserId, Timestamp) override { co_return false; }
  Task<bool> touch_active(ScheduleId, UserId, Timestamp, Timestamp, bool) override { co_return false; }
  Task<bool> complete_slot(ScheduleId, UserId, Timestamp, Timestamp) override { co_return false; }
  Task<AdmissionRound> admit(ScheduleId schedule, Timestamp) override {
    if (broken.contains(schedule.value)) throw DependencyUnavailable("redis", "WRONGTYPE Operation against a key");
    if (broken_otherwise.contains(schedule.value)) throw std::runtime_error("unexpected reply");
    AdmissionRound round{};
    round.admitted = arrivals[schedule.value];
    arrivals[schedule.value] = 0;
    admitted[schedule.value] += round.admitted;
    round.waiting = waiting[schedule.value];
    co_return round;
  }
  Task<std::vector<ScheduleId>> queued_schedules() override {
    std::vector<ScheduleId> out;
    for (const auto id : listed) out.push_back(ScheduleId{id});
    co_return out;
  }
  Task<bool> retire(ScheduleId schedule) override {
    if (busy_on_retire.contains(schedule.value)) co_return false;  // someone entered meanwhile
    listed.erase(schedule.value);
    co_return true;
  }
  Task<void> apply_controls(ScheduleId, const QueueControls&) override { co_return; }
  Task<QueueSnapshot> snapshot(ScheduleId) override { co_return QueueSnapshot{}; }

  std::set<std::int64_t> listed;
  std::set<std::int64_t> broken;
  std::set<std::int64_t> broken_otherwise;
  std::set<std::int64_t> busy_on_retire;
  std::map<std::int64_t, std::int64_t> arrivals;  // admitted by the next round
  std::map<std::int64_t, std::int64_t> waiting;   // still waiting after each round
  std::map<std::int64_t, std::int64_t> admitted;
};

}  // namespace

TEST(AdmissionJobIsolation, OneFailingScheduleDoesNotStopTheOthers) {
  StepClock clock;
  RoundStore store;
  application::QueueCounters counters;
  application::AdmissionJob job{store, clock, counters};
  store.listed = {1, 2, 3, 4};
  store.broken = {1};
  store.broken_otherwise = {3};
  store.arrivals = {{1, 5}, {2, 7}, {3, 2}, {4, 9}};
  EXPECT_NO_THROW(run_task(job.run_once()));
  EXPECT_EQ(store.admitted[2], 7);
  EXPECT_EQ(store.admitted[4], 9);
  EXPECT_EQ(store.admitted[1], 0);
  EXPECT_EQ(counters.admission_failures.load(), 2u);
  EXPECT_EQ(counters.admitted.load(), 16u);
  EXPECT_EQ(job.queue_sizes().count(1), 0u) << "no gauge from a failed round";
}

TEST(AdmissionJobIsolation, IdleSchedulesRetireAfterTheIdleTimeOnly) {
  StepClock clock;
  RoundStore store;
  application::QueueCounters counters;
  application::AdmissionJob job{store, clock, counters, std::chrono::minutes(10)};
  store.listed = {1, 2, 3, 4};
  store.waiting = {{1, 0}, {2, 3}, {3, 0}, {4, 0}};
  store.broken = {4};  // failing: never retired on a failed round's word
  store.busy_on_retire = {3};
  run_task(job.run_once());
  EXPECT_EQ(job.queue_sizes().size(), 3u);
  clock.now_ += std::chrono::minutes(9);
  store.waiting[2] = 1;  // schedule 2 stays busy
  run_task(job.run_once());
  EXPECT_EQ(store.listed, (std::set<std::int64_t>{1, 2, 3, 4}));
  clock.now_ += std::chrono::minutes(1);
  store.waiting[2] = 1;
  run_task(job.run_once());
  EXPECT_EQ(store.listed, (std::set<std::int64_t>{2, 3, 4})) << "only the schedule idle for 10 min left";
  EXPECT_EQ(counters.retired_schedules.load(), 1u);
  EXPECT_EQ(job.queue_sizes().count(1), 0u) << "its gauge is gone with it";

  // A schedule that got busy again restarts its idle time.
  store.waiting[2] = 0;
  run_task(job.run_once());
  clock.now_ += std::chrono::minutes(5);
  run_task(job.run_once());
  EXPECT_TRUE(store.listed.contains(2));
  clock.now_ += std::chrono::minutes(5);
  run_task(job.run_once());
  EXPECT_FALSE(store.listed.contains(2));
  EXPECT_TRUE(store.listed.contains(3)) << "the store refused: someone entered meanwhile";
  EXPECT_TRUE(store.listed.contains(4));
}
