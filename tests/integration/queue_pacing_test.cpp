// Server-paced polling and adaptive proof of work end to end (DESIGN.md §15, issue 17 items 2 and 4).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <optional>

#include "domain/ports/clock.hpp"
#include "domain/time.hpp"
#include "infra/redis/redis_queue_store.hpp"
#include "infra/security/hmac_proof_of_work.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;

namespace {

std::string key(std::int64_t schedule, const std::string& suffix) {
  return infra::redis::RedisQueueStore::key(domain::ScheduleId{schedule}, suffix);
}

HttpResponse enter_as(std::uint16_t port, std::int64_t user, std::int64_t schedule, const std::string& extra = "") {
  return http(port, "POST", "/queue/enter", fmt::format(R"({{"scheduleId":{}{}}})", schedule, extra), as_user(user));
}

HttpResponse status_of(std::uint16_t port, std::int64_t user, std::int64_t schedule) {
  return http(port, "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(user));
}

json::object body_of(const HttpResponse& response) {
  return json::parse(response.body).as_object();
}

std::string code_of(const HttpResponse& response) {
  const auto body = body_of(response);
  return std::string(body.at("code").as_string());
}

struct Challenge {
  std::string text;
  int difficulty = 0;
  domain::Timestamp expires_at{};
};

Challenge fetch_challenge(std::uint16_t port, std::int64_t user, std::int64_t schedule) {
  const auto r = http(port, "GET", fmt::format("/queue/challenge?scheduleId={}", schedule), "", as_user(user));
  if (r.status != 200) throw std::runtime_error("challenge failed: " + r.raw);
  const auto body = body_of(r);
  if (body.at("algorithm").as_string() != "sha256-leading-zero-bits") throw std::runtime_error("algorithm: " + r.raw);
  return Challenge{std::string(body.at("challenge").as_string()), static_cast<int>(body.at("difficulty").as_int64()),
                   *domain::parse_iso8601(std::string(body.at("expiresAt").as_string()))};
}

std::string solution_fields(const std::string& challenge, const std::string& nonce) {
  return fmt::format(R"(,"powChallenge":"{}","powNonce":"{}")", challenge, nonce);
}

}  // namespace

// Acceptance: a status poll 10x faster than pollAfterMs gets 429 with Retry-After, and nothing is
// written (no heartbeat refresh, no pacing change, same place). Admitted users are never paced.
TEST(QueuePacing, PollingTenTimesFasterThanAdvisedIs429AndWritesNothing) {
  ensure_users(3);
  const auto schedule = create_schedule();
  // heartbeat-timeout 4 s: the advice is at most 2 s, so following it takes a second or two.
  TestServer server(
      {"queue.max-active=1", "queue.admission-interval=50ms", "queue.heartbeat-timeout=4s", "queue.active-ttl=1h"});
  RedisInspector redis;
  ASSERT_EQ(enter_as(server.port(), 1, schedule).status, 200);
  ASSERT_TRUE(wait_for([&] { return body_of(status_of(server.port(), 1, schedule)).contains("token"); },
                       std::chrono::seconds(5)));
  const auto entered = enter_as(server.port(), 2, schedule);
  ASSERT_EQ(entered.status, 200);
  // A new waiter's first status call is paced too: at once after enter it is 429 (the least advice,
  // 1 s here, has not half passed), and it is accepted once it has.
  const auto at_once = status_of(server.port(), 2, schedule);
  EXPECT_EQ(at_once.status, 429) << at_once.raw;
  EXPECT_GE(body_of(entered).at("pollAfterMs").as_int64(), 1000);
  HttpResponse first;
  ASSERT_TRUE(wait_for(
      [&] {
        first = status_of(server.port(), 2, schedule);
        return first.status == 200;
      },
      std::chrono::seconds(3), std::chrono::milliseconds(100)));
  const auto advice = body_of(first).at("pollAfterMs").as_int64();
  EXPECT_GE(advice, 1000);
  EXPECT_LE(advice, 30000);
  const auto heartbeat = redis.string({"ZSCORE", key(schedule, "heartbeat"), "2"});
  const auto paced = redis.string({"GET", key(schedule, "pace:2")});
  ASSERT_TRUE(heartbeat && paced);

  const auto started = std::chrono::steady_clock::now();
  const auto refused = status_of(server.port(), 2, schedule);
  const auto reenter = enter_as(server.port(), 2, schedule);  // idempotent: the place, nothing written
  ASSERT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(advice / 10))
      << "too slow to poll 10x faster than advised; the check below would prove nothing";
  EXPECT_EQ(refused.status, 429) << refused.raw;
  EXPECT_EQ(code_of(refused), "TOO_MANY_REQUESTS");
  const auto retry_after = refused.header("retry-after");
  ASSERT_FALSE(retry_after.empty());
  EXPECT_TRUE(std::all_of(retry_after.begin(), retry_after.end(), [](char c) { return c >= '0' && c <= '9'; }));
  EXPECT_GE(std::stoi(retry_after), 1);
  // Every queue answer carries pollAfterMs (DESIGN.md §5), the refusal too: when to come back.
  EXPECT_EQ(body_of(refused).at("pollAfterMs").as_int64(), std::stoi(retry_after) * 1000);
  // Entering again is idempotent (DESIGN.md §5): the same place, advice that the next status call
  // is accepted after, and nothing written — no way around the pacing.
  ASSERT_EQ(reenter.status, 200) << reenter.raw;
  EXPECT_EQ(body_of(reenter).at("status").as_string(), "WAITING");
  EXPECT_EQ(body_of(reenter).at("position").as_int64(), 1);
  EXPECT_FALSE(body_of(reenter).contains("token"));
  EXPECT_GE(
      std::chrono::system_clock::now() + std::chrono::milliseconds(body_of(reenter).at("pollAfterMs").as_int64() + 50),
      std::chrono::system_clock::time_point(std::chrono::milliseconds(std::stoll(*paced))))
      << "following the early enter's advice would be refused";
  EXPECT_EQ(redis.string({"ZSCORE", key(schedule, "heartbeat"), "2"}), heartbeat) << "the refused poll wrote";
  EXPECT_EQ(redis.string({"GET", key(schedule, "pace:2")}), paced) << "the refused poll moved the pacing";

  // The admitted user fetches the token as often as it likes.
  for (int i = 0; i < 3; ++i) {
    const auto admitted = status_of(server.port(), 1, schedule);
    ASSERT_EQ(admitted.status, 200) << admitted.raw;
    EXPECT_TRUE(body_of(admitted).contains("token"));
  }
  // Following the advice is accepted again, with the same place.
  std::optional<json::object> polled;
  ASSERT_TRUE(wait_for(
      [&] {
        const auto r = status_of(server.port(), 2, schedule);
        if (r.status == 200) polled = body_of(r);
        return polled.has_value();
      },
      std::chrono::milliseconds(advice + 2000), std::chrono::milliseconds(100)));
  EXPECT_EQ(polled->at("position").as_int64(), 1);
  // A user who is not queued is still 404, and no token is 401.
  EXPECT_EQ(status_of(server.port(), 3, schedule).status, 404);
  EXPECT_EQ(http(server.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule)).status, 401);
}

// Acceptance: a challenge cannot be reused (409) or used after expiry (400); it is bound to its
// user; the endpoint needs a signed-in fan.
TEST(QueuePow, ChallengesAreSignedSingleUseExpiringAndPersonal) {
  ensure_users(3);
  const auto schedule = create_schedule();
  TestServer server({"role=api", "queue.pow-difficulty=8", "queue.pow-challenge-ttl=1500ms"});
  RedisInspector redis;
  EXPECT_EQ(http(server.port(), "GET", fmt::format("/queue/challenge?scheduleId={}", schedule)).status, 401);
  EXPECT_EQ(http(server.port(), "GET", "/queue/challenge?scheduleId=999999999", "", as_user(1)).status, 404);
  EXPECT_EQ(http(server.port(), "GET", "/queue/challenge?scheduleId=01", "", as_user(1)).status, 400);

  const auto challenge = fetch_challenge(server.port(), 1, schedule);
  EXPECT_EQ(challenge.difficulty, 8);
  const auto nonce = infra::security::solve_pow(challenge.text, challenge.difficulty);
  // Someone else's challenge, a wrong nonce, a tampered challenge, half a solution.
  const auto others = enter_as(server.port(), 2, schedule, solution_fields(challenge.text, nonce));
  EXPECT_EQ(others.status, 400);
  EXPECT_EQ(code_of(others), "POW_INVALID");
  EXPECT_FALSE(redis.string({"ZSCORE", key(schedule, "waiting"), "2"})) << "a refused enter queued the user";
  EXPECT_FALSE(redis.string({"ZSCORE", key(schedule, "active"), "2"})) << "a refused enter admitted the user";
  std::string unsolved = "0";
  for (int n = 0;; ++n) {
    unsolved = std::to_string(n);
    unsigned char digest[32];
    infra::security::sha256({challenge.text, unsolved}, digest);
    if (domain::leading_zero_bits(digest) < challenge.difficulty) break;
  }
  EXPECT_EQ(code_of(enter_as(server.port(), 1, schedule, solution_fields(challenge.text, unsolved))), "POW_INVALID");
  std::string tampered = challenge.text;
  tampered[tampered.size() - 1] = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(code_of(enter_as(server.port(), 1, schedule, solution_fields(tampered, nonce))), "POW_INVALID");
  const auto half = enter_as(server.port(), 1, schedule, fmt::format(R"(,"powNonce":"{}")", nonce));
  EXPECT_EQ(half.status, 400);
  EXPECT_EQ(code_of(half), "INVALID_ARGUMENT");
  EXPECT_EQ(body_of(half).at("errors").as_array().size(), 1u) << half.raw;
  // A malformed nonce beside the challenge is one problem, named once (not also "come together").
  const auto number_nonce =
      enter_as(server.port(), 1, schedule, fmt::format(R"(,"powChallenge":"{}","powNonce":12)", challenge.text));
  EXPECT_EQ(number_nonce.status, 400);
  const auto errors = body_of(number_nonce).at("errors").as_array();
  ASSERT_EQ(errors.size(), 1u) << number_nonce.raw;
  EXPECT_EQ(errors[0].at("field").as_string(), "powNonce");

  // Used once: accepted; again (after leaving): 409.
  const auto entered = enter_as(server.port(), 1, schedule, solution_fields(challenge.text, nonce));
  ASSERT_EQ(entered.status, 200) << entered.raw;
  EXPECT_EQ(body_of(entered).at("status").as_string(), "ADMITTED");  // nobody waits: admitted on arrival
  ASSERT_EQ(http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", schedule), "", as_user(1)).status, 204);
  const auto reused = enter_as(server.port(), 1, schedule, solution_fields(challenge.text, nonce));
  EXPECT_EQ(reused.status, 409) << reused.raw;
  EXPECT_EQ(code_of(reused), "POW_REUSED");
  EXPECT_FALSE(redis.string({"ZSCORE", key(schedule, "waiting"), "1"})) << "a reused solution queued the user";
  EXPECT_FALSE(redis.string({"ZSCORE", key(schedule, "active"), "1"})) << "a reused solution admitted the user";

  // Expired: a genuine, solved, unused challenge once its time has passed.
  const auto later = fetch_challenge(server.port(), 3, schedule);
  const auto later_nonce = infra::security::solve_pow(later.text, later.difficulty);
  ASSERT_TRUE(wait_for([&] { return domain::SystemClock().now() > later.expires_at; }, std::chrono::seconds(5)));
  const auto expired = enter_as(server.port(), 3, schedule, solution_fields(later.text, later_nonce));
  EXPECT_EQ(expired.status, 400) << expired.raw;
  EXPECT_EQ(code_of(expired), "POW_EXPIRED");
}

// A solution is used up by the arrival it places, not by the enter of someone already in the line
// (early or not: enter is idempotent and writes nothing then).
TEST(QueuePow, AnEnterThatPlacesNobodyDoesNotUseUpTheSolution) {
  ensure_users(2);
  const auto schedule = create_schedule();
  TestServer server({"queue.max-active=1", "queue.admission-interval=50ms", "queue.heartbeat-timeout=4s",
                     "queue.active-ttl=1h", "queue.pow-difficulty=8"});
  ASSERT_EQ(body_of(enter_as(server.port(), 1, schedule)).at("status").as_string(), "ADMITTED");
  ASSERT_EQ(body_of(enter_as(server.port(), 2, schedule)).at("status").as_string(), "WAITING");
  const auto challenge = fetch_challenge(server.port(), 2, schedule);
  const auto solution = solution_fields(challenge.text, infra::security::solve_pow(challenge.text, 8));
  // At once after joining: the place (before the next poll is due), the solution untouched.
  const auto too_soon = enter_as(server.port(), 2, schedule, solution);
  ASSERT_EQ(too_soon.status, 200) << too_soon.raw;
  EXPECT_EQ(body_of(too_soon).at("position").as_int64(), 1);
  // Out of the line and back in with it: it places the user, once.
  ASSERT_EQ(http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", schedule), "", as_user(2)).status, 204);
  const auto back = enter_as(server.port(), 2, schedule, solution);
  ASSERT_EQ(back.status, 200) << back.raw;
  EXPECT_EQ(body_of(back).at("status").as_string(), "WAITING");
  // Sent again while in line (a client retrying its enter): the place, not POW_REUSED.
  const auto retried = enter_as(server.port(), 2, schedule, solution);
  EXPECT_EQ(retried.status, 200) << retried.raw;
  ASSERT_EQ(http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", schedule), "", as_user(2)).status, 204);
  const auto again = enter_as(server.port(), 2, schedule, solution);
  EXPECT_EQ(again.status, 409) << again.raw;
  EXPECT_EQ(code_of(again), "POW_REUSED");
}

// Acceptance: with the threshold crossed, enter without a valid solution is refused and with one
// succeeds; below it (and for users already queued) nothing is asked.
TEST(QueuePow, PastTheArrivalThresholdEnterNeedsASolution) {
  constexpr int kUsers = 60;
  ensure_users(kUsers);
  const auto schedule = create_schedule();
  // Admission rounds (which measure the arrivals) every 50 ms.
  TestServer server({"queue.pow-threshold=1", "queue.pow-difficulty=8", "queue.admission-interval=50ms"});
  RedisInspector redis;
  ASSERT_EQ(enter_as(server.port(), 1, schedule).status, 200) << "the first arrival needs no solution";
  // A burst well over 1 arrival/s: within a round or two the flag is up and new arrivals are refused.
  int next = 2;
  std::optional<int> refused;
  wait_for(
      [&] {
        if (next > kUsers) return true;
        const auto r = enter_as(server.port(), next, schedule);
        if (r.status == 200) {
          ++next;
          return false;
        }
        EXPECT_EQ(r.status, 400) << r.raw;
        EXPECT_EQ(code_of(r), "POW_REQUIRED");
        EXPECT_NE(body_of(r).at("message").as_string().find("/queue/challenge"), std::string::npos);
        refused = next;
        return true;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(5));
  ASSERT_TRUE(refused) << "the threshold was never crossed after " << next - 1 << " arrivals";
  const int user = *refused;
  EXPECT_FALSE(redis.string({"ZSCORE", key(schedule, "waiting"), std::to_string(user)})) << "a refusal wrote";
  EXPECT_FALSE(redis.string({"ZSCORE", key(schedule, "active"), std::to_string(user)})) << "a refusal wrote";
  // Already queued: a re-enter needs no solution.
  EXPECT_EQ(enter_as(server.port(), 1, schedule).status, 200);
  // With a solution: queued.
  const auto challenge = fetch_challenge(server.port(), user, schedule);
  const auto solved = enter_as(server.port(), user, schedule,
                               solution_fields(challenge.text, infra::security::solve_pow(challenge.text, 8)));
  ASSERT_EQ(solved.status, 200) << solved.raw;
  EXPECT_TRUE(redis.string({"ZSCORE", key(schedule, "waiting"), std::to_string(user)}) ||
              redis.string({"ZSCORE", key(schedule, "active"), std::to_string(user)}));
}
