#pragma once
// The fair start (DESIGN.md §15, docs/queue.md "Fair start (pre-queue)"): the pre-queue, the
// commitment published when it opens, the shuffle applied once at the opening, and the reveal.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "domain/catalog.hpp"
#include "domain/fairness.hpp"
#include "domain/ports/catalog_repository.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/fairness_crypto.hpp"
#include "domain/ports/prequeue_store.hpp"

namespace ticketing::application {

// GET /schedules/{id}/fairness: what is known now. The seed and the order only once the shuffle
// was applied; the commitment from the moment the pre-queue opened.
struct FairnessView {
  domain::ScheduleId schedule;
  std::optional<domain::Timestamp> prequeue_opens_at;
  domain::Timestamp opens_at;
  domain::FairStartPhase phase = domain::FairStartPhase::kClosed;
  std::optional<std::string> commitment;
  std::optional<std::string> seed;
  std::optional<domain::Timestamp> applied_at;
  std::int64_t pre_queued = 0;  // in the pre-queue now; after the apply: users the shuffle ordered
  std::int64_t late = 0;        // after the apply: users who joined after the opening, FIFO behind
  std::vector<std::string> order;
};

struct OpeningReport {
  domain::ShuffleApplied applied;            // applied = false: not due, or another worker did it
  std::chrono::nanoseconds read_time{0};     // reading the pre-queue
  std::chrono::nanoseconds compute_time{0};  // HMACs and sort
  std::chrono::nanoseconds apply_time{0};    // the one Lua script
};

class FairStart {
 public:
  FairStart(domain::PrequeueStore& store, domain::CatalogRepository& catalog, domain::FairnessCrypto& crypto,
            const domain::Clock& clock)
      : store_(store), catalog_(catalog), crypto_(crypto), clock_(clock) {}

  // The pre-queue part of POST /queue/enter for a schedule in a pre-queue phase (draws the seed
  // first if nobody has): kApplied means the shuffle is done and the user joins the waiting line.
  Task<domain::PrequeueEntry> enter(const domain::Schedule& schedule, domain::UserId user);
  // The opening time the user waits for, when pre-queued.
  Task<std::optional<domain::Timestamp>> prequeued(domain::ScheduleId schedule, domain::UserId user);
  Task<bool> leave(domain::ScheduleId schedule, domain::UserId user);
  Task<std::int64_t> prequeued_count(domain::ScheduleId schedule);

  // 404 for an unknown schedule. A reveal never changes once applied: it is kept in memory
  // (a few MB per 100,000 users, kRevealCacheCap schedules) so a crowd checking it after the
  // opening does not read it from Redis each time.
  Task<std::shared_ptr<const FairnessView>> fairness(domain::ScheduleId schedule);

  // The worker's round: draws the seeds of pre-queues that opened and applies the shuffle of every
  // schedule whose booking opened. Safe with any number of workers (the store applies it once).
  Task<void> run_once();
  // Computes the shuffle from the current pre-queue and applies it, unless applied already.
  Task<OpeningReport> open(domain::ScheduleId schedule);

 private:
  Task<domain::Digest> seed_of(domain::ScheduleId schedule);

  domain::PrequeueStore& store_;
  domain::CatalogRepository& catalog_;
  domain::FairnessCrypto& crypto_;
  const domain::Clock& clock_;
  // Schedules whose seed this instance knows is stored (saves a Redis call per pre-queue enter);
  // cleared when it reaches kSeededCap.
  static constexpr std::size_t kSeededCap = 10'000;
  std::mutex seeded_mutex_;
  std::unordered_set<std::int64_t> seeded_;
  static constexpr std::size_t kRevealCacheCap = 16;
  std::mutex reveals_mutex_;
  std::map<std::int64_t, std::shared_ptr<const FairnessView>> reveals_;
};

}  // namespace ticketing::application
