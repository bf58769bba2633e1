#pragma once
// A Redis pub/sub subscriber: one connection of its own (a subscribed connection can run no other
// command), PSUBSCRIBEd to one pattern, that reconnects and subscribes again by itself after any
// failure (reconnect_backoff, doubling up to 2 s) and notices a silently dead link by PINGing every
// ping_interval. Messages published while it was disconnected are lost — Redis pub/sub keeps
// nothing —, so whoever uses it must be able to tell (e.g. by version numbers) and catch up:
// `subscribed` is called after every successful (re)subscription for that. On a Redis Cluster
// (options.cluster_nodes) each new link goes to the next seed node.
//
// Threading: everything, handlers included, runs on the given executor (an io_context run by one
// thread). start() and stop() may be called from any thread.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "infra/redis/redis_options.hpp"

namespace ticketing::infra::redis {

class RedisSubscriber {
 public:
  struct Handlers {
    std::function<void(std::string_view channel, std::string_view payload)> message;
    std::function<void()> subscribed;                  // after each (re)subscription
    std::function<void(const std::string& why)> lost;  // the link broke; reconnecting
  };

  RedisSubscriber(boost::asio::any_io_executor executor, RedisOptions options, std::string pattern, Handlers handlers,
                  std::chrono::milliseconds ping_interval = std::chrono::seconds(5));
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  void start();
  // Closes the link and stops reconnecting; no handler runs after the stop has run on the executor.
  void stop();

  struct Stats {
    std::atomic<std::uint64_t> connects{0};  // successful subscriptions
    std::atomic<std::uint64_t> messages{0};  // messages received
    std::atomic<std::uint64_t> failures{0};  // links lost or connects failed
    std::atomic<bool> subscribed{false};
  };
  const Stats& stats() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace ticketing::infra::redis
