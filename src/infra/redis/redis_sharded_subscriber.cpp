#include "infra/redis/redis_sharded_subscriber.hpp"

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
#include <map>
#include <set>
#include <vector>

#include "infra/redis/redis_pubsub.hpp"

namespace ticketing::infra::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// A dead master is retried this often at most until its replica has taken over (about 4 s).
constexpr std::chrono::milliseconds kMaxBackoff{1000};

}  // namespace

struct RedisShardedSubscriber::State : std::enable_shared_from_this<State> {
  // One subscribed connection to one master.
  struct Link {
    Link(asio::any_io_executor ex, NodeAddress n) : node(std::move(n)), socket(std::make_shared<tcp::socket>(ex)) {}
    NodeAddress node;
    std::shared_ptr<tcp::socket> socket;
    std::set<std::string> channels;  // routed to this node (confirmed or not)
    std::string pending;             // commands not yet written
    bool ready = false;              // connected: `pending` may be written
    bool writing = false;
    bool closed = false;  // closed by us (no channels left, or stop)
    Clock::time_point last_heard{};
  };
  struct Wanted {
    std::shared_ptr<Link> link;  // null: waiting to be routed
    bool confirmed = false;
  };

  State(asio::any_io_executor executor, RedisClient& c, Handlers h, std::chrono::milliseconds ping)
      : ex(std::move(executor)),
        client(c),
        handlers(std::move(h)),
        ping_interval(ping),
        base_backoff(std::max(c.options().reconnect_backoff, std::chrono::milliseconds(50))),
        backoff(base_backoff),
        reroute_timer(ex) {}

  asio::any_io_executor ex;
  RedisClient& client;
  Handlers handlers;
  std::chrono::milliseconds ping_interval;
  std::chrono::milliseconds base_backoff;
  std::chrono::milliseconds backoff;
  asio::steady_timer reroute_timer;
  bool reroute_armed = false;
  bool stopped = false;
  bool started = false;
  Stats stats;
  std::map<std::string, Wanted> channels;
  std::map<std::string, std::shared_ptr<Link>> links;  // by host:port
  std::set<std::string> unrouted;                      // wanted, waiting for a (re-read) slot map

  // ---- routing ----------------------------------------------------------------------------------

  void subscribe(const std::string& channel) {
    if (stopped || channels.contains(channel)) return;
    channels.emplace(channel, Wanted{});
    route(channel, client.slot_map().get(), std::chrono::milliseconds(0));
  }

  void unsubscribe(const std::string& channel) {
    const auto it = channels.find(channel);
    if (it == channels.end()) return;
    std::shared_ptr<Link> link = std::move(it->second.link);
    if (it->second.confirmed) stats.channels.fetch_sub(1);
    channels.erase(it);
    unrouted.erase(channel);
    if (link) detach(link, channel, true);
  }

  // Takes `channel` off `link`; SUNSUBSCRIBEs it there when asked, and closes a link left empty.
  void detach(const std::shared_ptr<Link>& link, const std::string& channel, bool send_unsubscribe) {
    link->channels.erase(channel);
    if (link->channels.empty()) {
      close(link);
      return;
    }
    if (send_unsubscribe) send(link, {"SUNSUBSCRIBE", channel});
  }

  // Sends SSUBSCRIBE to the master of the channel's slot per `map`; without a map or an owner,
  // waits for the next re-read of the map (after `delay`).
  void route(const std::string& channel, const SlotMap* map, std::chrono::milliseconds delay) {
    const auto it = channels.find(channel);
    if (it == channels.end() || it->second.link) return;
    const NodeAddress* owner = map ? sharded_channel_owner(*map, channel) : nullptr;
    if (!owner) {
      unrouted.insert(channel);
      arm_reroute(delay);
      return;
    }
    assign(channel, *owner);
  }

  void assign(const std::string& channel, const NodeAddress& node) {
    auto& slot = links[node.to_string()];
    if (!slot || slot->closed) {
      slot = std::make_shared<Link>(ex, node);
      asio::co_spawn(ex, run_link(shared_from_this(), slot), asio::detached);
    }
    Wanted& wanted = channels[channel];
    if (wanted.confirmed) stats.channels.fetch_sub(1);
    wanted.link = slot;
    wanted.confirmed = false;
    slot->channels.insert(channel);
    send(slot, {"SSUBSCRIBE", channel});
  }

  // The channels of a link that broke, or that the server dropped: routed again after the map
  // was re-read.
  void reroute_later(const std::string& channel) {
    const auto it = channels.find(channel);
    if (it == channels.end()) return;
    if (it->second.confirmed) stats.channels.fetch_sub(1);
    it->second.link.reset();
    it->second.confirmed = false;
    stats.resubscribes.fetch_add(1, std::memory_order_relaxed);
    unrouted.insert(channel);
    arm_reroute(backoff);
  }

  void arm_reroute(std::chrono::milliseconds delay) {
    if (reroute_armed || stopped) return;
    reroute_armed = true;
    reroute_timer.expires_after(delay);
    reroute_timer.async_wait([self = shared_from_this()](boost::system::error_code) {
      if (self->stopped) return;
      asio::co_spawn(self->ex, reroute(self), asio::detached);
    });
  }

  static asio::awaitable<void> reroute(std::shared_ptr<State> self) {
    std::shared_ptr<const SlotMap> map;
    try {
      map = co_await self->client.refresh_slot_map();
    } catch (const std::exception& error) {
      spdlog::warn("redis sharded subscriber: reading the slot map failed: {}", error.what());
    }
    self->reroute_armed = false;
    if (self->stopped) co_return;
    const auto waiting = std::move(self->unrouted);
    self->unrouted.clear();
    if (!waiting.empty()) self->backoff = std::min(self->backoff * 2, kMaxBackoff);
    for (const auto& channel : waiting) self->route(channel, map.get(), self->backoff);
  }

  // ---- links ------------------------------------------------------------------------------------

  void send(const std::shared_ptr<Link>& link, std::initializer_list<std::string_view> args) {
    if (link->closed) return;
    append_command(link->pending, std::span<const std::string_view>(args.begin(), args.size()));
    flush(link);
  }

  void flush(const std::shared_ptr<Link>& link) {
    if (!link->ready || link->writing || link->closed || link->pending.empty()) return;
    link->writing = true;
    auto buffer = std::make_shared<std::string>(std::move(link->pending));
    link->pending.clear();
    asio::async_write(*link->socket, asio::buffer(*buffer),
                      [self = shared_from_this(), link, buffer](boost::system::error_code ec, std::size_t) {
                        link->writing = false;
                        if (ec) {
                          boost::system::error_code ignored;
                          link->socket->close(ignored);  // the reader ends the link
                          return;
                        }
                        self->flush(link);
                      });
  }

  void close(const std::shared_ptr<Link>& link) {
    link->closed = true;
    boost::system::error_code ignored;
    link->socket->shutdown(tcp::socket::shutdown_both, ignored);
    link->socket->close(ignored);
    const auto it = links.find(link->node.to_string());
    if (it != links.end() && it->second == link) links.erase(it);
  }

  static asio::awaitable<void> run_link(std::shared_ptr<State> self, std::shared_ptr<Link> link) {
    std::string why;
    try {
      co_await self->session(link);
    } catch (const std::exception& error) {
      why = error.what();
    }
    if (link->closed || self->stopped) co_return;
    self->stats.failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("redis sharded subscriber: link to {} lost ({}); {} channel(s) to route again", link->node.to_string(),
                 why.empty() ? "connection closed" : why, link->channels.size());
    self->close(link);
    const auto lost = std::move(link->channels);
    link->channels.clear();
    for (const auto& channel : lost) {
      const auto it = self->channels.find(channel);
      if (it != self->channels.end() && it->second.link == link) self->reroute_later(channel);
    }
  }

  asio::awaitable<void> session(std::shared_ptr<Link> link) {
    auto socket = link->socket;
    asio::steady_timer connect_timer(ex);
    connect_timer.expires_after(client.options().connect_timeout);
    auto connected = std::make_shared<bool>(false);
    connect_timer.async_wait([socket, connected](boost::system::error_code ec) {
      if (ec || *connected) return;
      boost::system::error_code ignored;
      socket->close(ignored);
    });
    boost::system::error_code parse_ec;
    const auto address = asio::ip::make_address(link->node.host, parse_ec);
    if (!parse_ec) {
      co_await socket->async_connect(tcp::endpoint(address, link->node.port), asio::use_awaitable);
    } else {
      tcp::resolver resolver(ex);
      auto endpoints =
          co_await resolver.async_resolve(link->node.host, std::to_string(link->node.port), asio::use_awaitable);
      co_await asio::async_connect(*socket, endpoints, asio::use_awaitable);
    }
    *connected = true;
    connect_timer.cancel();
    if (stopped || link->closed) co_return;
    socket->set_option(tcp::no_delay(true));
    stats.connects.fetch_add(1, std::memory_order_relaxed);

    const RedisOptions& options = client.options();
    std::string auth;
    if (!options.password.empty()) {
      if (options.username.empty()) {
        std::string_view cmd[] = {"AUTH", options.password};
        append_command(auth, cmd);
      } else {
        std::string_view cmd[] = {"AUTH", options.username, options.password};
        append_command(auth, cmd);
      }
    }
    link->pending.insert(0, auth);  // before the SSUBSCRIBEs queued while connecting
    link->ready = true;
    link->last_heard = Clock::now();
    flush(link);
    asio::co_spawn(ex, pinger(shared_from_this(), link), asio::detached);

    std::unique_ptr<redisReader, void (*)(redisReader*)> reader(create_reader(), redisReaderFree);
    if (!reader) throw std::bad_alloc();
    std::vector<char> buffer(64 * 1024);
    while (!stopped && !link->closed) {
      const std::size_t n = co_await socket->async_read_some(asio::buffer(buffer), asio::use_awaitable);
      link->last_heard = Clock::now();
      redisReaderFeed(reader.get(), buffer.data(), n);
      while (const auto reply = next_reply(*reader)) {
        if (stopped || link->closed) co_return;
        handle(link, *reply);
      }
    }
  }

  void handle(const std::shared_ptr<Link>& link, const RedisReply& reply) {
    if (reply.is_error()) {
      on_error(link, reply.str);
      return;
    }
    const auto push = parse_pubsub_push(reply);
    if (!push) return;  // +OK of AUTH
    const auto it = channels.find(push->channel);
    const bool ours = it != channels.end() && it->second.link == link;
    switch (push->kind) {
      case PubSubPush::Kind::kMessage:
        if (!ours) return;
        stats.messages.fetch_add(1, std::memory_order_relaxed);
        if (handlers.message) handlers.message(push->channel, push->payload);
        return;
      case PubSubPush::Kind::kSubscribed:
        if (!ours) {
          // Routed elsewhere (or given up) after it was sent here: not wanted on this link.
          send(link, {"SUNSUBSCRIBE", push->channel});
          return;
        }
        if (!it->second.confirmed) stats.channels.fetch_add(1);
        it->second.confirmed = true;
        backoff = base_backoff;
        if (handlers.subscribed) handlers.subscribed(push->channel);
        return;
      case PubSubPush::Kind::kUnsubscribed:
        // Ours: the server ended it (slot migrated, node demoted by a failover); else we asked.
        if (!ours) return;
        spdlog::info("redis sharded subscriber: {} ended {}; subscribing again", link->node.to_string(), push->channel);
        link->channels.erase(push->channel);
        reroute_later(push->channel);
        if (link->channels.empty()) close(link);
        return;
      case PubSubPush::Kind::kPong: return;
    }
  }

  // An error answers one of our commands. SSUBSCRIBE is the only one that can fail: MOVED names
  // the slot's owner; for anything else (CLUSTERDOWN during a failover, ...) the unconfirmed
  // channels of the link are routed again after the map was re-read.
  void on_error(const std::shared_ptr<Link>& link, const std::string& error) {
    std::vector<std::string> unconfirmed;
    const auto redirect = parse_redirect(error);
    for (const auto& channel : link->channels) {
      const auto it = channels.find(channel);
      if (it == channels.end() || it->second.confirmed) continue;
      if (redirect && key_slot(channel) != redirect->slot) continue;
      unconfirmed.push_back(channel);
    }
    if (redirect && redirect->kind == Redirect::Kind::kMoved) {
      NodeAddress target = redirect->node;
      if (target.host.empty()) target.host = link->node.host;
      spdlog::info("redis sharded subscriber: slot {} moved to {}", redirect->slot, target.to_string());
      for (const auto& channel : unconfirmed) {
        stats.redirects.fetch_add(1, std::memory_order_relaxed);
        channels[channel].link.reset();
        detach(link, channel, false);
        assign(channel, target);
      }
      return;
    }
    spdlog::warn("redis sharded subscriber: {} answered {}", link->node.to_string(), error);
    for (const auto& channel : unconfirmed) {
      detach(link, channel, false);
      reroute_later(channel);
    }
  }

  // PINGs a link every ping_interval; closes it when nothing was heard for three.
  static asio::awaitable<void> pinger(std::shared_ptr<State> self, std::shared_ptr<Link> link) {
    asio::steady_timer timer(self->ex);
    while (!self->stopped && !link->closed && link->socket->is_open()) {
      timer.expires_after(self->ping_interval);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (self->stopped || link->closed || !link->socket->is_open()) break;
      if (Clock::now() - link->last_heard > 3 * self->ping_interval) {
        spdlog::warn("redis sharded subscriber: nothing heard from {} for {} ms; closing the link",
                     link->node.to_string(), 3 * self->ping_interval.count());
        boost::system::error_code ignored;
        link->socket->close(ignored);  // the reader ends the link and routes its channels again
        break;
      }
      self->send(link, {"PING"});
    }
  }

  void stop() {
    stopped = true;
    reroute_timer.cancel();
    const auto all = std::move(links);
    links.clear();
    for (const auto& [node, link] : all) close(link);
  }
};

RedisShardedSubscriber::RedisShardedSubscriber(asio::any_io_executor executor, RedisClient& client, Handlers handlers,
                                               std::chrono::milliseconds ping_interval)
    : state_(std::make_shared<State>(std::move(executor), client, std::move(handlers), ping_interval)) {}

RedisShardedSubscriber::~RedisShardedSubscriber() {
  stop();
}

void RedisShardedSubscriber::start() {
  asio::post(state_->ex, [state = state_] { state->started = true; });
}

void RedisShardedSubscriber::stop() {
  asio::post(state_->ex, [state = state_] { state->stop(); });
}

void RedisShardedSubscriber::subscribe(const std::string& channel) {
  state_->subscribe(channel);
}

void RedisShardedSubscriber::unsubscribe(const std::string& channel) {
  state_->unsubscribe(channel);
}

const RedisShardedSubscriber::Stats& RedisShardedSubscriber::stats() const noexcept {
  return state_->stats;
}

}  // namespace ticketing::infra::redis
