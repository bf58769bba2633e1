#pragma once
// Server-paced polling, the honest ETA and the proof-of-work challenge text (DESIGN.md §15).
// Pure rules: the Redis scripts gather the data, these decide.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/ids.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

// ---- Polling --------------------------------------------------------------------------------
// A waiter's status call that comes earlier than this share of the last pollAfterMs is refused
// with 429: clients may be early by up to half the advice (timers, tab throttling, a reload) and
// still pass; a client polling 10x faster than advised never does. An enter that early answers the
// place (enter is idempotent) and writes nothing.
inline constexpr double kPollEarlyShare = 0.5;
// The time from which the next poll is accepted, after answering with `poll_after_ms` at `now`.
Timestamp next_poll_allowed_at(Timestamp now, std::int64_t poll_after_ms) noexcept;
// Whole seconds to wait (≥ 1) before a poll refused at `now` would be accepted.
std::chrono::seconds poll_retry_after(Timestamp now, Timestamp allowed_at) noexcept;
// The pollAfterMs of an answer given before the next poll is due at `allowed_at` (an early enter):
// the usual advice, but never so soon that following it would be refused (with a margin for the
// clocks of several instances and the way there).
inline constexpr std::int64_t kEarlyEnterSlackMs = 250;
std::int64_t poll_after_not_before(Timestamp now, Timestamp allowed_at, std::int64_t poll_after_ms) noexcept;

// ---- ETA ------------------------------------------------------------------------------------
// What the store knows about a schedule's admission when a waiter asks.
struct AdmissionOutlook {
  std::int64_t position = 0;          // 1-based waiting position
  std::int64_t max_active = 0;        // slots of the schedule (the console may override the config)
  std::int64_t admit_per_second = 0;  // admission rate cap
  std::int64_t active = 0;            // slots held now
  // Expiry times of the earliest-lapsing held slots, ascending: a prefix of the active set (the
  // store reads only as many as the position needs, at most a few hundred).
  std::vector<Timestamp> expiries;
  double completion_rate = 0;  // slots freed per second by purchases and leaves (measured, 0 = none)
  std::chrono::milliseconds active_ttl{300'000};
};

// Seconds from `now` until the waiter is admitted: the p-th admission needs a free slot — one
// free now, or one freed by a completion (at the measured rate) or at the latest by a held slot
// lapsing at its expiry (slots beyond the known expiries lapse at max_active per active_ttl) —
// and the admission cap lets at most admit_per_second through per second.
std::int64_t predict_admission_seconds(const AdmissionOutlook& outlook, Timestamp now);

// ---- Proof of work --------------------------------------------------------------------------
// A challenge binds a user, a schedule, a random nonce (its single-use id), an expiry and the
// difficulty. Its text is "<payload>.<hex HMAC-SHA256 of payload>" where payload is
// "pow1.<user>.<schedule>.<nonce hex>.<expires ms>.<difficulty>"; a solution is a nonce string
// such that SHA-256(challenge text ‖ nonce) starts with `difficulty` zero bits.
struct PowChallenge {
  UserId user{};
  ScheduleId schedule{};
  std::string id;  // 32 lower-case hex digits from a CSPRNG
  Timestamp expires_at{};
  int difficulty = 0;
};
inline constexpr std::string_view kPowAlgorithm = "sha256-leading-zero-bits";
inline constexpr int kMaxPowDifficulty = 40;
inline constexpr std::size_t kMaxPowNonceLength = 64;

std::string pow_payload(const PowChallenge& challenge);
// nullopt unless `payload` is exactly what pow_payload writes (canonical numbers, 32 hex digits).
std::optional<PowChallenge> parse_pow_payload(std::string_view payload);
// Leading zero bits of a digest.
int leading_zero_bits(std::span<const unsigned char> digest) noexcept;
// A solution nonce is 1..kMaxPowNonceLength characters of [0-9A-Za-z_-].
bool valid_pow_nonce(std::string_view nonce) noexcept;

}  // namespace ticketing::domain
