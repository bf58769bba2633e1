#include "application/fair_start.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "domain/errors.hpp"

namespace ticketing::application {

using domain::DomainError;
using domain::ErrorCode;

Task<domain::Digest> FairStart::seed_of(domain::ScheduleId schedule) {
  co_return co_await store_.ensure_seed(schedule, crypto_.random_seed());
}

Task<domain::PrequeueEntry> FairStart::enter(const domain::Schedule& schedule, domain::UserId user) {
  bool seeded = false;
  {
    std::lock_guard lock(seeded_mutex_);
    seeded = seeded_.contains(schedule.id.value);
  }
  if (!seeded) {
    co_await seed_of(schedule.id);
    std::lock_guard lock(seeded_mutex_);
    if (seeded_.size() >= kSeededCap) seeded_.clear();
    seeded_.insert(schedule.id.value);
  }
  co_return co_await store_.enter(schedule.id, user, schedule.booking_opens_at);
}

Task<std::optional<domain::Timestamp>> FairStart::prequeued(domain::ScheduleId schedule, domain::UserId user) {
  co_return co_await store_.prequeued(schedule, user);
}

Task<bool> FairStart::leave(domain::ScheduleId schedule, domain::UserId user) {
  co_return co_await store_.leave(schedule, user);
}

Task<std::int64_t> FairStart::prequeued_count(domain::ScheduleId schedule) {
  co_return co_await store_.count(schedule);
}

Task<std::shared_ptr<const FairnessView>> FairStart::fairness(domain::ScheduleId schedule) {
  {
    std::lock_guard lock(reveals_mutex_);
    if (const auto cached = reveals_.find(schedule.value); cached != reveals_.end()) co_return cached->second;
  }
  const auto found = co_await catalog_.find_schedule(schedule);
  if (!found) throw DomainError(ErrorCode::kNotFound, fmt::format("schedule {} not found", schedule.value));
  auto result = std::make_shared<FairnessView>();
  FairnessView& view = *result;
  view.schedule = schedule;
  view.prequeue_opens_at = found->prequeue_opens_at;
  view.opens_at = found->booking_opens_at;
  const auto now = clock_.now();
  view.phase = domain::fair_start_phase(now, found->prequeue_opens_at, found->booking_opens_at, false);
  if (view.phase == domain::FairStartPhase::kClosed || view.phase == domain::FairStartPhase::kBeforePrequeue) {
    co_return result;  // nothing drawn yet
  }
  if (!found->prequeue_opens_at) co_return result;  // no pre-queue, no shuffle
  auto state = co_await store_.state(schedule, /*with_order=*/true);
  // The commitment exists from the pre-queue's opening on, whether anyone entered or not.
  domain::Digest seed{};
  if (state.seed) {
    seed = *state.seed;
  } else {
    seed = co_await seed_of(schedule);
  }
  view.commitment = domain::to_hex(crypto_.sha256(domain::as_bytes_view(seed)));
  if (state.applied_at) {
    view.phase = domain::FairStartPhase::kOpen;
    view.seed = domain::to_hex(seed);
    view.applied_at = state.applied_at;
    view.pre_queued = state.pre_queued;
    view.late = state.late;
    view.order = std::move(state.order);
    std::lock_guard lock(reveals_mutex_);
    if (reveals_.size() >= kRevealCacheCap) reveals_.erase(reveals_.begin());
    reveals_[schedule.value] = result;
  } else {
    view.pre_queued = co_await store_.count(schedule);
  }
  co_return result;
}

Task<OpeningReport> FairStart::open(domain::ScheduleId schedule) {
  OpeningReport report;
  const auto before = co_await store_.state(schedule, /*with_order=*/false);
  if (before.applied_at) co_return report;
  domain::Digest seed{};
  if (before.seed) {
    seed = *before.seed;
  } else {
    seed = co_await seed_of(schedule);
  }
  const auto read_start = std::chrono::steady_clock::now();
  const auto users = co_await store_.members(schedule);
  const auto compute_start = std::chrono::steady_clock::now();
  std::vector<domain::FairnessEntry> order;
  order.reserve(users.size());
  for (const auto user : users) {
    order.push_back(domain::FairnessEntry{user, crypto_.hmac_sha256(seed, domain::fairness_message(user))});
  }
  domain::sort_fair_order(order);
  const auto apply_start = std::chrono::steady_clock::now();
  report.applied = co_await store_.apply(schedule, order, clock_.now());
  const auto end = std::chrono::steady_clock::now();
  report.read_time = compute_start - read_start;
  report.compute_time = apply_start - compute_start;
  report.apply_time = end - apply_start;
  co_return report;
}

Task<void> FairStart::run_once() {
  for (const auto schedule : co_await store_.pending_schedules()) {
    try {
      const auto found = co_await catalog_.find_schedule(schedule);
      if (!found) {
        co_await store_.forget_pending(schedule);
        continue;
      }
      const auto now = clock_.now();
      if (now < found->booking_opens_at) {
        if (found->prequeue_opens_at && now >= *found->prequeue_opens_at) co_await seed_of(schedule);
        continue;
      }
      const auto report = co_await open(schedule);
      if (report.applied.applied) {
        spdlog::info(
            "fair start of schedule {}: {} pre-queued users shuffled, {} late; read {} ms, compute {} ms, "
            "apply {} ms",
            schedule.value, report.applied.ordered, report.applied.late,
            std::chrono::duration_cast<std::chrono::milliseconds>(report.read_time).count(),
            std::chrono::duration_cast<std::chrono::milliseconds>(report.compute_time).count(),
            std::chrono::duration_cast<std::chrono::milliseconds>(report.apply_time).count());
      }
      co_await store_.forget_pending(schedule);
    } catch (const std::exception& error) {
      // One schedule's failure must not stop the others; it is retried next round.
      spdlog::warn("fair start of schedule {}: {}", schedule.value, error.what());
    }
  }
}

}  // namespace ticketing::application
