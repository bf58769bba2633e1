#include "infra/live/seat_change_publisher.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>
#include <vector>

#include "infra/live/seat_stream_protocol.hpp"

namespace ticketing::infra::live {

namespace asio = boost::asio;

namespace {

// `publish` is PUBLISH, or SPUBLISH on a Redis Cluster (Redis 7 allows it in scripts: the channel
// seats:{sid} is in the slot of the script's keys, so the message stays on the schedule's shard).
std::string publisher_source(std::string_view publish) {
  return fmt::format(R"lua(
local cap = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local version = 0
for i = 4, #ARGV do
  version = redis.call('INCR', KEYS[1])
  local message = '{{"version":' .. version .. ',"changes":' .. ARGV[i] .. '}}'
  redis.call('ZADD', KEYS[2], version, message)
  redis.call('{}', ARGV[1], message)
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(cap + 1))
redis.call('PEXPIRE', KEYS[2], ttl)
return version
)lua",
                     publish);
}

}  // namespace

const redis::RedisScript& SeatChangePublisher::script(bool sharded) {
  static const redis::RedisScript kClassic = redis::RedisScript::from_source(publisher_source("PUBLISH"));
  static const redis::RedisScript kSharded = redis::RedisScript::from_source(publisher_source("SPUBLISH"));
  return sharded ? kSharded : kClassic;
}

struct SeatChangePublisher::Shared {
  std::mutex mutex;
  std::deque<Item> queue;
  bool draining = false;  // a drain round is scheduled or running
  bool stopped = false;
};

SeatChangePublisher::SeatChangePublisher(redis::RedisClient& redis, asio::any_io_executor executor,
                                         PublisherSettings settings)
    : redis_(redis),
      executor_(std::move(executor)),
      settings_(settings),
      shared_(std::make_shared<Shared>()),
      stats_(std::make_shared<Stats>()) {}

SeatChangePublisher::~SeatChangePublisher() {
  stop();
}

void SeatChangePublisher::stop() {
  std::lock_guard lock(shared_->mutex);
  shared_->stopped = true;
  shared_->queue.clear();
}

bool SeatChangePublisher::wait_idle(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard lock(shared_->mutex);
      if (!shared_->draining) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void SeatChangePublisher::seat_changed(const domain::SeatChanged& change) {
  if (change.seat_nos.empty()) return;
  Item item{change.schedule.value, changes_json(change)};
  bool start = false;
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->stopped) return;
    if (shared_->queue.size() >= settings_.max_queued) {
      shared_->queue.pop_front();
      stats_->failed.fetch_add(1, std::memory_order_relaxed);
    }
    shared_->queue.push_back(std::move(item));
    start = !shared_->draining;
    shared_->draining = true;
  }
  if (start) asio::co_spawn(executor_, drain(shared_), asio::detached);
}

// Takes everything queued, publishes it schedule by schedule (one script call for each run of
// consecutive changes of one schedule), until the queue is empty.
Task<void> SeatChangePublisher::drain(std::shared_ptr<Shared> shared) {
  // Keeps what the round needs alive even if the publisher is destroyed meanwhile (stop() first).
  auto stats = stats_;
  const std::string history = std::to_string(settings_.history);
  const std::string ttl = std::to_string(settings_.history_ttl.count());
  asio::steady_timer pause(executor_);
  std::vector<Item> batch;
  for (;;) {
    {
      std::lock_guard lock(shared->mutex);
      if (shared->queue.empty() || shared->stopped) {
        shared->draining = false;
        co_return;
      }
      batch.assign(std::make_move_iterator(shared->queue.begin()), std::make_move_iterator(shared->queue.end()));
      shared->queue.clear();
    }
    std::size_t i = 0;
    while (i < batch.size()) {
      std::size_t end = i;
      while (end < batch.size() && batch[end].schedule == batch[i].schedule && end - i < 256) ++end;
      const std::int64_t schedule = batch[i].schedule;
      const std::string keys_storage[] = {version_key(schedule), log_key(schedule)};
      const std::string channel = channel_name(schedule, settings_.db);
      std::vector<std::string_view> args{channel, history, ttl};
      for (std::size_t k = i; k < end; ++k) args.emplace_back(batch[k].changes);
      const std::string_view keys[] = {keys_storage[0], keys_storage[1]};
      bool done = false;
      std::string error;
      for (int attempt = 0; attempt < settings_.attempts && !done; ++attempt) {
        if (attempt > 0) {
          stats->retries.fetch_add(1, std::memory_order_relaxed);
          pause.expires_after(std::chrono::milliseconds(250));
          co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
          std::lock_guard lock(shared->mutex);
          if (shared->stopped) break;
        }
        try {
          const auto reply = co_await redis_.evalsha(script(redis_.cluster()), keys, args);
          if (reply.is_integer()) {
            done = true;
          } else {
            error = reply.to_string();
          }
        } catch (const std::exception& e) {
          error = e.what();
        }
      }
      const auto count = end - i;
      if (done) {
        stats->published.fetch_add(count, std::memory_order_relaxed);
      } else {
        stats->failed.fetch_add(count, std::memory_order_relaxed);
        spdlog::warn("live seat map: {} change(s) of schedule {} not published: {}", count, schedule, error);
      }
      i = end;
    }
  }
}

}  // namespace ticketing::infra::live
