// Server-paced polling, the honest ETA and proof-of-work challenges (DESIGN.md §15): the pure rules
// and the HMAC signer.
#include "domain/queue_pacing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "domain/queue.hpp"
#include "infra/security/hmac_proof_of_work.hpp"

using namespace ticketing;
using namespace ticketing::domain;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const Timestamp kNow{milliseconds(1'800'000'000'000)};

std::vector<Timestamp> expiries_at(std::initializer_list<double> seconds_from_now) {
  std::vector<Timestamp> out;
  for (const double s : seconds_from_now) out.push_back(kNow + milliseconds(static_cast<std::int64_t>(s * 1000)));
  return out;
}

std::vector<Timestamp> all_at(int count, double seconds_from_now) {
  return std::vector<Timestamp>(static_cast<std::size_t>(count),
                                kNow + milliseconds(static_cast<std::int64_t>(seconds_from_now * 1000)));
}

struct EtaCase {
  const char* name;
  AdmissionOutlook outlook;
  std::int64_t expected_seconds;
};

}  // namespace

TEST(QueueEta, PredictsFromFreeSlotsExpiriesCompletionsAndTheCap) {
  const auto ttl = milliseconds(300'000);
  const EtaCase cases[] = {
      // The old failure: "3 s" while every slot was held for another 4½ minutes.
      {"every slot held until expiry", {1, 100, 50, 100, all_at(1, 270), 0.0, ttl}, 270},
      {"a free slot now", {1, 100, 50, 50, {}, 0.0, ttl}, 0},
      {"free slots, the cap paces", {1000, 2000, 50, 1000, {}, 0.0, ttl}, 20},  // 999 / 50
      {"completions come before expiries", {10, 100, 50, 100, all_at(10, 300), 2.0, ttl}, 5},
      {"expiries come before completions", {3, 100, 50, 100, expiries_at({1, 2, 3}), 0.1, ttl}, 3},
      // All 100 slots lapse at 60 s; the 100th waiter then waits for 99 admissions at 50/s.
      {"a burst of expiries, then the cap", {100, 100, 50, 100, all_at(100, 60), 0.0, ttl}, 62},
      // Two expiries known (the store reads only what it needs); beyond them slots lapse at
      // 100 per 300 s at the latest: 20 + 3 × 3 s.
      // Every held slot's expiry known: a slot given out at a lapse lapses a TTL later (waves).
      {"the first wave, then the cap", {20, 20, 50, 20, all_at(20, 15), 0.0, milliseconds(15'000)}, 16},
      {"the second wave", {30, 20, 50, 20, all_at(20, 15), 0.0, milliseconds(15'000)}, 31},
      {"free slots lapse a TTL after they are given out", {3, 2, 50, 1, all_at(1, 10), 0.0, milliseconds(15'000)}, 15},
      {"beyond the known expiries", {5, 100, 50, 100, expiries_at({10, 20}), 0.0, ttl}, 29},
      {"completions beyond the known expiries", {50, 100, 50, 100, expiries_at({100}), 1.0, ttl}, 50},
      {"past expiries count as now", {1, 10, 50, 10, expiries_at({-5}), 0.0, ttl}, 0},
      {"not waiting", {0, 100, 50, 100, {}, 0.0, ttl}, 0},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(predict_admission_seconds(c.outlook, kNow), c.expected_seconds) << c.name;
  }
}

TEST(QueuePolling, AdviceGrowsWithTheWaitWithinOneAndThirtySeconds) {
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 0), 1'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 3), 1'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 20), 5'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 270), 30'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kAdmitted, 0), kAdmittedPollMs);
  // Never longer than half the heartbeat timeout: a client following the advice is never dropped.
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 270, 0, milliseconds(30'000)), 15'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 270, 0, milliseconds(1'000)), 500);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 0, 0, milliseconds(1'000)), 500);
}

TEST(QueuePolling, APollIsAcceptedFromHalfTheAdviceOn) {
  EXPECT_EQ(next_poll_allowed_at(kNow, 1'000), kNow + milliseconds(500));
  EXPECT_EQ(next_poll_allowed_at(kNow, 30'000), kNow + milliseconds(15'000));
  // 10x faster than advised is always refused.
  for (const std::int64_t advice : {1'000, 5'000, 30'000}) {
    EXPECT_LT(kNow + milliseconds(advice / 10), next_poll_allowed_at(kNow, advice)) << advice;
  }
  EXPECT_EQ(poll_retry_after(kNow, kNow + milliseconds(1)), seconds(1));
  EXPECT_EQ(poll_retry_after(kNow, kNow + milliseconds(2'001)), seconds(3));
  EXPECT_EQ(poll_retry_after(kNow, kNow - milliseconds(5)), seconds(1));
}

TEST(QueuePolling, AnEarlyEntersAdviceIsNeverSoonerThanTheNextAcceptedPoll) {
  EXPECT_EQ(poll_after_not_before(kNow, kNow + milliseconds(400), 1'000), 1'000);  // the usual advice
  EXPECT_EQ(poll_after_not_before(kNow, kNow + milliseconds(7'000), 1'000), 7'000 + kEarlyEnterSlackMs);
  EXPECT_EQ(poll_after_not_before(kNow, kNow - milliseconds(5), 2'000), 2'000);
}

TEST(ProofOfWork, PayloadRoundTripsAndOnlyTheCanonicalFormParses) {
  const PowChallenge c{UserId{42}, ScheduleId{7}, "0123456789abcdef0123456789abcdef", kNow, 18};
  const auto text = pow_payload(c);
  EXPECT_EQ(text, "pow1.42.7.0123456789abcdef0123456789abcdef.1800000000000.18");
  const auto parsed = parse_pow_payload(text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->user, c.user);
  EXPECT_EQ(parsed->schedule, c.schedule);
  EXPECT_EQ(parsed->id, c.id);
  EXPECT_EQ(parsed->expires_at, c.expires_at);
  EXPECT_EQ(parsed->difficulty, 18);
  for (const char* bad : {"", "pow1", "pow2.42.7.0123456789abcdef0123456789abcdef.1800000000000.18",
                          "pow1.042.7.0123456789abcdef0123456789abcdef.1800000000000.18",
                          "pow1.42.7.0123456789ABCDEF0123456789abcdef.1800000000000.18",
                          "pow1.42.7.0123456789abcdef0123456789abcde.1800000000000.18",
                          "pow1.42.7.0123456789abcdef0123456789abcdef.1800000000000.41",
                          "pow1.42.7.0123456789abcdef0123456789abcdef.1800000000000.18.1",
                          "pow1.42.-7.0123456789abcdef0123456789abcdef.1800000000000.18",
                          "pow1.42.7.0123456789abcdef0123456789abcdef.+1800000000000.18"}) {
    EXPECT_FALSE(parse_pow_payload(bad)) << bad;
  }
}

TEST(ProofOfWork, CountsLeadingZeroBits) {
  EXPECT_EQ(leading_zero_bits(std::array<unsigned char, 2>{0x80, 0x00}), 0);
  EXPECT_EQ(leading_zero_bits(std::array<unsigned char, 2>{0x01, 0x00}), 7);
  EXPECT_EQ(leading_zero_bits(std::array<unsigned char, 3>{0x00, 0x00, 0x10}), 19);
  EXPECT_EQ(leading_zero_bits(std::array<unsigned char, 2>{0x00, 0x00}), 16);
  EXPECT_TRUE(valid_pow_nonce("12345"));
  EXPECT_TRUE(valid_pow_nonce("aZ_-9"));
  EXPECT_FALSE(valid_pow_nonce(""));
  EXPECT_FALSE(valid_pow_nonce("1 2"));
  EXPECT_FALSE(valid_pow_nonce(std::string(kMaxPowNonceLength + 1, '1')));
}

TEST(ProofOfWork, SignedChallengesVerifyOnlyForTheirUserScheduleAndTime) {
  const infra::security::HmacProofOfWork pow("a-test-secret-of-at-least-32-bytes-0123456789");
  const PowChallenge issued{UserId{42}, ScheduleId{7}, "0123456789abcdef0123456789abcdef", kNow + seconds(120), 8};
  const auto text = pow.issue(issued);
  const auto nonce = infra::security::solve_pow(text, 8);
  const auto ok = pow.verify(text, nonce, UserId{42}, ScheduleId{7}, kNow);
  ASSERT_TRUE(ok.challenge);
  EXPECT_EQ(ok.challenge->id, issued.id);
  EXPECT_EQ(ok.challenge->expires_at, issued.expires_at);
  // Someone else's or another schedule's challenge, an unsolved one, a forged one.
  EXPECT_EQ(pow.verify(text, nonce, UserId{43}, ScheduleId{7}, kNow).problem, PowProblem::kInvalid);
  EXPECT_EQ(pow.verify(text, nonce, UserId{42}, ScheduleId{8}, kNow).problem, PowProblem::kInvalid);
  std::string wrong;
  unsigned char digest[32];
  for (int n = 0;; ++n) {  // a nonce that does not solve it
    wrong = std::to_string(n);
    infra::security::sha256({text, wrong}, digest);
    if (leading_zero_bits(digest) < 8) break;
  }
  EXPECT_EQ(pow.verify(text, wrong, UserId{42}, ScheduleId{7}, kNow).problem, PowProblem::kInvalid);
  std::string forged = text;
  forged.replace(forged.find(".42."), 4, ".43.");
  EXPECT_EQ(pow.verify(forged, infra::security::solve_pow(forged, 8), UserId{43}, ScheduleId{7}, kNow).problem,
            PowProblem::kInvalid);
  const infra::security::HmacProofOfWork other("another-secret-of-at-least-32-bytes-0123456789");
  EXPECT_EQ(other.verify(text, nonce, UserId{42}, ScheduleId{7}, kNow).problem, PowProblem::kInvalid);
  EXPECT_EQ(pow.verify("garbage", nonce, UserId{42}, ScheduleId{7}, kNow).problem, PowProblem::kInvalid);
  EXPECT_EQ(pow.verify(text, "bad nonce", UserId{42}, ScheduleId{7}, kNow).problem, PowProblem::kInvalid);
  // Expired: a genuine, solved challenge past its time.
  EXPECT_EQ(pow.verify(text, nonce, UserId{42}, ScheduleId{7}, issued.expires_at).problem, PowProblem::kExpired);
}

// The estimator evaluates a few hundred candidate admissions, not every one before the waiter:
// checked against evaluating them all, over random outlooks.
TEST(QueueEta, CandidatesFindTheSameMaximumAsEveryAdmission) {
  std::mt19937 random(17);
  for (int round = 0; round < 2000; ++round) {
    AdmissionOutlook o;
    o.max_active = std::uniform_int_distribution<std::int64_t>(1, 30)(random);
    o.active = std::uniform_int_distribution<std::int64_t>(0, o.max_active)(random);
    o.admit_per_second = std::uniform_int_distribution<std::int64_t>(1, 60)(random);
    o.position = std::uniform_int_distribution<std::int64_t>(1, 300)(random);
    o.active_ttl = milliseconds(std::uniform_int_distribution<std::int64_t>(1'000, 60'000)(random));
    o.completion_rate = round % 3 == 0 ? 0.0 : std::uniform_real_distribution<double>(0.05, 5)(random);
    const auto known = round % 2 == 0 ? o.active : std::uniform_int_distribution<std::int64_t>(0, o.active)(random);
    std::vector<std::int64_t> ms;
    for (std::int64_t i = 0; i < known; ++i)
      ms.push_back(std::uniform_int_distribution<std::int64_t>(0, 90'000)(random));
    std::sort(ms.begin(), ms.end());
    for (const auto m : ms) o.expiries.push_back(kNow + milliseconds(m));

    // Every admission j = 1..p, by the model's definition.
    const std::int64_t free_now = o.max_active - o.active;
    const double ttl = std::chrono::duration<double>(o.active_ttl).count();
    const auto at = [&](std::int64_t k) { return static_cast<double>(ms[static_cast<std::size_t>(k - 1)]) / 1000.0; };
    double expected = 0;
    for (std::int64_t j = 1; j <= o.position; ++j) {
      double s = 0;
      if (j > free_now) {
        const std::int64_t k = j - free_now;
        if (k <= known) {
          s = at(k);
        } else if (known >= o.active) {
          const std::int64_t i = (j - 1) % o.max_active;
          s = (i < free_now ? 0.0 : at(i - free_now + 1)) + static_cast<double>((j - 1) / o.max_active) * ttl;
        } else {
          s = (known > 0 ? at(known) : 0.0) + static_cast<double>(k - known) * ttl / static_cast<double>(o.max_active);
        }
        if (o.completion_rate > 0) s = std::min(s, static_cast<double>(k) / o.completion_rate);
      }
      expected = std::max(expected, s + static_cast<double>(o.position - j) / static_cast<double>(o.admit_per_second));
    }
    ASSERT_EQ(predict_admission_seconds(o, kNow), static_cast<std::int64_t>(std::ceil(expected - 1e-9)))
        << "round " << round << " position " << o.position << " max_active " << o.max_active << " active " << o.active
        << " known " << known << " rate " << o.completion_rate;
  }
}
