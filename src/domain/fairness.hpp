#pragma once
// The pre-queue's commit–reveal shuffle (DESIGN.md §15, docs/queue.md "Fair start (pre-queue)").
// When the pre-queue opens a 32-byte seed is drawn and SHA-256(seed) published (the commitment);
// at opening the pre-queued users enter the waiting line ordered by HMAC-SHA256(seed, decimal user
// id) ascending (bytewise, i.e. as lowercase hex); then the seed and the sorted MACs are revealed.
// The hashing itself sits behind domain::FairnessCrypto; what is decided here is pure.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/ids.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

using Digest = std::array<std::uint8_t, 32>;

std::string to_hex(const Digest& digest);
// The digest's bytes as a string_view (what the seed's SHA-256 is taken over).
inline std::string_view as_bytes_view(const Digest& digest) noexcept {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}
// Exactly 64 hex digits (either case); nullopt otherwise.
std::optional<Digest> digest_from_hex(std::string_view text) noexcept;

// The HMAC message for a user: the canonical decimal id ("42").
std::string fairness_message(UserId user);

struct FairnessEntry {
  UserId user;
  Digest mac;  // HMAC-SHA256(seed, fairness_message(user))
};
// The shuffle's order: MAC ascending (bytewise); equal MACs (never seen in practice) by user id.
void sort_fair_order(std::vector<FairnessEntry>& entries);

// Where a schedule stands. Without a pre-queue a schedule is kClosed until bookingOpensAt and
// kOpen after. With one: kBeforePrequeue, then kPrequeue from prequeueOpensAt, then
// kOpenedNotApplied from bookingOpensAt until a worker applied the shuffle, then kOpen.
enum class FairStartPhase { kClosed, kBeforePrequeue, kPrequeue, kOpenedNotApplied, kOpen };
std::string_view to_string(FairStartPhase phase) noexcept;
FairStartPhase fair_start_phase(Timestamp now, std::optional<Timestamp> prequeue_opens_at, Timestamp booking_opens_at,
                                bool shuffle_applied) noexcept;
// Whether an `enter` goes to the pre-queue: while the pre-queue is open and also after the opening
// until the shuffle is applied (the apply takes those late ones behind the shuffled users, in
// arrival order, so nobody can jump ahead of the pre-queue by racing the apply).
bool enters_prequeue(FairStartPhase phase) noexcept;

// The server's advice for a pre-queued user's next status call: half the time left to the opening,
// between 1 s and 30 s (so a poll lands soon after the opening).
std::int64_t prequeue_poll_after_ms(Timestamp now, Timestamp opens_at) noexcept;

// The stored shuffle state of one schedule.
struct FairnessState {
  std::optional<Digest> seed;           // drawn when the pre-queue opened
  std::optional<Timestamp> applied_at;  // set once the shuffle was applied
  std::int64_t pre_queued = 0;          // users the shuffle ordered (after the apply)
  std::int64_t late = 0;                // joined the pre-queue after the opening, queued FIFO behind
  std::vector<std::string> order;       // the sorted MACs, lowercase hex (when asked for)
};

struct ShuffleApplied {
  bool applied = false;      // false: another worker had applied it already
  std::int64_t ordered = 0;  // users placed by the shuffle
  std::int64_t late = 0;     // users queued behind them in arrival order
};

// What `ticketing fairness verify` checks in a published reveal (GET /schedules/{id}/fairness).
struct FairnessReveal {
  std::string commitment;          // hex SHA-256(seed)
  std::string seed;                // hex, empty before the opening
  std::vector<std::string> order;  // hex MACs
  std::optional<std::int64_t> pre_queued;
};
struct UserPlaceCheck {
  UserId user;
  std::optional<std::string> expected_mac;  // the MAC the user was shown, if any
};
struct FairnessVerdict {
  std::vector<std::string> problems;  // empty: everything checked out
  std::optional<std::string> user_mac;
  std::optional<std::int64_t> user_place;  // 1-based place in the order, when the MAC is in it
  bool ok() const noexcept { return problems.empty(); }
};
class FairnessCrypto;
FairnessVerdict verify_fairness(const FairnessReveal& reveal, const FairnessCrypto& crypto,
                                const std::optional<UserPlaceCheck>& user = std::nullopt);

}  // namespace ticketing::domain
