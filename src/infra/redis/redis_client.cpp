#include "infra/redis/redis_client.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "domain/errors.hpp"

namespace ticketing::infra::redis {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

const void* context_of(const asio::any_io_executor& executor) {
  return &asio::query(executor, asio::execution::context_as<asio::execution_context&>);
}

// Redirections and retries one call may follow before it gives up and returns the last reply.
constexpr int kMaxClusterAttempts = 16;
constexpr std::chrono::milliseconds kFirstBackoff{20};
// Full slot map reads are at most this frequent, whatever number of MOVED replies ask for one.
constexpr std::chrono::milliseconds kMinRefreshGap{100};

RedisOptions node_options(const RedisOptions& base, const NodeAddress& node) {
  RedisOptions o = base;
  o.host = node.host;
  o.port = node.port;
  o.db = 0;
  o.cluster_nodes.clear();
  return o;
}

}  // namespace

struct RedisClient::ClusterShared {
  explicit ClusterShared(RedisOptions o) : options(std::move(o)) {}

  std::shared_ptr<const SlotMap> map() const {
    std::lock_guard lock(mutex);
    return current;
  }
  void store(std::shared_ptr<const SlotMap> next) {
    std::lock_guard lock(mutex);
    current = std::move(next);
  }
  // MOVED: this one slot now lives on `node` (copy-on-write; readers keep their snapshot).
  void move_slot(std::uint16_t slot, const NodeAddress& node) {
    std::lock_guard lock(mutex);
    if (!current) return;
    const NodeAddress* owner = current->master_for(slot);
    if (owner && *owner == node) return;
    current = std::make_shared<const SlotMap>(current->with_slot(slot, node));
  }
  // Rate limit: true when the caller should read the map now (and must call end_refresh()).
  bool begin_refresh() {
    std::lock_guard lock(mutex);
    Clock::time_point now = Clock::now();
    if (refreshing || now - last_refresh < kMinRefreshGap) return false;
    refreshing = true;
    last_refresh = now;
    return true;
  }
  void end_refresh() {
    std::lock_guard lock(mutex);
    refreshing = false;
  }

  // Where to read CLUSTER SLOTS from: the known masters, then the seed nodes, starting at a
  // different one each time so a dead first node does not make every refresh wait on it.
  std::vector<NodeAddress> candidates(const NodeAddress* avoid) {
    std::vector<NodeAddress> out;
    if (auto m = map()) out = m->masters();
    for (const RedisSeedNode& s : options.cluster_nodes) {
      NodeAddress n{s.host, s.port};
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(std::move(n));
    }
    if (!out.empty()) {
      auto first = static_cast<std::ptrdiff_t>(rotation.fetch_add(1, std::memory_order_relaxed) % out.size());
      std::rotate(out.begin(), out.begin() + first, out.end());
    }
    if (avoid) {
      auto it = std::find(out.begin(), out.end(), *avoid);
      if (it != out.end()) std::rotate(it, it + 1, out.end());  // tried last
    }
    return out;
  }

  // Reads the slot map from the first node that answers, on a connection of its own (so a
  // background refresh never touches a RedisClient that may be gone by then). Returns false when no
  // node answered; never throws.
  static Task<bool> refresh(std::shared_ptr<ClusterShared> self, std::optional<NodeAddress> avoid) {
    auto ex = co_await asio::this_coro::executor;
    std::string last_error = "no cluster node configured";
    for (const NodeAddress& node : self->candidates(avoid ? &*avoid : nullptr)) {
      RedisConnection connection(ex, node_options(self->options, node));
      try {
        RedisReply reply = co_await connection.execute("CLUSTER", "SLOTS");
        if (reply.is_error()) {
          last_error = node.to_string() + " answered " + reply.str;
          continue;
        }
        auto map = std::make_shared<const SlotMap>(SlotMap::from_cluster_slots(reply, node.host));
        if (map->empty()) {
          last_error = node.to_string() + " serves no slots";
          continue;
        }
        self->store(std::move(map));
        self->refreshes.fetch_add(1, std::memory_order_relaxed);
        co_return true;
      } catch (const std::exception& e) {
        last_error = e.what();
      }
    }
    std::lock_guard lock(self->mutex);
    self->last_error = last_error;
    co_return false;
  }

  // A rate-limited refresh in the background: MOVED already fixed the slot at hand.
  static void refresh_soon(const std::shared_ptr<ClusterShared>& self, const asio::any_io_executor& ex,
                           std::optional<NodeAddress> avoid) {
    if (!self->begin_refresh()) return;
    asio::co_spawn(ex, refresh_and_end(self, std::move(avoid)), asio::detached);
  }
  static Task<void> refresh_and_end(std::shared_ptr<ClusterShared> self, std::optional<NodeAddress> avoid) {
    co_await refresh(self, std::move(avoid));
    self->end_refresh();
  }

  const RedisOptions options;
  mutable std::mutex mutex;
  std::shared_ptr<const SlotMap> current;  // null until the first successful read
  Clock::time_point last_refresh{};
  bool refreshing = false;
  std::string last_error;
  std::atomic<std::size_t> rotation{0};
  std::atomic<std::uint64_t> refreshes{0};
};

// One context's connections, keyed by node; touched only on that context's thread.
struct RedisClient::NodeTable {
  RedisConnection& connection(const asio::any_io_executor& ex, const RedisOptions& base, const NodeAddress& node) {
    if (closed) throw domain::DependencyUnavailable("redis", "client closed");
    auto& slot = nodes[node.to_string()];
    if (!slot) slot = std::make_unique<RedisConnection>(ex, node_options(base, node));
    return *slot;
  }
  void close() {
    closed = true;
    for (auto& [name, connection] : nodes) connection->close();
  }

  std::unordered_map<std::string, std::unique_ptr<RedisConnection>> nodes;
  bool closed = false;
};

RedisClient::RedisClient(std::vector<asio::any_io_executor> executors, RedisOptions options)
    : options_(std::move(options)) {
  if (executors.empty()) throw std::invalid_argument("RedisClient needs at least one executor");
  if (options_.cluster()) {
    // The checks every node connection makes, up front rather than at the first command.
    if (options_.connect_timeout.count() <= 0 || options_.command_timeout.count() <= 0 ||
        options_.reconnect_backoff.count() < 0)
      throw std::invalid_argument("redis timeouts must be positive and the reconnect backoff not negative");
    cluster_ = std::make_shared<ClusterShared>(options_);
  }
  connections_.reserve(executors.size());
  for (asio::any_io_executor& ex : executors) {
    const void* context = context_of(ex);
    for (const Entry& e : connections_) {
      if (e.context == context) throw std::invalid_argument("RedisClient given the same io_context twice");
    }
    Entry entry{context, ex, nullptr, nullptr};
    if (cluster_) {
      entry.nodes = std::make_shared<NodeTable>();
    } else {
      entry.connection = std::make_unique<RedisConnection>(std::move(ex), options_);
    }
    connections_.push_back(std::move(entry));
  }
}

namespace {

std::vector<asio::any_io_executor> executors_of(const std::vector<asio::io_context*>& contexts) {
  std::vector<asio::any_io_executor> out;
  out.reserve(contexts.size());
  for (asio::io_context* c : contexts) out.emplace_back(c->get_executor());
  return out;
}

}  // namespace

RedisClient::RedisClient(const std::vector<asio::io_context*>& contexts, RedisOptions options)
    : RedisClient(executors_of(contexts), std::move(options)) {}

RedisClient::~RedisClient() {
  // Node tables may still be referenced by a posted close; the connections close themselves.
  for (Entry& e : connections_) {
    if (!e.nodes) continue;
    asio::post(e.executor, [nodes = e.nodes] { nodes->close(); });
  }
}

namespace {

[[noreturn]] void unknown_context() {
  throw std::logic_error(
      "RedisClient called from an io_context it was not constructed with; a connection must only be "
      "used on its own context's thread");
}

}  // namespace

RedisClient::Entry& RedisClient::entry_for(const asio::any_io_executor& executor) {
  const void* context = context_of(executor);
  for (Entry& e : connections_) {
    if (e.context == context) return e;
  }
  unknown_context();
}

RedisConnection& RedisClient::connection_for(const asio::any_io_executor& executor) const {
  const void* context = context_of(executor);
  for (const Entry& e : connections_) {
    if (e.context != context) continue;
    if (!e.connection) throw std::logic_error("a Redis Cluster client has one connection per node, not per context");
    return *e.connection;
  }
  unknown_context();
}

std::shared_ptr<const SlotMap> RedisClient::slot_map() const {
  return cluster_ ? cluster_->map() : nullptr;
}

Task<std::shared_ptr<const SlotMap>> RedisClient::refresh_slot_map() {
  if (!cluster_) co_return nullptr;
  const std::shared_ptr<ClusterShared> shared = cluster_;
  if (!shared->map()) {
    co_await ClusterShared::refresh(shared, std::nullopt);
  } else if (shared->begin_refresh()) {
    co_await ClusterShared::refresh(shared, std::nullopt);
    shared->end_refresh();
  }
  co_return shared->map();
}

std::uint64_t RedisClient::slot_map_refreshes() const noexcept {
  return cluster_ ? cluster_->refreshes.load(std::memory_order_relaxed) : 0;
}

Task<RedisReply> RedisClient::execute(std::span<const std::string_view> args) {
  Entry& entry = entry_for(co_await asio::this_coro::executor);
  ClusterCall call;
  call.args = args;
  if (cluster_) {
    if (auto key = routing_key(args)) call.slot = key_slot(*key);
  }
  co_return co_await run(entry, call);
}

Task<RedisReply> RedisClient::execute_routed(std::string_view key, std::span<const std::string_view> args) {
  Entry& entry = entry_for(co_await asio::this_coro::executor);
  ClusterCall call;
  call.args = args;
  if (cluster_) call.slot = key_slot(key);
  co_return co_await run(entry, call);
}

Task<RedisReply> RedisClient::evalsha(const RedisScript& script, std::span<const std::string_view> keys,
                                      std::span<const std::string_view> args) {
  Entry& entry = entry_for(co_await asio::this_coro::executor);
  ClusterCall call;
  call.script = &script;
  call.keys = keys;
  call.script_args = args;
  if (cluster_ && !keys.empty()) call.slot = key_slot(keys.front());
  co_return co_await run(entry, call);
}

Task<RedisReply> RedisClient::run(Entry& entry, ClusterCall call) {
  const auto started = Clock::now();
  try {
    RedisReply reply;
    if (cluster_) {
      reply = co_await run_in_cluster(entry, call);
    } else if (call.script) {
      reply = co_await entry.connection->evalsha(*call.script, call.keys, call.script_args);
    } else {
      reply = co_await entry.connection->execute(call.args);
    }
    record(started, reply.is_error());
    co_return reply;
  } catch (...) {
    record(started, true);
    throw;
  }
}

Task<RedisReply> RedisClient::run_in_cluster(Entry& entry, ClusterCall call) {
  const asio::any_io_executor ex = entry.executor;
  const Clock::time_point deadline = Clock::now() + options_.command_timeout;
  std::chrono::milliseconds backoff = kFirstBackoff;
  std::optional<NodeAddress> ask;  // the node of an ASK redirection, for the next attempt only
  asio::steady_timer timer(ex);

  for (int attempt = 1;; ++attempt) {
    std::shared_ptr<const SlotMap> map = cluster_->map();
    if (!map) {
      co_await ClusterShared::refresh(cluster_, std::nullopt);
      map = cluster_->map();
      if (!map) {
        std::lock_guard lock(cluster_->mutex);
        throw RedisNotSent("redis", "no Redis Cluster node answered CLUSTER SLOTS: " + cluster_->last_error);
      }
    }
    NodeAddress node;
    const bool asking = ask.has_value();
    if (ask) {
      node = std::move(*ask);
      ask.reset();
    } else if (const NodeAddress* owner = call.slot ? map->master_for(*call.slot) : nullptr) {
      node = *owner;
    } else {
      // Keyless, or a slot no master serves (that node answers CLUSTERDOWN, retried below): each
      // attempt asks the next master, so a dead one does not fail a PING the others would answer.
      const auto& masters = map->masters();
      node = masters[static_cast<std::size_t>(attempt - 1) % masters.size()];
    }

    RedisConnection& connection = entry.nodes->connection(ex, options_, node);
    RedisReply reply;
    bool unreachable = false;
    try {
      if (call.script) {
        reply = co_await connection.evalsha(*call.script, call.keys, call.script_args, asking);
      } else if (asking) {
        reply = co_await connection.execute_after_asking(call.args);
      } else {
        reply = co_await connection.execute(call.args);
      }
    } catch (const RedisNotSent&) {
      // Never reached the node: resending, even a script, cannot apply it twice.
      if (attempt >= kMaxClusterAttempts || Clock::now() + backoff > deadline) throw;
      unreachable = true;
    } catch (const domain::DependencyUnavailable&) {
      // Sent, and maybe applied: not resent. The node may be dead, so look again for the next call.
      ClusterShared::refresh_soon(cluster_, ex, node);
      throw;
    }

    if (unreachable) {
      stats_.retries.fetch_add(1, std::memory_order_relaxed);
      if (cluster_->begin_refresh()) {
        co_await ClusterShared::refresh(cluster_, node);
        cluster_->end_refresh();
      }
    } else if (!reply.is_error() || attempt >= kMaxClusterAttempts) {
      co_return reply;
    } else if (auto redirect = parse_redirect(reply.str)) {
      if (redirect->node.host.empty()) redirect->node.host = node.host;
      if (redirect->kind == Redirect::Kind::kMoved) {
        stats_.moved.fetch_add(1, std::memory_order_relaxed);
        cluster_->move_slot(redirect->slot, redirect->node);
        ClusterShared::refresh_soon(cluster_, ex, std::nullopt);
      } else {
        stats_.asked.fetch_add(1, std::memory_order_relaxed);
        ask = std::move(redirect->node);
      }
      continue;  // redirections are followed at once
    } else if (!is_transient_cluster_error(reply.str) || Clock::now() + backoff > deadline) {
      co_return reply;
    } else {
      stats_.retries.fetch_add(1, std::memory_order_relaxed);
      if (reply.str.starts_with("CLUSTERDOWN")) ClusterShared::refresh_soon(cluster_, ex, std::nullopt);
    }
    timer.expires_after(backoff);
    co_await timer.async_wait(asio::use_awaitable);
    backoff *= 2;
  }
}

void RedisClient::record(std::chrono::steady_clock::time_point started, bool failed) {
  stats_.latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (failed) stats_.errors.fetch_add(1, std::memory_order_relaxed);
}

Task<void> RedisClient::ping() {
  Entry& entry = entry_for(co_await asio::this_coro::executor);
  if (!cluster_) {
    co_await entry.connection->ping();
    co_return;
  }
  const std::string_view argv[] = {"PING"};
  ClusterCall call;
  call.args = argv;
  RedisReply reply = co_await run(entry, call);
  if (!reply.is_status("PONG")) throw domain::DependencyUnavailable("redis", "PING answered " + reply.to_string());
}

void RedisClient::close_all() {
  for (Entry& e : connections_) {
    if (e.connection) e.connection->close_async();
    if (e.nodes) asio::post(e.executor, [nodes = e.nodes] { nodes->close(); });
  }
}

}  // namespace ticketing::infra::redis
