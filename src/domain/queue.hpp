#pragma once
// The waiting room (DESIGN.md §5 "Queue", §6). Positions are 1-based (1 = next to be admitted) and
// only ever decrease for a waiter; an admitted user has position 0 and an active slot until
// `active_until`, extended by each authorised booking action.
#include <chrono>
#include <cstdint>
#include <string_view>

#include "domain/ids.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

// kPrequeued: in the pre-queue before the opening (DESIGN.md §15), no position yet.
enum class QueueStatus { kWaiting, kAdmitted, kPrequeued };
std::string_view to_string(QueueStatus status) noexcept;

struct QueuePlace {
  QueueStatus status = QueueStatus::kWaiting;
  std::int64_t position = 0;         // 1-based while waiting, 0 when admitted
  Timestamp active_until{};          // when admitted: the slot lapses at this time unless used
  double admissions_per_second = 0;  // measured admission rate of this schedule (0 = not measured yet)
  // When admitted: tokens for this slot must be issued at this time or later (the user gave up an
  // earlier slot less than a second ago, and that slot's tokens are refused from here on).
  Timestamp tokens_valid_from{};
};

struct QueuePolicy {
  std::int64_t max_active = 100;
  std::int64_t admit_per_second = 50;
  std::chrono::milliseconds heartbeat_timeout{30'000};
  std::chrono::milliseconds active_ttl{300'000};
};

// Seconds until a waiter at `position` is admitted. Uses the measured admission rate; when there is
// none yet (or it is slower than slots can lapse), the rate at which slots must free up at the
// latest (max_active per active_ttl) bounds it, and admit_per_second caps it.
std::int64_t estimate_wait_seconds(std::int64_t position, double measured_rate, const QueuePolicy& policy);

// The server's advice for the next status call (DESIGN.md §5, §15): about a second near the front,
// growing with the expected wait (a quarter of it), at most 30 s; an admitted user is told 5 s
// (there is nothing to wait for; the token is already in the answer).
inline constexpr std::int64_t kMinPollMs = 1'000;
inline constexpr std::int64_t kMaxPollMs = 30'000;
inline constexpr std::int64_t kAdmittedPollMs = 5'000;
std::int64_t poll_after_ms(QueueStatus status, std::int64_t estimated_wait_seconds) noexcept;

struct QueueSnapshot {
  std::int64_t waiting = 0;
  std::int64_t active = 0;
  double admissions_per_second = 0;
};

struct AdmissionRound {
  std::int64_t admitted = 0;         // moved from waiting to active now
  std::int64_t lapsed_slots = 0;     // active slots that expired unused
  std::int64_t dropped_waiters = 0;  // waiters who stopped polling
  std::int64_t waiting = 0;          // after the round
  std::int64_t active = 0;
};

}  // namespace ticketing::domain
