#pragma once
// The service's Redis client: one pipelined RedisConnection per io_context, so a coroutine only
// ever touches the connection of the thread it runs on (no locks, no cross-thread hops).
//
// Redis Cluster (options.cluster(), a `redis-cluster://` URL; docs/scaling.md): per io_context one
// pipelined connection per master, made on first use. Each command goes to the master of its key's
// slot (redis_cluster_slots.hpp) per a slot map read with CLUSTER SLOTS and shared by all threads as
// an immutable snapshot. MOVED patches the map, resends, and refreshes the whole map in the
// background; ASK resends once behind ASKING; TRYAGAIN/CLUSTERDOWN and unreachable nodes are
// retried with a doubling backoff within command_timeout. A command that may have reached Redis
// (timeout, reset after sending) is never resent: the caller sees DependencyUnavailable.
#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "domain/async.hpp"
#include "infra/redis/redis_cluster_slots.hpp"
#include "infra/redis/redis_connection.hpp"
#include "infra/redis/redis_options.hpp"
#include "infra/redis/redis_reply.hpp"
#include "support/atomic_histogram.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace ticketing::infra::redis {

class RedisClient {
 public:
  // One connection per executor; each executor's io_context must be run by a single thread.
  // Nothing connects until the first command on that context.
  RedisClient(std::vector<boost::asio::any_io_executor> executors, RedisOptions options);
  RedisClient(const std::vector<boost::asio::io_context*>& contexts, RedisOptions options);
  // Safe from any thread (each connection's close is posted to its context), but the io_contexts
  // must still exist.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Run on the connection of the calling coroutine's io_context. Same contract as RedisConnection;
  // additionally throws std::logic_error when called from an io_context this client was not built
  // with (a wiring bug, not an outage).
  Task<RedisReply> execute(std::span<const std::string_view> args);
  template <RedisArg... Args>
  Task<RedisReply> execute(const Args&... args) {
    const std::array<std::string_view, sizeof...(Args)> argv{std::string_view(args)...};
    co_return co_await execute(std::span<const std::string_view>(argv));
  }
  // On a cluster: routed by keys[0] (all keys of a script share one hash tag).
  Task<RedisReply> evalsha(const RedisScript& script, std::span<const std::string_view> keys,
                           std::span<const std::string_view> args);
  // execute() routed by `key` on a cluster, for commands whose key is not where routing_key()
  // looks (args[1], or the first key of EVAL/EVALSHA). Same as execute() on a single node.
  Task<RedisReply> execute_routed(std::string_view key, std::span<const std::string_view> args);
  // Throws DependencyUnavailable unless this context's connection answers PONG (health checks);
  // on a cluster, some master (the map's first reachable one) must answer.
  Task<void> ping();

  // The connection serving `executor`'s io_context; throws std::logic_error for an unknown one, and
  // on a cluster (there is one connection per node there).
  RedisConnection& connection_for(const boost::asio::any_io_executor& executor) const;
  bool cluster() const noexcept { return options_.cluster(); }
  // Cluster: the slot map now in use (null before the first command). Diagnostics and tests.
  std::shared_ptr<const SlotMap> slot_map() const;
  // Cluster: reads the slot map again now and returns it (rate-limited like the background refresh:
  // when another read runs or one ended within 100 ms, the current map is returned as it is). For
  // the sharded subscriber, which learns that a slot moved from a SUNSUBSCRIBE push or a lost link
  // rather than from MOVED. Runs on the calling coroutine's executor; null when no node answered
  // and there was no map yet. Single node: null.
  Task<std::shared_ptr<const SlotMap>> refresh_slot_map();
  // Cluster: how many times a full slot map was read (CLUSTER SLOTS) so far.
  std::uint64_t slot_map_refreshes() const noexcept;
  std::size_t size() const noexcept { return connections_.size(); }
  const RedisOptions& options() const noexcept { return options_; }

  // Shutdown: posts close() to every connection's context (fails pending callers, stops readers).
  void close_all();

  // For the metrics endpoint.
  struct Stats {
    std::atomic<std::uint64_t> errors{0};  // transport failures and error replies
    support::AtomicHistogram latency;      // seconds, every command and script
    // Cluster only.
    std::atomic<std::uint64_t> moved{0};    // MOVED replies followed
    std::atomic<std::uint64_t> asked{0};    // ASK replies followed
    std::atomic<std::uint64_t> retries{0};  // resends after TRYAGAIN/CLUSTERDOWN/an unreachable node
  };
  const Stats& stats() const noexcept { return stats_; }

 private:
  struct ClusterShared;  // the slot map and its refresh state, shared by all contexts
  struct NodeTable;      // one context's connections to cluster nodes
  // One command or script in cluster mode (views into the caller's arguments).
  struct ClusterCall {
    std::optional<std::uint16_t> slot;       // nullopt: keyless, any node
    std::span<const std::string_view> args;  // a command, when script is null
    const RedisScript* script = nullptr;
    std::span<const std::string_view> keys;
    std::span<const std::string_view> script_args;
  };
  struct Entry {
    const void* context;  // the io_context, compared by address
    boost::asio::any_io_executor executor;
    std::unique_ptr<RedisConnection> connection;  // single node
    std::shared_ptr<NodeTable> nodes;             // cluster
  };
  Entry& entry_for(const boost::asio::any_io_executor& executor);
  Task<RedisReply> run(Entry& entry, ClusterCall call);
  Task<RedisReply> run_in_cluster(Entry& entry, ClusterCall call);
  void record(std::chrono::steady_clock::time_point started, bool failed);

  RedisOptions options_;
  std::vector<Entry> connections_;
  std::shared_ptr<ClusterShared> cluster_;
  Stats stats_;
};

}  // namespace ticketing::infra::redis
