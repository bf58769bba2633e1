#pragma once
// The waiting room (DESIGN.md §5 "Queue", §6). Positions are 1-based (1 = next to be admitted) and
// only ever decrease for a waiter; an admitted user has position 0 and an active slot until
// `active_until`, extended by each authorised booking action.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/ids.hpp"
#include "domain/queue_pacing.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

// kPrequeued: in the pre-queue before the opening (DESIGN.md §15), no position yet.
enum class QueueStatus { kWaiting, kAdmitted, kPrequeued };
std::string_view to_string(QueueStatus status) noexcept;

// Why the store answered without placing anyone or writing anything (DESIGN.md §15).
enum class QueueRefusal {
  kNone,
  kPollTooSoon,          // a waiter asked again well before pollAfterMs
  kProofOfWorkRequired,  // arrivals exceed queue.pow-threshold and no solution came along
  kProofOfWorkReused,    // the solution's challenge was used already
};

struct QueuePlace {
  QueueStatus status = QueueStatus::kWaiting;
  std::int64_t position = 0;         // 1-based while waiting, 0 when admitted
  Timestamp active_until{};          // when admitted: the slot lapses at this time unless used
  double admissions_per_second = 0;  // measured admission rate of this schedule (0 = not measured yet)
  // When admitted: tokens for this slot must be issued at this time or later (the user gave up an
  // earlier slot recently, and that slot's tokens are refused from here on; see redis_queue_store).
  Timestamp tokens_valid_from{};
  QueueRefusal refusal = QueueRefusal::kNone;
  Timestamp poll_allowed_at{};  // kPollTooSoon, entered_early: the first time the next poll is accepted
  bool was_waiting = false;     // enter found the user waiting already (a re-enter is paced like a poll)
  // Enter found the user waiting before their next poll was due: the place is answered (enter is
  // idempotent, DESIGN.md §5) and nothing was written — no heartbeat, no new pacing record.
  bool entered_early = false;
  // While waiting: what the ETA needs (position, slots, expiries, completion rate).
  AdmissionOutlook outlook;
};

// What enter needs besides the user (DESIGN.md §15 proof of work).
struct EnterGate {
  std::int64_t pow_threshold = 0;     // arrivals per second past which a solution is needed (0: never)
  std::optional<std::string> pow_id;  // a verified solution's challenge id: consumed once
  Timestamp pow_expires_at{};         // that challenge's expiry (the id is remembered until then)
};

struct QueuePolicy {
  std::int64_t max_active = 100;
  std::int64_t admit_per_second = 50;
  std::chrono::milliseconds heartbeat_timeout{30'000};
  std::chrono::milliseconds active_ttl{300'000};
  // Arrivals per second past which new arrivals need a proof of work (0: never): the admission
  // round measures them and raises the flag the enter script reads.
  std::int64_t pow_threshold = 0;
  // Enter admits a new arrival at once when nobody waits, a slot is free and the admission bucket
  // has a token (false: every arrival waits for an admission round).
  bool admit_on_arrival = true;
};

// The server's advice for the next status call (DESIGN.md §5, §15): a second at the front, growing
// with the distance to it — a quarter of the expected wait, and never more than a second per place
// from the front (`position`, 1-based; 0: not known), so the next in line hears of a freed slot
// within about a second even while the wait itself looks long — at most 30 s and at most half the
// heartbeat timeout (a client that follows the advice is never dropped as silent); an admitted user
// is told 5 s (there is nothing to wait for; the token is already in the answer).
inline constexpr std::int64_t kMinPollMs = 1'000;
inline constexpr std::int64_t kMaxPollMs = 30'000;
inline constexpr std::int64_t kAdmittedPollMs = 5'000;
std::int64_t poll_after_ms(QueueStatus status, std::int64_t estimated_wait_seconds, std::int64_t position = 0,
                           std::chrono::milliseconds heartbeat_timeout = std::chrono::milliseconds(kMaxPollMs *
                                                                                                   2)) noexcept;
// The least advice poll_after_ms gives a waiter under `heartbeat_timeout`: what a new arrival's first
// status call is paced by before any advice of its own was recorded.
std::int64_t min_poll_after_ms(std::chrono::milliseconds heartbeat_timeout) noexcept;

struct QueueSnapshot {
  std::int64_t waiting = 0;
  std::int64_t active = 0;
  double admissions_per_second = 0;
};

struct AdmissionRound {
  std::int64_t admitted = 0;         // moved from waiting to active now (and on enter since the last round)
  std::int64_t lapsed_slots = 0;     // active slots that expired unused
  std::int64_t dropped_waiters = 0;  // waiters who stopped polling
  std::int64_t waiting = 0;          // after the round
  std::int64_t active = 0;
};

}  // namespace ticketing::domain
