#pragma once
// The Redis side of the live seat map (docs/live-seat-map.md): every committed SeatChanged gets the
// next version of its schedule and reaches every instance. For each change one Lua script, atomically,
// INCRs `seats:{sid}:version`, appends `{"version":N,"changes":[...]}` to the bounded history
// `seats:{sid}:log` (a sorted set scored by version: the last sse.history versions, expiring
// sse.history-ttl after the last change) and PUBLISHes the same text on `seats:{sid}` (SPUBLISH, sharded
// pub/sub, on a Redis Cluster).
//
// seat_changed() is called on the thread that committed the change and must not block: it queues
// the change and the publishing runs on the connection's own thread, in the order the changes were
// handed over (one instance's changes of one schedule keep their order). A change that cannot be
// published (Redis down) is retried for a few seconds, then dropped and counted: the streams then
// miss it until a later snapshot (see the doc's "limits").
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "domain/async.hpp"
#include "domain/ports/seat_events.hpp"
#include "infra/redis/redis_client.hpp"

namespace ticketing::infra::live {

struct PublisherSettings {
  std::size_t history = 1024;                        // sse.history
  std::chrono::milliseconds history_ttl{3'600'000};  // sse.history-ttl
  int db = 0;                                        // the Redis database (the channel names carry it)
  std::size_t max_queued = 100'000;                  // beyond it the oldest queued change is dropped
  int attempts = 20;                                 // tries of one publish, 250 ms apart
};

class SeatChangePublisher final : public domain::SeatEventSink {
 public:
  // `redis` has a connection for `executor` (an io_context run by one thread), where the publishing
  // runs; it must outlive the publisher's last round.
  SeatChangePublisher(redis::RedisClient& redis, boost::asio::any_io_executor executor, PublisherSettings settings);
  ~SeatChangePublisher() override;

  void seat_changed(const domain::SeatChanged& change) override;
  // Waits (blocking) until nothing is queued or being published, at most `timeout`. For shutdown.
  bool wait_idle(std::chrono::milliseconds timeout);
  // No more publishing rounds start (queued changes are dropped). Callable from any thread.
  void stop();

  // The script, for tools that publish the same way (bench/sse-storm): KEYS = version key, log key;
  // ARGV = channel, history, history TTL in ms, then one changes array (changes_json) per version.
  // Returns the last version assigned. `sharded`: SPUBLISH instead of PUBLISH (a Redis Cluster, where
  // the publisher uses it: the message then stays on the shard of the schedule's slot).
  static const redis::RedisScript& script(bool sharded = false);

  struct Stats {
    std::atomic<std::uint64_t> published{0};  // changes published (one version each)
    std::atomic<std::uint64_t> failed{0};     // changes dropped after every attempt, or overflowing the queue
    std::atomic<std::uint64_t> retries{0};
  };
  const Stats& stats() const noexcept { return *stats_; }

 private:
  struct Item {
    std::int64_t schedule;
    std::string changes;
  };
  struct Shared;
  Task<void> drain(std::shared_ptr<Shared> shared);

  redis::RedisClient& redis_;
  boost::asio::any_io_executor executor_;
  PublisherSettings settings_;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<Stats> stats_;
};

}  // namespace ticketing::infra::live
