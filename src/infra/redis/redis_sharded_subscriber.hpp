#pragma once
// Sharded pub/sub (Redis 7 SSUBSCRIBE) on a Redis Cluster: a sharded channel's messages stay on the
// shard of the channel's slot instead of being broadcast to every node, so a subscriber must listen
// on the master that owns that slot, and sharded channels take no patterns — the owner says which
// channels it wants (subscribe/unsubscribe) and this class keeps each one subscribed on the right
// node:
// - one subscribed connection per master, made on demand when a channel of its slots is wanted and
//   closed when it has none left; the node comes from the routing client's slot map;
// - `-MOVED slot node` in answer to SSUBSCRIBE: the channel is subscribed on that node instead;
// - a `sunsubscribe` push the owner did not ask for (the slot migrated, or the node was demoted by a
//   failover), a lost link, or another error: the channels concerned are routed again after the
//   slot map was re-read (backoff from reconnect_backoff doubling up to 1 s while it fails);
// - every link is PINGed every ping_interval and closed when nothing was heard for three.
// Messages published while a channel was not subscribed are lost (pub/sub keeps nothing):
// `subscribed(channel)` runs after every (re)subscription of a channel, so the owner can catch up.
//
// Threading: everything, handlers included, runs on the given executor (an io_context run by one
// thread); subscribe()/unsubscribe() must be called there. start() and stop() from any thread.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "infra/redis/redis_client.hpp"

namespace ticketing::infra::redis {

class RedisShardedSubscriber {
 public:
  struct Handlers {
    std::function<void(std::string_view channel, std::string_view payload)> message;
    std::function<void(const std::string& channel)> subscribed;  // after each (re)subscription
  };

  // `client` (a cluster client) supplies the slot map and the connection settings; it must outlive
  // this subscriber.
  RedisShardedSubscriber(boost::asio::any_io_executor executor, RedisClient& client, Handlers handlers,
                         std::chrono::milliseconds ping_interval = std::chrono::seconds(5));
  ~RedisShardedSubscriber();
  RedisShardedSubscriber(const RedisShardedSubscriber&) = delete;
  RedisShardedSubscriber& operator=(const RedisShardedSubscriber&) = delete;

  void start();
  // Closes every link; no handler runs after the stop has run on the executor.
  void stop();

  // On the executor's thread. Idempotent.
  void subscribe(const std::string& channel);
  void unsubscribe(const std::string& channel);

  struct Stats {
    std::atomic<std::uint64_t> connects{0};      // links made
    std::atomic<std::uint64_t> messages{0};      // messages received
    std::atomic<std::uint64_t> failures{0};      // links lost or connects failed
    std::atomic<std::uint64_t> redirects{0};     // SSUBSCRIBE answered with MOVED
    std::atomic<std::uint64_t> resubscribes{0};  // channels routed again (server SUNSUBSCRIBE, lost link)
    std::atomic<std::int64_t> channels{0};       // channels confirmed subscribed now
  };
  const Stats& stats() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace ticketing::infra::redis
