#pragma once
// The live seat map's streams on one instance (DESIGN.md §13, docs/live-seat-map.md).
//
// Per schedule that has (or recently had) a stream, a Feed keeps the whole map in memory: built
// once from Redis (version counter + history, read atomically) and one database read, then kept
// current by the deltas every instance publishes on Redis (SeatChangePublisher) and this instance
// hears through one PSUBSCRIBEd connection (on a Redis Cluster: SSUBSCRIBE per followed schedule on
// the master of its slot, RedisShardedSubscriber; every resubscription checks the version).
// Deltas are applied in version order; a gap (a reconnect, a lost message) is filled from the
// Redis history, or the feed is rebuilt and every stream gets a fresh snapshot. So a new stream costs no database read:
// it gets the feed's snapshot (serialised once per version and shared) or the deltas it missed from the feed's history.
//
// Threads: feeds live on the `live` io_context (one thread, also the publisher's and the
// subscriber's); each stream lives on the I/O thread of its connection. Deltas are coalesced per
// schedule over sse.coalesce, serialised once, and handed to each I/O thread that has streams of
// that schedule with one post per thread, which writes the shared bytes to each of its streams.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "domain/errors.hpp"
#include "domain/ports/catalog_repository.hpp"
#include "infra/redis/redis_client.hpp"
#include "infra/redis/redis_options.hpp"
#include "web/seat_map_stream.hpp"

namespace ticketing::infra::live {

struct LiveSeatMapSettings {
  std::chrono::milliseconds coalesce{250};        // sse.coalesce
  std::size_t history = 1024;                     // sse.history: versions kept per schedule
  std::chrono::milliseconds keepalive{15'000};    // sse.keepalive
  int max_streams = 20'000;                       // sse.max-streams
  std::chrono::milliseconds retry_hint{2'000};    // the `retry:` line of the first event
  std::chrono::seconds retry_after{5};            // Retry-After of the 503 beyond max_streams
  std::chrono::milliseconds feed_linger{60'000};  // a feed without streams is dropped after this
  std::chrono::milliseconds missing_ttl{5'000};   // an unknown schedule is remembered this long
  int db = 0;                                     // Redis database (the channel names carry it)
};

class LiveSeatMap final : public web::SeatMapStreams {
 public:
  // `redis` has a connection on `live`'s thread; `subscriber_options` tell where to subscribe.
  LiveSeatMap(boost::asio::io_context& live, redis::RedisClient& redis, redis::RedisOptions subscriber_options,
              domain::CatalogRepository& catalog, LiveSeatMapSettings settings);
  ~LiveSeatMap() override;
  LiveSeatMap(const LiveSeatMap&) = delete;
  LiveSeatMap& operator=(const LiveSeatMap&) = delete;

  void start();
  // Stops the subscriber and the timers (streams end with the HTTP server's shutdown). Any thread;
  // the io_contexts must still run for it to take effect.
  void stop();

  // Once every thread running the io_contexts has been joined: drops the timers and connections.
  void release();

  Task<std::shared_ptr<web::ResponseStream>> open(domain::ScheduleId schedule,
                                                  std::optional<std::int64_t> last_event_id) override;
  Task<void> check(domain::ScheduleId schedule) override;

  struct Stats {
    std::atomic<std::int64_t> open_streams{0};
    std::atomic<std::int64_t> feeds{0};
    std::atomic<std::uint64_t> snapshots{0};     // streams started with a snapshot
    std::atomic<std::uint64_t> resumes{0};       // streams started with the missed deltas only
    std::atomic<std::uint64_t> rejected{0};      // 503: over sse.max-streams
    std::atomic<std::uint64_t> deltas_sent{0};   // delta events handed to streams
    std::atomic<std::uint64_t> slow_dropped{0};  // streams dropped for reading too slowly
    std::atomic<std::uint64_t> resnapshots{0};   // feeds rebuilt (gap not in the history, counter reset)
    std::atomic<std::uint64_t> gap_fills{0};     // gaps filled from the Redis history
    std::atomic<std::uint64_t> messages{0};      // deltas heard on Redis
  };
  const Stats& stats() const noexcept;

  struct Impl;

 private:
  // The 503s (with Retry-After) that open() and check() share.
  domain::RetryLater shutting_down() const;
  domain::RetryLater at_capacity() const;  // sse.max-streams streams are open

  std::shared_ptr<Impl> impl_;
};

}  // namespace ticketing::infra::live
