// The waiting room end to end: HTTP → QueueService → Redis Lua scripts (issue 3 acceptance 1–3, 5).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <optional>
#include <set>
#include <thread>

#include "domain/ports/clock.hpp"
#include "infra/redis/redis_queue_store.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;

namespace {

std::string enter_body(std::int64_t schedule) {
  return fmt::format(R"({{"scheduleId":{}}})", schedule);
}

HttpResponse enter_as(std::uint16_t port, std::int64_t user, std::int64_t schedule) {
  return http(port, "POST", "/queue/enter", enter_body(schedule), as_user(user));
}

json::object enter(std::uint16_t port, std::int64_t user, std::int64_t schedule) {
  const auto response = enter_as(port, user, schedule);
  if (response.status != 200) throw std::runtime_error("enter failed: " + response.raw);
  return json::parse(response.body).as_object();
}

HttpResponse status(std::uint16_t port, std::int64_t user, std::int64_t schedule) {
  return http(port, "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(user));
}

// A waiter's poll as a client that follows pollAfterMs sees it: nullopt when refused as too early
// (429, nothing written), the answer otherwise.
std::optional<json::object> paced_status(std::uint16_t port, std::int64_t user, std::int64_t schedule) {
  const auto response = status(port, user, schedule);
  if (response.status == 429) return std::nullopt;
  if (response.status != 200) throw std::runtime_error("status failed: " + response.raw);
  return json::parse(response.body).as_object();
}

HttpResponse leave(std::uint16_t port, std::int64_t user, const std::string& schedule) {
  return http(port, "DELETE", "/queue?scheduleId=" + schedule, "", as_user(user));
}

std::string key(std::int64_t schedule, const char* suffix) {
  return infra::redis::RedisQueueStore::key(domain::ScheduleId{schedule}, suffix);
}

}  // namespace

// Acceptance 1: 10,000 distinct users from 32 threads get exactly positions 1..10,000.
TEST(QueueApi, TenThousandConcurrentEntersGetExactlyPositionsOneToN) {
  constexpr int kUsers = 10'000;
  constexpr int kThreads = 32;
  ensure_users(kUsers + 1);
  const auto schedule = create_schedule();
  TestServer server({"role=api", "queue.max-active=1"});  // no admission job: nobody leaves the waiting list mid-test
  // The one slot goes to a first arrival (nobody waits yet: admitted at once); everyone after waits.
  ASSERT_EQ(enter(server.port(), kUsers + 1, schedule).at("status").as_string(), "ADMITTED");
  std::vector<std::int64_t> position_of(kUsers + 1, -1);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int user = 1 + t; user <= kUsers; user += kThreads) {
        try {
          const auto body = enter(server.port(), user, schedule);
          if (body.at("status").as_string() != "WAITING" || body.contains("token")) ++failures;
          position_of[user] = body.at("position").as_int64();
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  std::set<std::int64_t> positions(position_of.begin() + 1, position_of.end());
  EXPECT_EQ(positions.size(), static_cast<std::size_t>(kUsers)) << "duplicate positions";
  EXPECT_EQ(*positions.begin(), 1);
  EXPECT_EQ(*positions.rbegin(), kUsers) << "gaps in positions";

  // Entering again keeps the place, for any of them (enter is idempotent: one before the next poll
  // is due answers the place and writes nothing).
  for (const int user : {1, 777, 5000, kUsers}) {
    const auto r = enter_as(server.port(), user, schedule);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(json::parse(r.body).at("position").as_int64(), position_of[user]);
    std::optional<json::object> polled;
    ASSERT_TRUE(wait_for([&] { return (polled = paced_status(server.port(), user, schedule)).has_value(); },
                         std::chrono::seconds(20), std::chrono::milliseconds(100)));
    EXPECT_EQ(polled->at("position").as_int64(), position_of[user]);
  }
}

// Acceptance 2: arrival order = admission order, never more than max-active, refills in order.
TEST(QueueApi, AdmitsInArrivalOrderWithinMaxActiveAndRefillsInOrder) {
  constexpr int kUsers = 250;
  ensure_users(kUsers);
  const auto schedule = create_schedule();
  TestServer server({"queue.max-active=100", "queue.admit-per-second=400", "queue.admission-interval=50ms",
                     "queue.heartbeat-timeout=1h", "queue.active-ttl=1h"});
  RedisInspector redis;
  for (int user = 1; user <= kUsers; ++user) enter(server.port(), user, schedule);

  auto active_users = [&] {
    std::set<int> users;
    for (const auto& member : redis.strings({"ZRANGE", key(schedule, "active"), "0", "-1"}))
      users.insert(std::stoi(member));
    return users;
  };
  int max_seen = 0;
  ASSERT_TRUE(wait_for(
      [&] {
        const auto active = active_users();
        max_seen = std::max(max_seen, static_cast<int>(active.size()));
        return active.size() == 100;
      },
      std::chrono::seconds(10)));
  std::set<int> first_hundred;
  for (int user = 1; user <= 100; ++user) first_hundred.insert(user);
  EXPECT_EQ(active_users(), first_hundred);

  // Admitted users see ADMITTED with a token; waiters see their place and no token.
  const auto admitted = json::parse(status(server.port(), 1, schedule).body).as_object();
  EXPECT_EQ(admitted.at("status").as_string(), "ADMITTED");
  EXPECT_EQ(admitted.at("position").as_int64(), 0);
  EXPECT_EQ(admitted.at("estimatedWaitSeconds").as_int64(), 0);
  EXPECT_EQ(admitted.at("pollAfterMs").as_int64(), 5000);
  EXPECT_TRUE(admitted.at("token").is_string());
  // (A waiter's first status is paced like any other: asked until the pacing lets it through.)
  std::optional<json::object> polled;
  ASSERT_TRUE(wait_for([&] { return (polled = paced_status(server.port(), 101, schedule)).has_value(); },
                       std::chrono::seconds(5), std::chrono::milliseconds(100)));
  const auto& waiting = *polled;
  EXPECT_EQ(waiting.at("status").as_string(), "WAITING");
  EXPECT_EQ(waiting.at("position").as_int64(), 1);
  EXPECT_FALSE(waiting.contains("token"));
  EXPECT_GE(waiting.at("pollAfterMs").as_int64(), 1000);
  EXPECT_LE(waiting.at("pollAfterMs").as_int64(), 30000);

  for (int user = 1; user <= 30; ++user) {
    EXPECT_EQ(leave(server.port(), user, std::to_string(schedule)).status, 204);
  }
  std::set<int> expected;
  for (int user = 31; user <= 130; ++user) expected.insert(user);
  ASSERT_TRUE(wait_for(
      [&] {
        const auto active = active_users();
        max_seen = std::max(max_seen, static_cast<int>(active.size()));
        return active == expected;
      },
      std::chrono::seconds(10)));
  EXPECT_LE(max_seen, 100);
  // Sample a while longer: the cap holds and nobody else gets in.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(active_users(), expected);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(json::parse(status(server.port(), 131, schedule).body).at("position").as_int64(), 1);
  EXPECT_EQ(status(server.port(), 5, schedule).status, 404);  // left
}

// Acceptance 3a: a waiter who stops polling is dropped; those behind move up.
TEST(QueueApi, WaiterWhoStopsPollingIsDroppedAndOthersMoveUp) {
  ensure_users(3);
  const auto schedule = create_schedule();
  TestServer server(
      {"queue.max-active=1", "queue.admission-interval=50ms", "queue.heartbeat-timeout=1s", "queue.active-ttl=1h"});
  enter(server.port(), 1, schedule);
  ASSERT_TRUE(wait_for([&] { return json::parse(status(server.port(), 1, schedule).body).at("status") == "ADMITTED"; },
                       std::chrono::seconds(5)));
  EXPECT_EQ(enter(server.port(), 2, schedule).at("position").as_int64(), 1);
  EXPECT_EQ(enter(server.port(), 3, schedule).at("position").as_int64(), 2);
  // User 3 keeps polling; user 2 goes quiet.
  std::int64_t last_position = 2;
  ASSERT_TRUE(wait_for(
      [&] {
        const auto polled = paced_status(server.port(), 3, schedule);
        if (!polled) return false;
        const auto position = polled->at("position").as_int64();
        EXPECT_LE(position, last_position) << "position went up";
        last_position = position;
        return position == 1;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(200)));
  EXPECT_EQ(status(server.port(), 2, schedule).status, 404);
}

// Acceptance 3b: an admitted user who idles loses the slot.
TEST(QueueApi, AdmittedUserWhoIdlesLosesTheSlot) {
  ensure_users(2);
  const auto schedule = create_schedule();
  TestServer server({"queue.max-active=1", "queue.admission-interval=50ms", "queue.active-ttl=1s"});
  enter(server.port(), 1, schedule);
  enter(server.port(), 2, schedule);
  ASSERT_TRUE(wait_for([&] { return json::parse(status(server.port(), 1, schedule).body).at("status") == "ADMITTED"; },
                       std::chrono::seconds(5)));
  // User 1 does nothing with the slot: it lapses and user 2 (still polling) is admitted.
  ASSERT_TRUE(wait_for([&] { return json::parse(status(server.port(), 2, schedule).body).at("status") == "ADMITTED"; },
                       std::chrono::seconds(10), std::chrono::milliseconds(200)));
  EXPECT_EQ(status(server.port(), 1, schedule).status, 404);
}

// Found by the chaos flash sale (load/run chaos, docs/reliability.md): Redis restarted empty loses
// the registry of queued schedules. An instance that registered the schedule less than 10 s before
// does not register it again on the next enter, and when every user has entered by then and only
// polls, the admission job never saw the queue again: nobody was admitted until a client gave up
// and a new user entered. Waiters' polls now register the schedule too.
// An arrival is admitted on enter only when the next admission round would admit it: nobody
// waits ahead, a slot is free and the admission rate has room (docs/queue.md "Admission"). No
// admission job runs here (role=api), so every admission below is enter's own.
TEST(QueueApi, AnArrivalIsAdmittedAtOnceOnlyWhenNobodyWaitsASlotIsFreeAndTheRateAllows) {
  ensure_users(8);
  const auto schedule = create_schedule();
  TestServer server({"role=api", "queue.max-active=3", "queue.admit-per-second=1", "queue.active-ttl=1h"});
  RedisInspector redis;
  const auto active = [&](int user) {
    return redis.string({"ZSCORE", key(schedule, "active"), std::to_string(user)}).has_value();
  };
  // The admission bucket's tokens now (stored tokens plus the refill since it was last taken from;
  // capacity: one second of admissions, 1).
  const auto bucket = [&] {
    const auto stats = redis.strings({"HMGET", key(schedule, "stats"), "tokens", "bts"});
    if (stats.size() < 2 || stats[0].empty() || stats[1].empty()) return 1.0;  // never taken from: full
    const auto now_ms = static_cast<double>(
        std::chrono::duration_cast<std::chrono::milliseconds>(domain::SystemClock().now().time_since_epoch()).count());
    return std::min(1.0, std::stod(stats[0]) + (now_ms - std::stod(stats[1])) / 1000);
  };
  const auto refilled = [&] {
    ASSERT_TRUE(wait_for([&] { return bucket() >= 1; }, std::chrono::seconds(5), std::chrono::milliseconds(50)));
  };
  // Nobody waits, slots are free, the bucket has its token: 1 is in at once.
  const auto first = enter(server.port(), 1, schedule);
  EXPECT_EQ(first.at("status").as_string(), "ADMITTED");
  EXPECT_EQ(first.at("position").as_int64(), 0);
  EXPECT_EQ(first.at("estimatedWaitSeconds").as_int64(), 0);
  EXPECT_TRUE(first.at("token").is_string());
  EXPECT_TRUE(active(1));
  // The rate is spent (slots are still free; the bucket refills in a second): 2 waits.
  const auto second = enter(server.port(), 2, schedule);
  EXPECT_EQ(second.at("status").as_string(), "WAITING");
  EXPECT_EQ(second.at("position").as_int64(), 1);
  EXPECT_FALSE(second.contains("token"));
  EXPECT_FALSE(active(2));
  // Once the bucket has refilled, 3 still waits behind 2: nobody overtakes a waiter.
  refilled();
  const auto third = enter(server.port(), 3, schedule);
  EXPECT_EQ(third.at("status").as_string(), "WAITING");
  EXPECT_EQ(third.at("position").as_int64(), 2);
  EXPECT_FALSE(active(3));
  // A paused sale admits nobody, not even with nobody waiting and a token in the bucket.
  EXPECT_EQ(leave(server.port(), 2, std::to_string(schedule)).status, 204);
  EXPECT_EQ(leave(server.port(), 3, std::to_string(schedule)).status, 204);
  redis.integer({"HSET", key(schedule, "settings"), "state", "PAUSED"});
  EXPECT_EQ(enter(server.port(), 5, schedule).at("status").as_string(), "WAITING");
  EXPECT_FALSE(active(5));
  EXPECT_EQ(leave(server.port(), 5, std::to_string(schedule)).status, 204);
  redis.integer({"HSET", key(schedule, "settings"), "state", "OPEN"});
  // Open again: 6 and 7 take the last two slots (a token each); with every slot held 8 waits.
  EXPECT_EQ(enter(server.port(), 6, schedule).at("status").as_string(), "ADMITTED");
  refilled();
  EXPECT_EQ(enter(server.port(), 7, schedule).at("status").as_string(), "ADMITTED");
  EXPECT_EQ(redis.integer({"ZCARD", key(schedule, "active")}), 3);
  refilled();
  EXPECT_EQ(enter(server.port(), 8, schedule).at("status").as_string(), "WAITING");
  EXPECT_FALSE(active(8));
  // Entering again keeps an admitted user's slot (no second one).
  EXPECT_EQ(enter(server.port(), 1, schedule).at("status").as_string(), "ADMITTED");
  EXPECT_EQ(redis.integer({"ZCARD", key(schedule, "active")}), 3);
}

// Every waiter's estimate needs the held slots' expiries; an instance reads them once and shares
// that copy for a moment (200 ms) instead of reading up to 256 of them on every enter and poll.
TEST(QueueApi, WaitersShareOneReadOfTheHeldSlotsForTheirEstimate) {
  constexpr int kWaiters = 40;
  ensure_users(2 + kWaiters);
  const auto schedule = create_schedule();
  TestServer server({"role=api", "queue.max-active=2", "queue.admit-per-second=1000", "queue.active-ttl=10m"});
  RedisInspector redis;
  const auto zrange_calls = [&] {
    const auto info = redis.string({"INFO", "commandstats"}).value_or("");
    const auto at = info.find("cmdstat_zrange:calls=");
    return at == std::string::npos ? 0L : std::stol(info.substr(at + 21));
  };
  for (const int user : {1, 2}) ASSERT_EQ(enter(server.port(), user, schedule).at("status").as_string(), "ADMITTED");
  const auto before = zrange_calls();
  const auto started = std::chrono::steady_clock::now();
  for (int user = 3; user < 3 + kWaiters; ++user) {
    const auto body = enter(server.port(), user, schedule);
    ASSERT_EQ(body.at("status").as_string(), "WAITING");
    // Both slots are held for 10 minutes and nothing completes: they free up in pairs, one 10-minute
    // wave per two waiters (~600 s for positions 1-2, ~1,200 s for 3-4, ...). Without the expiries
    // the estimate would assume one slot every 300 s (900 s for position 3).
    const auto position = body.at("position").as_int64();
    EXPECT_GE(body.at("estimatedWaitSeconds").as_int64(), 600 * ((position + 1) / 2) - 15)
        << "user " << user << " at " << position;
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  const auto reads = zrange_calls() - before;
  EXPECT_GE(reads, 1);
  EXPECT_LE(reads, 1 + std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() / 200)
      << kWaiters << " enters in " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
}

TEST(QueueApi, WaitersAreAdmittedAfterRedisLosesTheQueueRegistry) {
  ensure_users(3);
  const auto schedule = create_schedule();
  TestServer server(
      {"queue.max-active=1", "queue.admission-interval=50ms", "queue.heartbeat-timeout=1h", "queue.active-ttl=1h"});
  RedisInspector redis;
  enter(server.port(), 1, schedule);  // registers the schedule
  ASSERT_TRUE(wait_for([&] { return json::parse(status(server.port(), 1, schedule).body).at("status") == "ADMITTED"; },
                       std::chrono::seconds(5)));
  // Redis loses everything of the schedule and the registry (as a restart without persistence does).
  for (const char* suffix : {"waiting", "active", "seq", "heartbeat", "stats", "revoked"}) {
    redis.integer({"DEL", key(schedule, suffix)});
  }
  redis.integer({"SREM", "queue:schedules", std::to_string(schedule)});
  // User 2 enters right away (within the instance's 10-s registration refresh) behind user 3, who
  // took the one slot on arrival, and then only polls: user 3 leaves, the slot is free, and the
  // admission job must find the schedule again.
  EXPECT_EQ(enter(server.port(), 3, schedule).at("status").as_string(), "ADMITTED");
  EXPECT_EQ(enter(server.port(), 2, schedule).at("position").as_int64(), 1);
  EXPECT_EQ(leave(server.port(), 3, std::to_string(schedule)).status, 204);
  EXPECT_TRUE(wait_for([&] { return json::parse(status(server.port(), 2, schedule).body).at("status") == "ADMITTED"; },
                       std::chrono::seconds(20), std::chrono::milliseconds(200)))
      << "a waiter who only polls was never admitted after the registry was lost";
}

TEST(QueueApi, UnknownUserOrScheduleIs404AndUnopenedScheduleIs409) {
  const auto future = create_schedule(3600);
  TestServer server;
  auto code_of = [](const HttpResponse& r) { return std::string(json::parse(r.body).at("code").as_string()); };
  // A validly signed token of an account that does not exist (deleted since) names nobody.
  const auto unknown_user = enter_as(server.port(), 9'000'000'000, 1);
  EXPECT_EQ(unknown_user.status, 404);
  const auto unknown_schedule = enter_as(server.port(), 1, 9'000'000'000);
  EXPECT_EQ(unknown_schedule.status, 404);
  const auto not_open = enter_as(server.port(), 1, future);
  EXPECT_EQ(not_open.status, 409);
  EXPECT_EQ(code_of(not_open), "BOOKING_NOT_OPEN");
  const auto not_queued = status(server.port(), 1, future);
  EXPECT_EQ(not_queued.status, 404);
  // The caller checks before the queue's own (no access token, a userId parameter) are queue answers too.
  const auto no_token = http(server.port(), "GET", fmt::format("/queue/status?scheduleId={}", future));
  EXPECT_EQ(no_token.status, 401);
  const auto user_param =
      http(server.port(), "POST", fmt::format("/queue/enter?userId=1"), fmt::format(R"({{"scheduleId":{}}})", future),
           as_user(1, {{"Content-Type", "application/json"}}));
  EXPECT_EQ(user_param.status, 400);
  const auto leave_without_token = http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", future));
  EXPECT_EQ(leave_without_token.status, 401);
  // The server's refusals of a queue path, before any handler: a wrong method, a body over the limit.
  const auto wrong_method = http(server.port(), "PUT", "/queue/enter", fmt::format(R"({{"scheduleId":{}}})", future),
                                 as_user(1, {{"Content-Type", "application/json"}}));
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.header("allow"), "POST");
  const auto wrong_method_status = http(server.port(), "POST", "/queue/status", "{}", as_user(1));
  EXPECT_EQ(wrong_method_status.status, 405);
  const auto too_large = http(server.port(), "POST", "/queue/enter", std::string(70 * 1024, ' '),
                              as_user(1, {{"Content-Type", "application/json"}}));
  EXPECT_EQ(too_large.status, 413);
  // Refusals are queue answers too: each carries pollAfterMs (DESIGN.md §5), a second here.
  for (const auto* refusal : {&unknown_user, &unknown_schedule, &not_open, &not_queued, &no_token, &user_param,
                              &leave_without_token, &wrong_method, &wrong_method_status, &too_large}) {
    EXPECT_EQ(json::parse(refusal->body).at("pollAfterMs").as_int64(), 1000) << refusal->raw;
  }
  // Leaving: 204 for a real user and schedule, queued or not; 404 when an id names nothing.
  EXPECT_EQ(leave(server.port(), 1, std::to_string(future)).status, 204);
  EXPECT_EQ(leave(server.port(), 9'000'000'000, std::to_string(future)).status, 404);
  EXPECT_EQ(leave(server.port(), 1, "9000000000").status, 404);
}

// Acceptance 5 (bodies): malformed input is a 4xx JSON error and writes nothing to Redis.
TEST(QueueApi, MalformedRequestsAre4xxJsonAndWriteNothing) {
  ensure_users(1);
  const auto schedule = create_schedule();
  TestServer server;
  RedisInspector redis;
  const std::string s = std::to_string(schedule);
  const std::vector<std::pair<std::string, int>> cases{
      {R"({})", 400},
      // Identity comes from the access token only: userId is an unknown field, whatever its value.
      {R"({"userId":1,"scheduleId":)" + s + "}", 400},
      {R"({"userId":2,"scheduleId":)" + s + "}", 400},
      {R"({"scheduleId":")" + s + "\"}", 400},
      {R"({"scheduleId":-1})", 400},
      {R"({"scheduleId":0})", 400},
      {R"({"scheduleId":1.5})", 400},
      {R"({"scheduleId":)" + s + R"(,"vip":true})", 400},
      {R"({"scheduleId":)" + s + R"(,"scheduleId":)" + s + "}", 400},
      {R"({"scheduleId":null})", 400},
      {R"({"scheduleId":)" + s + "} trailing", 400},
      {"[1,2]", 400},
      {"{", 400},
      {"", 400},
  };
  for (const auto& [body, expected] : cases) {
    const auto response =
        http(server.port(), "POST", "/queue/enter", body, as_user(1, {{"Content-Type", "application/json"}}));
    EXPECT_EQ(response.status, expected) << body << "\n" << response.raw;
    EXPECT_NO_THROW(json::parse(response.body)) << body;
  }
  const std::string valid = enter_body(schedule);
  EXPECT_EQ(http(server.port(), "POST", "/queue/enter", valid, as_user(1, {{"Content-Type", "text/plain"}})).status,
            415);
  EXPECT_EQ(http(server.port(), "POST", "/queue/enter", std::string(1 << 20, ' ') + valid, as_user(1)).status, 413);
  // A compressed body is never read as plain text: 415 for any coding but identity (read as usual).
  for (const char* coding : {"gzip", "br", "identity, gzip"}) {
    const auto encoded = http(server.port(), "POST", "/queue/enter", valid,
                              as_user(1, {{"Content-Type", "application/json"}, {"Content-Encoding", coding}}));
    EXPECT_EQ(encoded.status, 415) << coding << "\n" << encoded.raw;
  }
  EXPECT_EQ(http(server.port(), "POST", "/queue/enter", "{",
                 as_user(1, {{"Content-Type", "application/json"}, {"Content-Encoding", "Identity"}}))
                .status,
            400);
  // No access token: 401 before the body is looked at.
  EXPECT_EQ(http(server.port(), "POST", "/queue/enter", "{", {{"Content-Type", "application/json"}}).status, 401);
  // A userId query parameter is refused, whatever its value; the scheduleId must be an id.
  EXPECT_EQ(http(server.port(), "GET", "/queue/status?userId=1&scheduleId=" + s, "", as_user(1)).status, 400);
  EXPECT_EQ(http(server.port(), "GET", "/queue/status?scheduleId=x" + s, "", as_user(1)).status, 400);
  EXPECT_EQ(http(server.port(), "GET", "/queue/status", "", as_user(1)).status, 400);
  EXPECT_EQ(http(server.port(), "DELETE", "/queue?userId=-4&scheduleId=" + s, "", as_user(1)).status, 400);
  EXPECT_EQ(http(server.port(), "DELETE", "/queue?scheduleId=" + s).status, 401);
  EXPECT_EQ(redis.integer({"EXISTS", key(schedule, "waiting"), key(schedule, "heartbeat"), key(schedule, "seq")}), 0);
}
