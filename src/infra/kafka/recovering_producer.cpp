#include "infra/kafka/recovering_producer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace ticketing::infra::kafka {

using Clock = RebuildSchedule::Clock;

std::chrono::milliseconds RebuildSchedule::delay(int attempt, RebuildBackoff backoff) {
  const auto cap = std::max(backoff.max, backoff.first);
  auto wait = backoff.first;
  for (int i = 1; i < attempt && wait < cap; ++i) wait *= 2;
  return std::min(wait, cap);
}

bool RebuildSchedule::on_fatal(Clock::time_point now) {
  if (fatal_) return false;
  fatal_ = true;
  ++failures_;
  next_at_ = now + delay(failures_, backoff_);
  return true;
}

void RebuildSchedule::on_rebuild_failed(Clock::time_point now) {
  ++failures_;
  next_at_ = now + delay(failures_, backoff_);
}

void RebuildSchedule::on_delivered() {
  if (!fatal_) failures_ = 0;
}

RecoveringProducer::RecoveringProducer(Factory factory, RebuildBackoff backoff)
    : factory_(std::move(factory)), current_(factory_()), schedule_(backoff) {}

void RecoveringProducer::notice_fatal_locked(Clock::time_point now) {
  if (schedule_.fatal()) return;
  auto error = current_->fatal_error();
  if (!error) return;
  schedule_.on_fatal(now);
  reason_ = std::move(*error);
  spdlog::error("kafka producer: fatal error ({}); every message fails until it is rebuilt in {} ms (attempt {})",
                reason_,
                std::chrono::duration_cast<std::chrono::milliseconds>(schedule_.next_rebuild_at() - now).count(),
                schedule_.attempt());
}

bool RecoveringProducer::maintain() {
  std::shared_ptr<KafkaProducer> retired;
  bool usable = false;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    notice_fatal_locked(now);
    if (schedule_.due(now)) {
      const int attempt = schedule_.attempt();
      try {
        std::shared_ptr<KafkaProducer> fresh = factory_();
        retired = std::exchange(current_, std::move(fresh));
        schedule_.on_rebuilt();
        rebuilds_.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("kafka producer: rebuilt after the fatal error ({}), attempt {}", reason_, attempt);
        reason_.clear();
      } catch (const std::exception& error) {
        schedule_.on_rebuild_failed(now);
        spdlog::error("kafka producer: rebuild attempt {} failed ({}); next attempt in {} ms", attempt, error.what(),
                      std::chrono::duration_cast<std::chrono::milliseconds>(schedule_.next_rebuild_at() - now).count());
      }
    }
    usable = !schedule_.fatal();
  }
  // Outside the lock: closing waits (briefly) for the old producer's outstanding messages.
  retired.reset();
  return usable;
}

std::vector<DeliveryResult> RecoveringProducer::produce_and_wait(const std::vector<OutgoingMessage>& messages,
                                                                 std::chrono::milliseconds timeout) {
  if (messages.empty()) return {};
  maintain();
  std::shared_ptr<KafkaProducer> producer;
  std::string refusal;
  {
    std::lock_guard lock(mutex_);
    if (schedule_.fatal()) {
      refusal = fmt::format("kafka producer unusable after a fatal error ({}); it is rebuilt in {} ms", reason_,
                            std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       schedule_.next_rebuild_at() - Clock::now())
                                                       .count()));
    } else {
      producer = current_;
    }
  }
  if (!producer) return std::vector<DeliveryResult>(messages.size(), DeliveryResult{false, refusal});

  auto results = producer->produce_and_wait(messages, timeout);
  const bool delivered =
      std::any_of(results.begin(), results.end(), [](const DeliveryResult& r) { return r.delivered; });
  std::lock_guard lock(mutex_);
  if (producer == current_) {
    if (delivered) schedule_.on_delivered();
    notice_fatal_locked(Clock::now());
  }
  return results;
}

RecoveringProducer::Status RecoveringProducer::status() {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  notice_fatal_locked(now);
  Status status;
  status.fatal = schedule_.fatal();
  if (status.fatal) {
    status.reason = reason_;
    status.attempt = schedule_.attempt();
    status.rebuild_in =
        std::max(std::chrono::milliseconds(0),
                 std::chrono::duration_cast<std::chrono::milliseconds>(schedule_.next_rebuild_at() - now));
  }
  return status;
}

void RecoveringProducer::inject_fatal_error_for_test(const std::string& reason) {
  std::lock_guard lock(mutex_);
  current_->inject_fatal_error_for_test(reason);
}

}  // namespace ticketing::infra::kafka
