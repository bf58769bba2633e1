#include "infra/redis/redis_subscriber.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "infra/redis/redis_reply.hpp"

namespace ticketing::infra::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct RedisSubscriber::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor executor, RedisOptions opts, std::string pat, Handlers h, std::chrono::milliseconds ping)
      : ex(std::move(executor)),
        options(std::move(opts)),
        pattern(std::move(pat)),
        handlers(std::move(h)),
        ping_interval(ping),
        backoff_timer(ex) {}

  asio::any_io_executor ex;
  RedisOptions options;
  std::string pattern;
  Handlers handlers;
  std::chrono::milliseconds ping_interval;
  asio::steady_timer backoff_timer;
  std::shared_ptr<tcp::socket> socket;  // the current link, null between links
  bool stopped = false;
  bool started = false;
  Clock::time_point last_heard{};
  Stats stats;
  std::size_t sessions = 0;

  // The node of the next link: the configured one, or on a Redis Cluster the seed nodes in turn, so
  // a dead node is left for the next one. Classic PUBLISH reaches every node of a cluster, so any
  // node hears every channel (the live seat map uses sharded pub/sub there instead:
  // RedisShardedSubscriber).
  std::pair<std::string, std::uint16_t> next_node() {
    const std::size_t n = sessions++;
    if (options.cluster_nodes.empty()) return {options.host, options.port};
    const RedisSeedNode& seed = options.cluster_nodes[n % options.cluster_nodes.size()];
    return {seed.host, seed.port};
  }

  void close_link() {
    if (!socket) return;
    boost::system::error_code ignored;
    socket->shutdown(tcp::socket::shutdown_both, ignored);
    socket->close(ignored);
  }

  static asio::awaitable<void> run(std::shared_ptr<State> self) {
    auto backoff = std::max(self->options.reconnect_backoff, std::chrono::milliseconds(50));
    while (!self->stopped) {
      std::string why;
      try {
        co_await self->session();
      } catch (const std::exception& error) {
        why = error.what();
      }
      const bool was_subscribed = self->stats.subscribed.exchange(false);
      self->socket.reset();
      if (self->stopped) break;
      self->stats.failures.fetch_add(1, std::memory_order_relaxed);
      if (why.empty()) why = "connection closed";
      spdlog::warn("redis subscriber ({}): {}; reconnecting in {} ms", self->pattern, why, backoff.count());
      if (was_subscribed && self->handlers.lost) self->handlers.lost(why);
      if (was_subscribed) backoff = std::max(self->options.reconnect_backoff, std::chrono::milliseconds(50));
      self->backoff_timer.expires_after(backoff);
      co_await self->backoff_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }

  // One link: connect, AUTH, PSUBSCRIBE, then read until it breaks.
  asio::awaitable<void> session() {
    auto link = std::make_shared<tcp::socket>(ex);
    socket = link;
    asio::steady_timer connect_timer(ex);
    connect_timer.expires_after(options.connect_timeout);
    auto connected = std::make_shared<bool>(false);
    connect_timer.async_wait([link, connected](boost::system::error_code ec) {
      if (ec || *connected) return;
      boost::system::error_code ignored;
      link->close(ignored);
    });
    const auto [host, port] = next_node();
    boost::system::error_code parse_ec;
    const auto address = asio::ip::make_address(host, parse_ec);
    if (!parse_ec) {
      co_await link->async_connect(tcp::endpoint(address, port), asio::use_awaitable);
    } else {
      tcp::resolver resolver(ex);
      auto endpoints = co_await resolver.async_resolve(host, std::to_string(port), asio::use_awaitable);
      co_await asio::async_connect(*link, endpoints, asio::use_awaitable);
    }
    *connected = true;
    connect_timer.cancel();
    if (stopped) co_return;
    link->set_option(tcp::no_delay(true));

    std::string out;
    if (!options.password.empty()) {
      if (options.username.empty()) {
        std::string_view cmd[] = {"AUTH", options.password};
        append_command(out, cmd);
      } else {
        std::string_view cmd[] = {"AUTH", options.username, options.password};
        append_command(out, cmd);
      }
    }
    std::string_view subscribe[] = {"PSUBSCRIBE", pattern};
    append_command(out, subscribe);
    co_await asio::async_write(*link, asio::buffer(out), asio::use_awaitable);
    last_heard = Clock::now();
    asio::co_spawn(ex, pinger(shared_from_this(), link), asio::detached);

    std::unique_ptr<redisReader, void (*)(redisReader*)> reader(create_reader(), redisReaderFree);
    if (!reader) throw std::bad_alloc();
    std::vector<char> buffer(64 * 1024);
    while (!stopped) {
      const std::size_t n = co_await link->async_read_some(asio::buffer(buffer), asio::use_awaitable);
      last_heard = Clock::now();
      redisReaderFeed(reader.get(), buffer.data(), n);
      while (const auto reply = next_reply(*reader)) {
        if (stopped) co_return;
        handle(*reply);
      }
    }
  }

  void handle(const RedisReply& reply) {
    if (reply.is_error()) throw std::runtime_error("redis answered " + reply.str);
    if (!reply.is_array() || reply.elements.empty()) return;  // +OK of AUTH
    const std::string& kind = reply.elements[0].str;
    if (kind == "pmessage" && reply.elements.size() == 4) {
      stats.messages.fetch_add(1, std::memory_order_relaxed);
      if (handlers.message) handlers.message(reply.elements[2].str, reply.elements[3].str);
    } else if (kind == "psubscribe") {
      stats.connects.fetch_add(1, std::memory_order_relaxed);
      stats.subscribed.store(true);
      spdlog::info("redis subscriber: subscribed to {}", pattern);
      if (handlers.subscribed) handlers.subscribed();
    }
    // "pong" replies only refresh last_heard.
  }

  // PINGs the subscribed link every ping_interval; closes it when nothing was heard for three.
  static asio::awaitable<void> pinger(std::shared_ptr<State> self, std::shared_ptr<tcp::socket> link) {
    asio::steady_timer timer(self->ex);
    std::string ping;
    std::string_view cmd[] = {"PING"};
    append_command(ping, cmd);
    while (!self->stopped && self->socket == link && link->is_open()) {
      timer.expires_after(self->ping_interval);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (self->stopped || self->socket != link || !link->is_open()) break;
      if (Clock::now() - self->last_heard > 3 * self->ping_interval) {
        spdlog::warn("redis subscriber: nothing heard for {} ms; closing the link", 3 * self->ping_interval.count());
        boost::system::error_code ignored;
        link->close(ignored);
        break;
      }
      auto [ec, n] = co_await asio::async_write(*link, asio::buffer(ping), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
    }
  }
};

RedisSubscriber::RedisSubscriber(asio::any_io_executor executor, RedisOptions options, std::string pattern,
                                 Handlers handlers, std::chrono::milliseconds ping_interval)
    : state_(std::make_shared<State>(std::move(executor), std::move(options), std::move(pattern), std::move(handlers),
                                     ping_interval)) {}

RedisSubscriber::~RedisSubscriber() {
  stop();
}

void RedisSubscriber::start() {
  asio::post(state_->ex, [state = state_] {
    if (state->started || state->stopped) return;
    state->started = true;
    asio::co_spawn(state->ex, State::run(state), asio::detached);
  });
}

void RedisSubscriber::stop() {
  asio::post(state_->ex, [state = state_] {
    state->stopped = true;
    state->backoff_timer.cancel();
    state->close_link();
  });
}

const RedisSubscriber::Stats& RedisSubscriber::stats() const noexcept {
  return state_->stats;
}

}  // namespace ticketing::infra::redis
