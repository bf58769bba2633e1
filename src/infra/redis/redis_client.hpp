#pragma once
// The service's Redis client: one pipelined RedisConnection per io_context, so a coroutine only
// ever touches the connection of the thread it runs on (no locks, no cross-thread hops).
#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "domain/async.hpp"
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
  Task<RedisReply> evalsha(const RedisScript& script, std::span<const std::string_view> keys,
                           std::span<const std::string_view> args);
  // Throws DependencyUnavailable unless this context's connection answers PONG (health checks).
  Task<void> ping();

  // The connection serving `executor`'s io_context; throws std::logic_error for an unknown one.
  RedisConnection& connection_for(const boost::asio::any_io_executor& executor) const;
  std::size_t size() const noexcept { return connections_.size(); }
  const RedisOptions& options() const noexcept { return options_; }

  // Shutdown: posts close() to every connection's context (fails pending callers, stops readers).
  void close_all();

  // For the metrics endpoint.
  struct Stats {
    std::atomic<std::uint64_t> errors{0};  // transport failures and error replies
    support::AtomicHistogram latency;      // seconds, every command and script
  };
  const Stats& stats() const noexcept { return stats_; }

 private:
  struct Entry {
    const void* context;  // the io_context, compared by address
    std::unique_ptr<RedisConnection> connection;
  };
  void record(std::chrono::steady_clock::time_point started, bool failed);

  RedisOptions options_;
  std::vector<Entry> connections_;
  Stats stats_;
};

}  // namespace ticketing::infra::redis
