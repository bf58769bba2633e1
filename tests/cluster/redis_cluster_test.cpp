// The Redis client against a real Redis Cluster (3 masters + 3 replicas, scripts/cluster up redis;
// docs/scaling.md "Redis Cluster"): slot routing of the real queue and seat-lock stores, MOVED and
// ASK during a slot migration, and a master killed with kill -9. Skipped unless
// TICKETING_REDIS_CLUSTER_NODES names the cluster's seed nodes (scripts/test sets it).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "domain/errors.hpp"
#include "infra/live/seat_change_publisher.hpp"
#include "infra/live/seat_stream_protocol.hpp"
#include "infra/redis/redis_client.hpp"
#include "infra/redis/redis_cluster_slots.hpp"
#include "infra/redis/redis_queue_store.hpp"
#include "infra/redis/redis_seat_lock_store.hpp"
#include "infra/redis/redis_sharded_subscriber.hpp"
#include "sse_client.hpp"
#include "support.hpp"

namespace ticketing::infra::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::RedisInspector;

std::string cluster_nodes_env() {
  const char* nodes = std::getenv("TICKETING_REDIS_CLUSTER_NODES");
  return nodes ? nodes : "";
}

// One line of CLUSTER NODES.
struct ClusterNode {
  std::string id;
  std::uint16_t port = 0;
  bool master = false;
  bool failed = false;
  std::string master_id;  // of a replica
  std::vector<std::pair<int, int>> ranges;
  bool serves(int slot) const {
    for (auto [a, b] : ranges)
      if (slot >= a && slot <= b) return true;
    return false;
  }
};

RedisInspector node_inspector(std::uint16_t port) {
  return RedisInspector(fmt::format("redis://127.0.0.1:{}", port));
}

// The cluster as some live node sees it.
std::vector<ClusterNode> cluster_view(const std::vector<std::uint16_t>& ask) {
  for (std::uint16_t port : ask) {
    try {
      auto text = node_inspector(port).string({"CLUSTER", "NODES"});
      if (!text) continue;
      std::vector<ClusterNode> out;
      std::istringstream lines(*text);
      for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        std::vector<std::string> f;
        for (std::string x; fields >> x;) f.push_back(x);
        if (f.size() < 8) continue;
        ClusterNode n;
        n.id = f[0];
        n.port = static_cast<std::uint16_t>(std::stoi(f[1].substr(f[1].rfind(':') + 1, f[1].find('@'))));
        n.master = f[2].find("master") != std::string::npos;
        n.failed = f[2].find("fail") != std::string::npos;
        n.master_id = f[3];
        for (std::size_t i = 8; i < f.size(); ++i) {
          if (f[i].starts_with("[")) continue;  // a slot being imported/migrated
          auto dash = f[i].find('-');
          int a = std::stoi(f[i].substr(0, dash));
          n.ranges.emplace_back(a, dash == std::string::npos ? a : std::stoi(f[i].substr(dash + 1)));
        }
        out.push_back(std::move(n));
      }
      return out;
    } catch (const std::exception&) {
      // that node is down; ask the next
    }
  }
  throw std::runtime_error("no cluster node answered CLUSTER NODES");
}

class RedisClusterIT : public ::testing::Test {
 protected:
  void SetUp() override {
    nodes_ = cluster_nodes_env();
    if (nodes_.empty()) {
      GTEST_SKIP() << "TICKETING_REDIS_CLUSTER_NODES is unset: run scripts/cluster up redis and export "
                      "TICKETING_REDIS_CLUSTER_NODES=127.0.0.1:27001,127.0.0.1:27002,127.0.0.1:27003 (scripts/test "
                      "does both)";
    }
    RedisOptions options = parse_redis_url("redis-cluster://" + nodes_);
    for (const auto& seed : options.cluster_nodes) seeds_.push_back(seed.port);
    for (int i = 0; i < 2; ++i) {
      auto& ctx = contexts_.emplace_back(std::make_unique<asio::io_context>());
      guards_.emplace_back(asio::make_work_guard(*ctx));
    }
    for (auto& ctx : contexts_) threads_.emplace_back([c = ctx.get()] { c->run(); });
    client_ =
        std::make_unique<RedisClient>(std::vector<asio::io_context*>{contexts_[0].get(), contexts_[1].get()}, options);
    all_ports_ = ports();
  }

  void TearDown() override {
    if (client_) client_->close_all();
    guards_.clear();
    for (auto& t : threads_) t.join();
    client_.reset();
  }

  // Runs `task` on context `i` and waits for it (bounded: a hang fails the test instead of CI).
  template <typename T>
  T on(int i, asio::awaitable<T> task) {
    std::future<T> f = asio::co_spawn(*contexts_[static_cast<std::size_t>(i)], std::move(task), asio::use_future);
    if (f.wait_for(30s) != std::future_status::ready) throw std::runtime_error("cluster call hung");
    return f.get();
  }

  std::vector<std::uint16_t> ports() const {
    std::vector<std::uint16_t> out;
    for (const auto& n : cluster_view(seeds_)) out.push_back(n.port);
    return out;
  }
  std::vector<ClusterNode> view() const { return cluster_view(all_ports_); }
  ClusterNode master_of(int slot) const {
    for (const auto& n : view())
      if (n.master && !n.failed && n.serves(slot)) return n;
    throw std::runtime_error(fmt::format("no master serves slot {}", slot));
  }
  // Schedule ids not used before (per run), one whose slot is on each master.
  std::vector<std::int64_t> schedules_on_every_master() const {
    std::map<std::uint16_t, std::int64_t> by_master;
    const auto nodes = view();
    std::int64_t id = unique_base();
    std::size_t masters = 0;
    for (const auto& n : nodes) masters += n.master && !n.ranges.empty() ? 1 : 0;
    while (by_master.size() < masters) {
      const int slot = key_slot(std::to_string(++id));
      for (const auto& n : nodes)
        if (n.master && n.serves(slot)) by_master.emplace(n.port, id);
    }
    std::vector<std::int64_t> out;
    for (auto& [port, sid] : by_master) out.push_back(sid);
    return out;
  }
  static std::int64_t unique_base() {
    static std::int64_t next =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count() *
        10;
    return next += 100'000;
  }

  std::string nodes_;
  std::vector<std::uint16_t> seeds_;
  std::vector<std::uint16_t> all_ports_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::unique_ptr<RedisClient> client_;
};

domain::Timestamp now_ms() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

asio::awaitable<RedisReply> exec(RedisClient& client, std::vector<std::string> args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  co_return co_await client.execute(std::span<const std::string_view>(views));
}

// One command on one node, on a connection of its own.
asio::awaitable<RedisReply> node_command(std::uint16_t port, std::vector<std::string> args) {
  RedisOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  RedisConnection connection(co_await asio::this_coro::executor, options);
  std::vector<std::string_view> views(args.begin(), args.end());
  RedisReply reply = co_await connection.execute(std::span<const std::string_view>(views));
  connection.close();
  co_return reply;
}

asio::awaitable<bool> ping(RedisClient& client) {
  co_await client.ping();
  co_return true;
}

asio::awaitable<RedisReply> incr_script(RedisClient& client, const RedisScript& script, std::string key) {
  const std::array<std::string_view, 1> keys{key};
  co_return co_await client.evalsha(script, keys, {});
}

bool replica_in_sync(std::uint16_t port) {
  try {
    const auto info = node_inspector(port).string({"INFO", "replication"});
    return info && info->find("role:slave") != std::string::npos &&
           info->find("master_link_status:up") != std::string::npos;
  } catch (const std::exception&) {
    return false;
  }
}

// A number field of a node's INFO replication (`master_repl_offset`, `slave_repl_offset`); -1 when
// the node does not answer or has no such field.
long long replication_field(std::uint16_t port, std::string_view field) {
  try {
    const auto info = node_inspector(port).string({"INFO", "replication"});
    const std::string name = std::string(field) + ":";
    const auto at = info ? info->find(name) : std::string::npos;
    if (at == std::string::npos) return -1;
    return std::stoll(info->substr(at + name.size()));
  } catch (const std::exception&) {
    return -1;
  }
}

// Waits until `replica` has processed everything `master` had written when this was called: the
// writes a test is about to lose the master over (the service's, on its own connections) are on the
// replica that takes over. (WAIT would only cover the writes of the connection that sends it.)
bool replica_has_everything(std::uint16_t master, std::uint16_t replica) {
  const auto written = replication_field(master, "master_repl_offset");
  return written > 0 && testing::wait_for([&] { return replication_field(replica, "slave_repl_offset") >= written; },
                                          std::chrono::seconds(20), std::chrono::milliseconds(50));
}

// Every arrival waits for a round (no admission on arrival): the tests follow queue positions.
const domain::QueuePolicy kPolicy{2, 1000, std::chrono::hours(1), std::chrono::hours(1), 0, false};

std::string stream_path(std::int64_t schedule) {
  return fmt::format("/schedules/{}/seats/stream", schedule);
}

// The seat map as the database has it (GET /schedules/{id}/seats): what a stream must end up with.
testing::SeatMap seat_map_truth(std::uint16_t port, std::int64_t schedule) {
  const auto body = testing::http(port, "GET", fmt::format("/schedules/{}/seats", schedule)).body;
  const auto value = boost::json::parse(body);
  testing::SeatMap map;
  for (const auto& seat : value.at("seats").as_array()) {
    map[std::string(seat.at("seatNo").as_string())] = std::string(seat.at("status").as_string());
  }
  return map;
}

// Reads `stream` until its map equals `truth` (or `timeout`); returns the id of the last event.
std::int64_t follow_until(testing::SseClient& stream, testing::SeatMap& map, const testing::SeatMap& truth,
                          std::chrono::milliseconds timeout, std::int64_t last_id) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (map != truth && std::chrono::steady_clock::now() < deadline) {
    const auto event = stream.next(200ms);
    if (!event) continue;
    testing::apply_event(map, *event);
    last_id = event->id;
  }
  return last_id;
}

// (a) Schedules on all three masters: the queue and the seat locks of the real stores work on each,
// and their keys land on the master that owns the schedule's slot.
TEST_F(RedisClusterIT, RoutesTheRealStoresToTheMasterOfEachSchedule) {
  const auto schedules = schedules_on_every_master();
  ASSERT_EQ(schedules.size(), 3u);
  RedisQueueStore queue(*client_, kPolicy);
  RedisSeatLockStore locks(*client_);
  int ctx = 0;
  for (std::int64_t sid : schedules) {
    const domain::ScheduleId s{sid};
    ctx = 1 - ctx;  // both contexts, each with its own node connections
    for (std::int64_t user = 1; user <= 3; ++user) {
      const auto place = on(ctx, queue.enter(s, domain::UserId{user}, now_ms(), domain::EnterGate{}));
      EXPECT_EQ(place.position, user) << "schedule " << sid;
    }
    const auto round = on(ctx, queue.admit(s, now_ms()));
    EXPECT_EQ(round.admitted, 2) << "schedule " << sid;
    // (A waiter's first status is paced from its enter: asked as a client following the advice would.)
    const auto third = on(ctx, queue.status(s, domain::UserId{3}, now_ms() + 2s));
    ASSERT_TRUE(third.has_value());
    EXPECT_EQ(third->position, 1);

    const std::vector<std::string> seats{"A1", "A2"};
    EXPECT_TRUE(on(ctx, locks.lock(s, domain::UserId{1}, seats, 10s)).acquired());
    const std::vector<std::string> a2{"A2"};
    EXPECT_EQ(on(1 - ctx, locks.lock(s, domain::UserId{2}, a2, 10s)).conflicts, a2);
    on(ctx, locks.unlock(s, domain::UserId{1}, seats));
    EXPECT_TRUE(on(1 - ctx, locks.lock(s, domain::UserId{2}, a2, 10s)).acquired());

    // The keys are where the cluster says the slot lives.
    const auto owner = master_of(key_slot(std::to_string(sid)));
    auto direct = node_inspector(owner.port);
    EXPECT_EQ(direct.integer({"ZCARD", RedisQueueStore::key(s, "waiting")}), 1);
    EXPECT_EQ(direct.string({"GET", RedisSeatLockStore::key(s, "A2")}), "2");
  }
  const auto queued = on(0, queue.queued_schedules());
  for (std::int64_t sid : schedules) {
    EXPECT_NE(std::find(queued.begin(), queued.end(), domain::ScheduleId{sid}), queued.end()) << sid;
  }
  auto map = client_->slot_map();
  ASSERT_TRUE(map);
  EXPECT_EQ(map->masters().size(), 3u);
  EXPECT_EQ(client_->stats().moved.load(), 0u) << "a fresh map needs no redirection";
  const auto pong = on(1, exec(*client_, {"PING"}));
  EXPECT_TRUE(pong.is_status("PONG"));
}

// The live seat map's fan-out on a cluster is sharded pub/sub: the publisher's script SPUBLISHes
// on the master of each schedule's slot, and one RedisShardedSubscriber SSUBSCRIBEs each channel
// on that same master (one link per master) — no pattern subscription anywhere.
TEST_F(RedisClusterIT, SeatChangesAreShardedToTheMasterOfEachSchedule) {
  const auto schedules = schedules_on_every_master();
  std::mutex mutex;
  std::map<std::string, std::vector<std::string>> heard;  // channel -> payloads
  std::set<std::string> subscribed;
  RedisShardedSubscriber subscriber(
      contexts_[0]->get_executor(), *client_,
      RedisShardedSubscriber::Handlers{[&](std::string_view channel, std::string_view payload) {
                                         std::lock_guard lock(mutex);
                                         heard[std::string(channel)].emplace_back(payload);
                                       },
                                       [&](const std::string& channel) {
                                         std::lock_guard lock(mutex);
                                         subscribed.insert(channel);
                                       }},
      200ms);
  subscriber.start();
  asio::post(*contexts_[0], [&] {
    for (std::int64_t sid : schedules) subscriber.subscribe(live::channel_name(sid, 0));
  });
  ASSERT_TRUE(testing::wait_for(
      [&] {
        std::lock_guard lock(mutex);
        return subscribed.size() == schedules.size();
      },
      5s));
  EXPECT_EQ(subscriber.stats().channels.load(), static_cast<std::int64_t>(schedules.size()));
  EXPECT_EQ(subscriber.stats().connects.load(), schedules.size()) << "one link per master";

  // Each channel is subscribed on its schedule's master only, and nobody uses a pattern.
  for (std::int64_t sid : schedules) {
    const std::string channel = live::channel_name(sid, 0);
    const auto owner = master_of(key_slot(std::to_string(sid)));
    for (const auto& n : view()) {
      if (!n.master || n.failed) continue;
      const auto reply = on(0, node_command(n.port, {"PUBSUB", "SHARDNUMSUB", channel}));
      ASSERT_TRUE(reply.is_array() && reply.elements.size() == 2) << reply.to_string();
      EXPECT_EQ(reply.elements[1].integer, n.port == owner.port ? 1 : 0) << channel << " on :" << n.port;
      EXPECT_EQ(on(0, node_command(n.port, {"PUBSUB", "NUMPAT"})), RedisReply::make_integer(0)) << ":" << n.port;
    }
  }

  live::SeatChangePublisher publisher(*client_, contexts_[1]->get_executor(), live::PublisherSettings{});
  for (std::int64_t sid : schedules) {
    publisher.seat_changed(domain::SeatChanged{domain::ScheduleId{sid}, {"A1"}, domain::SeatChange::kHeld});
    publisher.seat_changed(domain::SeatChanged{domain::ScheduleId{sid}, {"A2"}, domain::SeatChange::kHeld});
  }
  ASSERT_TRUE(publisher.wait_idle(10s));
  EXPECT_EQ(publisher.stats().published.load(), 2 * schedules.size());
  EXPECT_EQ(publisher.stats().failed.load(), 0u);
  EXPECT_TRUE(testing::wait_for(
      [&] {
        std::lock_guard lock(mutex);
        for (std::int64_t sid : schedules)
          if (heard[live::channel_name(sid, 0)].size() != 2) return false;
        return true;
      },
      5s));
  for (std::int64_t sid : schedules) {
    std::lock_guard lock(mutex);
    const auto& payloads = heard[live::channel_name(sid, 0)];
    ASSERT_EQ(payloads.size(), 2u) << sid;
    EXPECT_NE(payloads[0].find(R"("version":1)"), std::string::npos) << payloads[0];
    EXPECT_NE(payloads[1].find(R"("version":2)"), std::string::npos) << payloads[1];
    const auto owner = master_of(key_slot(std::to_string(sid)));
    EXPECT_EQ(node_inspector(owner.port).string({"GET", live::version_key(sid)}), "2");
  }

  // Unsubscribing the last channel of a master closes its link there.
  const std::string first = live::channel_name(schedules.front(), 0);
  const auto first_owner = master_of(key_slot(std::to_string(schedules.front())));
  asio::post(*contexts_[0], [&] { subscriber.unsubscribe(first); });
  EXPECT_TRUE(testing::wait_for(
      [&] {
        const auto r = on(0, node_command(first_owner.port, {"PUBSUB", "SHARDNUMSUB", first}));
        return r.is_array() && r.elements.size() == 2 && r.elements[1].integer == 0;
      },
      5s));
  publisher.stop();
  subscriber.stop();
}

// A slot migrated away from the node a channel is subscribed on: the node ends the subscription
// with a SUNSUBSCRIBE push, and the subscriber subscribes again on the slot's new master.
TEST_F(RedisClusterIT, ShardedSubscriptionFollowsAMigratedSlot) {
  const std::int64_t sid = schedules_on_every_master().front();  // fresh: its slot holds no keys of ours
  const int slot = key_slot(std::to_string(sid));
  const std::string channel = live::channel_name(sid, 0);
  std::mutex mutex;
  std::vector<std::string> heard;
  std::atomic<int> subscriptions{0};
  RedisShardedSubscriber subscriber(contexts_[0]->get_executor(), *client_,
                                    RedisShardedSubscriber::Handlers{[&](std::string_view, std::string_view payload) {
                                                                       std::lock_guard lock(mutex);
                                                                       heard.emplace_back(payload);
                                                                     },
                                                                     [&](const std::string&) { ++subscriptions; }},
                                    200ms);
  subscriber.start();
  asio::post(*contexts_[0], [&] { subscriber.subscribe(channel); });
  ASSERT_TRUE(testing::wait_for([&] { return subscriptions.load() == 1; }, 5s));

  // A second client that read the slot map before the migration (and is not told about it).
  RedisClient stale_client(std::vector<asio::io_context*>{contexts_[1].get()},
                           parse_redis_url("redis-cluster://" + nodes_));
  ASSERT_TRUE(on(1, exec(stale_client, {"PING"})).is_status("PONG"));

  const ClusterNode source = master_of(slot);
  ClusterNode target;
  for (const auto& n : view())
    if (n.master && !n.failed && n.port != source.port && !n.ranges.empty()) target = n;
  ASSERT_NE(target.port, 0);
  auto src = node_inspector(source.port);
  auto dst = node_inspector(target.port);
  ASSERT_EQ(dst.string({"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", source.id}), "OK");
  ASSERT_EQ(src.string({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", target.id}), "OK");
  for (;;) {
    auto keys = src.strings({"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
    if (keys.empty()) break;
    std::vector<std::string> migrate{"MIGRATE", "127.0.0.1", std::to_string(target.port), "", "0", "5000", "KEYS"};
    migrate.insert(migrate.end(), keys.begin(), keys.end());
    ASSERT_EQ(src.string(migrate), "OK");
  }
  ASSERT_EQ(dst.string({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target.id}), "OK");
  ASSERT_EQ(src.string({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target.id}), "OK");
  for (const auto& n : view()) {
    if (n.master && n.port != source.port && n.port != target.port) {
      EXPECT_EQ(node_inspector(n.port).string({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target.id}), "OK");
    }
  }

  ASSERT_TRUE(testing::wait_for([&] { return subscriptions.load() == 2; }, 10s)) << "not subscribed again";
  EXPECT_GE(subscriber.stats().resubscribes.load(), 1u);
  auto shard_subscribers = [&](std::uint16_t port) {
    const auto r = on(0, node_command(port, {"PUBSUB", "SHARDNUMSUB", channel}));
    return r.is_array() && r.elements.size() == 2 ? r.elements[1].integer : -1;
  };
  EXPECT_EQ(shard_subscribers(target.port), 1);
  EXPECT_EQ(shard_subscribers(source.port), 0);

  // A subscriber routing by the stale map sends SSUBSCRIBE to the old owner, which answers MOVED.
  std::atomic<int> stale_subscriptions{0};
  RedisShardedSubscriber follower(contexts_[1]->get_executor(), stale_client,
                                  RedisShardedSubscriber::Handlers{[](std::string_view, std::string_view) {},
                                                                   [&](const std::string&) { ++stale_subscriptions; }},
                                  200ms);
  follower.start();
  EXPECT_EQ(stale_client.slot_map()->master_for(static_cast<std::uint16_t>(slot))->port, source.port);
  asio::post(*contexts_[1], [&] { follower.subscribe(channel); });
  ASSERT_TRUE(testing::wait_for([&] { return stale_subscriptions.load() == 1; }, 5s));
  EXPECT_EQ(follower.stats().redirects.load(), 1u);
  EXPECT_EQ(shard_subscribers(target.port), 2);
  EXPECT_EQ(shard_subscribers(source.port), 0);
  follower.stop();

  live::SeatChangePublisher publisher(*client_, contexts_[1]->get_executor(), live::PublisherSettings{});
  publisher.seat_changed(domain::SeatChanged{domain::ScheduleId{sid}, {"A1"}, domain::SeatChange::kHeld});
  ASSERT_TRUE(publisher.wait_idle(10s));
  EXPECT_TRUE(testing::wait_for(
      [&] {
        std::lock_guard lock(mutex);
        return heard.size() == 1;
      },
      5s));
  std::lock_guard lock(mutex);
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_NE(heard[0].find(R"("version":1)"), std::string::npos) << heard[0];
  publisher.stop();
  subscriber.stop();
  stale_client.close_all();
}

// (a) The live seat map of two instances on the cluster: a hold through one reaches the other's
// stream with the same version, for schedules on two different masters; each instance's feed is
// one sharded subscription on the schedule's master, none uses a pattern.
TEST_F(RedisClusterIT, LiveSeatMapOfTwoInstancesAgreesForSchedulesOnTwoMasters) {
  std::map<std::uint16_t, std::int64_t> by_master;
  for (int i = 0; i < 60 && by_master.size() < 2; ++i) {
    const std::int64_t schedule = testing::create_schedule(-60, 5);
    by_master.emplace(master_of(key_slot(std::to_string(schedule))).port, schedule);
  }
  ASSERT_EQ(by_master.size(), 2u);
  const auto settings =
      testing::with(testing::kFastAdmission, {"redis.url=redis-cluster://" + nodes_, "sse.coalesce=20ms"});
  testing::ServerProcess a(testing::with(settings, {"hold.ttl=5m"}));  // no expiry deltas in between
  testing::ServerProcess b(testing::with(settings, {"hold.ttl=5m"}));
  for (const auto& [owner, schedule] : by_master) {
    testing::SseClient on_a(a.port(), stream_path(schedule));
    testing::SseClient on_b(b.port(), stream_path(schedule));
    ASSERT_EQ(on_a.status(), 200);
    ASSERT_EQ(on_b.status(), 200);
    testing::SeatMap map_a;
    testing::SeatMap map_b;
    const auto first_a = on_a.next(5s);
    const auto first_b = on_b.next(5s);
    ASSERT_TRUE(first_a && first_b);
    EXPECT_EQ(first_a->event, "snapshot");
    EXPECT_EQ(testing::apply_event(map_a, *first_a), testing::apply_event(map_b, *first_b));

    const auto tokens = testing::admit_users(a.port(), schedule, 1, 2);
    ASSERT_EQ(testing::seat_call(a.port(), "/tickets/hold", tokens.at(1), 1, schedule, {"S-1"}).status, 200);
    const auto delta_a = on_a.next(5s);
    const auto delta_b = on_b.next(5s);
    ASSERT_TRUE(delta_a && delta_b) << "schedule " << schedule << " on :" << owner;
    EXPECT_EQ(delta_b->event, "delta");
    EXPECT_EQ(delta_a->id, delta_b->id);
    EXPECT_EQ(delta_a->data, delta_b->data);
    testing::apply_event(map_b, *delta_b);
    EXPECT_EQ(map_b["S-1"], "HELD");

    ASSERT_EQ(testing::seat_call(b.port(), "/tickets/hold", tokens.at(2), 2, schedule, {"S-2"}).status, 200);
    const auto second_a = on_a.next(5s);
    const auto second_b = on_b.next(5s);
    ASSERT_TRUE(second_a && second_b);
    EXPECT_EQ(second_a->id, delta_a->id + 1);
    EXPECT_EQ(second_a->id, second_b->id);
    EXPECT_EQ(second_a->data, second_b->data);

    // Both instances listen on the schedule's master, sharded; no node has a pattern subscription.
    const std::string channel = live::channel_name(schedule, 0);
    const auto reply = on(0, node_command(owner, {"PUBSUB", "SHARDNUMSUB", channel}));
    ASSERT_TRUE(reply.is_array() && reply.elements.size() == 2) << reply.to_string();
    EXPECT_EQ(reply.elements[1].integer, 2) << channel;
    for (const auto& n : view()) {
      if (n.master && !n.failed) {
        EXPECT_EQ(on(0, node_command(n.port, {"PUBSUB", "NUMPAT"})), RedisReply::make_integer(0)) << ":" << n.port;
      }
    }
  }
}

// The whole service with redis.url=redis-cluster://...: health, the waiting room (admission job
// included), holds and the payment to PAID (slot completion, locks, live map) for schedules whose
// slots are on all three masters.
TEST_F(RedisClusterIT, TheServiceQueuesAndHoldsOnEveryMaster) {
  std::map<std::uint16_t, std::int64_t> by_master;
  for (int i = 0; i < 60 && by_master.size() < 3; ++i) {
    const std::int64_t schedule = testing::create_schedule(-60, 5);
    by_master.emplace(master_of(key_slot(std::to_string(schedule))).port, schedule);
  }
  ASSERT_EQ(by_master.size(), 3u);
  testing::ServerProcess server(testing::with(testing::kFastAdmission, {"redis.url=redis-cluster://" + nodes_}));
  EXPECT_EQ(testing::http(server.port(), "GET", "/actuator/health").status, 200);
  for (const auto& [port, schedule] : by_master) {
    const auto tokens = testing::admit_users(server.port(), schedule, 1, 2);
    const auto held = testing::seat_call(server.port(), "/tickets/hold", tokens.at(1), 1, schedule, {"S-1", "S-2"});
    EXPECT_EQ(held.status, 200) << held.raw;
    const auto taken = testing::seat_call(server.port(), "/tickets/hold", tokens.at(2), 2, schedule, {"S-2"});
    EXPECT_EQ(taken.status, 409) << taken.raw;
    EXPECT_EQ(testing::conflicting_seats(taken), std::vector<std::string>{"S-2"});
    auto direct = node_inspector(port);
    EXPECT_EQ(direct.string({"GET", RedisSeatLockStore::key(domain::ScheduleId{schedule}, "S-1")}), "1")
        << "the lock is on the master of schedule " << schedule;
    // Pay: ready, the gateway's signed callback, then PAID through Kafka and the confirmation.
    const auto order = testing::seat_call(server.port(), "/payment/ready", tokens.at(1), 1, schedule, {"S-1", "S-2"},
                                          {{"Idempotency-Key", fmt::format("cluster-{}", schedule)}});
    ASSERT_EQ(order.status, 201) << order.raw;
    const std::string order_no(boost::json::parse(order.body).at("orderNo").as_string());
    const std::string callback = fmt::format(R"({{"orderNo":"{}"}})", order_no);
    const auto paid = testing::http(
        server.port(), "POST", "/payment/mock-success", callback,
        {{"Content-Type", "application/json"}, {"Gateway-Signature", testing::gateway_signature(callback)}});
    ASSERT_EQ(paid.status, 202) << paid.raw;
    EXPECT_TRUE(testing::wait_for(
        [&] {
          const auto r = testing::http(server.port(), "GET", "/payment/" + order_no, "", testing::as_user(1));
          return r.status == 200 && boost::json::parse(r.body).at("status").as_string() == "PAID";
        },
        std::chrono::seconds(30)))
        << "order " << order_no << " of schedule " << schedule << " never became PAID";
  }
  const auto metrics = testing::http(server.port(), "GET", "/actuator/prometheus");
  EXPECT_NE(metrics.body.find("ticketing_redis_cluster_slot_map_refreshes_total "), std::string::npos);
  EXPECT_NE(metrics.body.find(R"(ticketing_redis_cluster_redirections_total{kind="moved"} 0)"), std::string::npos)
      << "a fresh map routes everything right the first time";
}

// (b) A slot migrated from one master to another while the client uses it: ASK for a moved key
// during the migration (map unchanged), MOVED afterwards (map follows), and the data stays.
TEST_F(RedisClusterIT, FollowsAskDuringASlotMigrationAndMovedAfterIt) {
  const std::int64_t sid = schedules_on_every_master().front();
  const domain::ScheduleId s{sid};
  const int slot = key_slot(std::to_string(sid));
  RedisQueueStore queue(*client_, kPolicy);
  RedisSeatLockStore locks(*client_);
  const std::vector<std::string> a1{"A1"};
  const std::vector<std::string> a1_b1{"A1", "B1"};
  ASSERT_TRUE(on(0, locks.lock(s, domain::UserId{1}, a1_b1, 60s)).acquired());
  ASSERT_EQ(on(0, queue.enter(s, domain::UserId{1}, now_ms(), domain::EnterGate{})).position, 1);

  const ClusterNode source = master_of(slot);
  ClusterNode target;
  for (const auto& n : view())
    if (n.master && !n.failed && n.port != source.port && !n.ranges.empty()) target = n;
  ASSERT_NE(target.port, 0);
  auto src = node_inspector(source.port);
  auto dst = node_inspector(target.port);
  ASSERT_EQ(dst.string({"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", source.id}), "OK");
  ASSERT_EQ(src.string({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", target.id}), "OK");
  const std::string lock_key = RedisSeatLockStore::key(s, "A1");
  ASSERT_EQ(src.string({"MIGRATE", "127.0.0.1", std::to_string(target.port), "", "0", "5000", "KEYS", lock_key}), "OK");

  // The moved key: the source answers ASK, the client asks the target behind ASKING.
  const auto asked_before = client_->stats().asked.load();
  EXPECT_EQ(on(1, exec(*client_, {"GET", lock_key})), RedisReply::make_string("1"));
  // A key that exists nowhere yet is created on the importing node (ASK as well).
  const std::string fresh = RedisSeatLockStore::key(s, "Z9");
  EXPECT_TRUE(on(0, exec(*client_, {"SET", fresh, "7"})).is_status("OK"));
  EXPECT_EQ(dst.string({"ASKING"}), "OK");
  EXPECT_EQ(dst.string({"GET", fresh}), "7");
  EXPECT_GE(client_->stats().asked.load(), asked_before + 2);
  EXPECT_EQ(client_->slot_map()->master_for(static_cast<std::uint16_t>(slot))->port, source.port)
      << "ASK is for one command; the map stays";

  // A script over A1 (moved) and B1 (not yet): the source answers TRYAGAIN for as long as the slot
  // is split; the client backs off and retries, and the call completes once the migration is done.
  const auto retries_before = client_->stats().retries.load();
  const auto moved_before = client_->stats().moved.load();
  std::future<domain::SeatLockResult> split =
      asio::co_spawn(*contexts_[1], locks.lock(s, domain::UserId{3}, a1_b1, 60s), asio::use_future);
  ASSERT_TRUE(testing::wait_for([&] { return client_->stats().retries.load() > retries_before; }, 2s, 1ms));

  // Finish: the remaining keys, then the slot's new owner on every master.
  for (;;) {
    auto keys = src.strings({"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
    if (keys.empty()) break;
    std::vector<std::string> migrate{"MIGRATE", "127.0.0.1", std::to_string(target.port), "", "0", "5000", "KEYS"};
    migrate.insert(migrate.end(), keys.begin(), keys.end());
    ASSERT_EQ(src.string(migrate), "OK");
  }
  ASSERT_EQ(dst.string({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target.id}), "OK");
  ASSERT_EQ(src.string({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target.id}), "OK");
  for (const auto& n : view()) {
    if (n.master && n.port != source.port && n.port != target.port)
      node_inspector(n.port).string({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target.id});
  }

  ASSERT_EQ(split.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(split.get().conflicts, a1_b1) << "the retried script ran once the slot had moved";

  // The client believed the source: it got MOVED (for the retried script), followed it and fixed its
  // map; the queue and the locks moved with the slot.
  const auto second = on(1, queue.enter(s, domain::UserId{2}, now_ms(), domain::EnterGate{}));
  EXPECT_EQ(second.position, 2) << "the queue moved with its slot";
  EXPECT_EQ(on(0, locks.lock(s, domain::UserId{2}, a1, 60s)).conflicts, a1) << "the lock moved with its slot";
  EXPECT_GE(client_->stats().moved.load(), moved_before + 1);
  EXPECT_EQ(client_->slot_map()->master_for(static_cast<std::uint16_t>(slot))->port, target.port);
  EXPECT_EQ(dst.integer({"ZCARD", RedisQueueStore::key(s, "waiting")}), 2);
}

// (c) kill -9 of the master serving a schedule: after the replica took over, commands and scripts
// succeed again (scripts re-sent with EVAL: the new master's script cache is empty), and the data
// written before the kill is there. Restores the cluster (the killed node rejoins as a replica).
TEST_F(RedisClusterIT, RecoversAfterAMasterIsKilled) {
  const std::int64_t sid = schedules_on_every_master().back();
  const domain::ScheduleId s{sid};
  const int slot = key_slot(std::to_string(sid));
  RedisQueueStore queue(*client_, kPolicy);
  const auto probe = RedisScript::from_source("return redis.call('INCR', KEYS[1])");
  const std::string probe_key = fmt::format("probe:{{{}}}", sid);
  ASSERT_EQ(on(0, queue.enter(s, domain::UserId{1}, now_ms(), domain::EnterGate{})).position, 1);
  ASSERT_EQ(on(0, incr_script(*client_, probe, probe_key)), RedisReply::make_integer(1));

  const ClusterNode victim = master_of(slot);
  ClusterNode replica;
  for (const auto& n : view())
    if (!n.master && n.master_id == victim.id && !n.failed) replica = n;
  ASSERT_NE(replica.port, 0) << "the master has no replica to fail over to";
  // The replica must be in sync (a node restarted by an earlier run may still be resyncing), and
  // have the writes above, so the failover keeps them.
  ASSERT_TRUE(testing::wait_for([&] { return replica_in_sync(replica.port); }, 20s, 100ms));
  auto victim_cli = node_inspector(victim.port);
  ASSERT_TRUE(replica_has_everything(victim.port, replica.port))
      << "replica " << replica.port << " did not catch up with " << victim.port;
  auto cached_on = [&](std::uint16_t port) {
    const auto r = on(0, node_command(port, {"SCRIPT", "EXISTS", probe.sha1}));
    return r.is_array() && r.elements.size() == 1 ? r.elements[0].integer : -1;
  };
  EXPECT_EQ(cached_on(victim.port), 1);
  EXPECT_EQ(cached_on(replica.port), 0) << "the script cache is not replicated";

  const auto pid_text = victim_cli.string({"INFO", "server"});
  ASSERT_TRUE(pid_text);
  const auto at = pid_text->find("process_id:");
  ASSERT_NE(at, std::string::npos);
  const pid_t pid = static_cast<pid_t>(std::stol(pid_text->substr(at + 11)));
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);

  // The health check (a keyless PING) moves on to another master long before the failover is over.
  EXPECT_TRUE(testing::wait_for(
      [&] {
        try {
          on(0, ping(*client_));
          return true;
        } catch (const domain::DependencyUnavailable&) {
          return false;
        }
      },
      1500ms, 20ms));

  // Poll with real commands until one succeeds; failures meanwhile are DependencyUnavailable
  // (never a wrong answer).
  std::int64_t user = 1;
  int failures = 0;
  std::optional<std::chrono::milliseconds> recovered_after;
  std::string last_failure;
  ASSERT_TRUE(testing::wait_for(
      [&] {
        try {
          const auto place = on(1, queue.enter(s, domain::UserId{user + 1}, now_ms(), domain::EnterGate{}));
          ++user;
          EXPECT_EQ(place.position, user) << "the queue kept its order across the failover";
          recovered_after =
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
          return true;
        } catch (const domain::DependencyUnavailable& e) {
          ++failures;
          last_failure = e.what();
          return false;
        }
      },
      30s, 50ms))
      << "no success within 30 s after kill -9; last error: " << last_failure;
  std::printf("[ figures ] master :%u killed: first successful queue script after %lld ms (%d failed calls)\n",
              victim.port, static_cast<long long>(recovered_after->count()), failures);
  EXPECT_EQ(master_of(slot).port, replica.port) << "the replica took the slot over";
  // The script cache is per node: the new master learns the script through the EVAL fallback.
  EXPECT_EQ(on(0, incr_script(*client_, probe, probe_key)), RedisReply::make_integer(2));
  EXPECT_EQ(cached_on(replica.port), 1);
  EXPECT_EQ(on(1, exec(*client_, {"GET", probe_key})), RedisReply::make_string("2"));

  // Restore: restart the killed node (scripts/cluster); it rejoins as a replica of the new master,
  // and the next test may kill a master again only once that replica is in sync.
  const char* root = std::getenv("TICKETING_TEST_ROOT");
  ASSERT_NE(root, nullptr);
  ASSERT_EQ(std::system(fmt::format("'{}/scripts/cluster' restart redis-master >/dev/null", root).c_str()), 0);
  EXPECT_TRUE(testing::wait_for(
      [&] {
        for (const auto& n : view())
          if (n.port == victim.port) return !n.master && n.master_id == replica.id && !n.failed;
        return false;
      },
      30s, 100ms))
      << "the killed node did not rejoin as a replica of " << replica.port;
  EXPECT_TRUE(testing::wait_for([&] { return replica_in_sync(victim.port); }, 30s, 100ms));
}

// (c) The master of a watched schedule's slot is killed (kill -9; its replica is promoted in about
// 4 s): the instance's sharded subscription moves to the new master, the catch-up after the
// resubscription fills what was published meanwhile, and the stream ends with the database's map.
TEST_F(RedisClusterIT, LiveSeatMapResumesAfterTheMasterOfItsSlotIsKilled) {
  const std::int64_t schedule = testing::create_schedule(-60, 8);
  const int slot = key_slot(std::to_string(schedule));
  const ClusterNode victim = master_of(slot);
  ClusterNode replica;
  for (const auto& n : view())
    if (!n.master && n.master_id == victim.id && !n.failed) replica = n;
  ASSERT_NE(replica.port, 0) << "the master has no replica to fail over to";
  ASSERT_TRUE(testing::wait_for([&] { return replica_in_sync(replica.port); }, 20s, 100ms));

  const auto settings =
      testing::with(testing::kFastAdmission, {"redis.url=redis-cluster://" + nodes_, "sse.coalesce=20ms"});
  testing::ServerProcess a(testing::with(settings, {"hold.ttl=5m"}));  // no expiry during the failover
  testing::ServerProcess b(settings);
  testing::SseClient stream(b.port(), stream_path(schedule));
  ASSERT_EQ(stream.status(), 200);
  testing::SeatMap map;
  const auto first = stream.next(5s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->event, "snapshot");
  std::int64_t last_id = testing::apply_event(map, *first);
  const auto tokens = testing::admit_users(a.port(), schedule, 1, 4);
  ASSERT_EQ(testing::seat_call(a.port(), "/tickets/hold", tokens.at(1), 1, schedule, {"S-1"}).status, 200);
  last_id = follow_until(stream, map, seat_map_truth(a.port(), schedule), 5s, last_id);
  ASSERT_EQ(map["S-1"], "HELD");

  auto victim_cli = node_inspector(victim.port);
  // The replica has the version counter and the admitted users' slots.
  ASSERT_TRUE(replica_has_everything(victim.port, replica.port))
      << "replica " << replica.port << " did not catch up with " << victim.port;
  const auto info = victim_cli.string({"INFO", "server"});
  ASSERT_TRUE(info);
  const auto at = info->find("process_id:");
  ASSERT_NE(at, std::string::npos);
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(static_cast<pid_t>(std::stol(info->substr(at + 11))), SIGKILL), 0);
  ASSERT_TRUE(testing::wait_for(
      [&] {
        try {
          return master_of(slot).port == replica.port;
        } catch (const std::exception&) {
          return false;  // no master serves the slot during the election
        }
      },
      30s, 100ms))
      << "the replica did not take the slot over";

  // Changes right after the promotion (the subscriber may still be on its way to the new master:
  // those it misses come from the history once it has resubscribed). A hold is retried while the
  // service still reaches the dead node (503).
  for (std::int64_t user = 2; user <= 4; ++user) {
    const std::string seat = fmt::format("S-{}", user);
    std::string last;
    EXPECT_TRUE(testing::wait_for(
        [&] {
          const auto held = testing::seat_call(a.port(), "/tickets/hold", tokens.at(user), user, schedule, {seat});
          last = held.raw;
          return held.status == 200;
        },
        30s, 200ms))
        << "last answer " << last;
  }
  // GET /schedules/{id}/seats may answer from a short-lived cache: wait for it to show the holds.
  testing::SeatMap truth;
  EXPECT_TRUE(testing::wait_for(
      [&] {
        truth = seat_map_truth(a.port(), schedule);
        for (int i = 1; i <= 4; ++i)
          if (truth.at(fmt::format("S-{}", i)) != "HELD") return false;
        return true;
      },
      10s, 100ms))
      << fmt::format("{}", truth);
  last_id = follow_until(stream, map, truth, 20s, last_id);
  const auto caught_up =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
  EXPECT_EQ(map, truth) << "the stream's map is the database's";
  EXPECT_EQ(node_inspector(replica.port).string({"GET", live::version_key(schedule)}), std::to_string(last_id))
      << "the stream is at the schedule's current version";
  // How the stream's instance caught up (a gap filled from the history, or a fresh snapshot when the
  // subscriber was back before the first change after the promotion: then nothing was missed).
  const auto metrics = testing::http(b.port(), "GET", "/actuator/prometheus").body;
  auto metric = [&](const std::string& name) {
    const auto at = metrics.find("\n" + name + " ");
    return at == std::string::npos
               ? std::string("?")
               : metrics.substr(at + name.size() + 2, metrics.find('\n', at + 1) - at - name.size() - 2);
  };
  std::printf(
      "[ figures ] master :%u killed: the stream on another instance had every later change %lld ms after "
      "(gap fills %s, resnapshots %s)\n",
      victim.port, static_cast<long long>(caught_up.count()), metric("ticketing_sse_gap_fills_total").c_str(),
      metric("ticketing_sse_resnapshots_total").c_str());
  // B follows the schedule on the new master.
  const auto reply = on(0, node_command(replica.port, {"PUBSUB", "SHARDNUMSUB", live::channel_name(schedule, 0)}));
  ASSERT_TRUE(reply.is_array() && reply.elements.size() == 2);
  EXPECT_GE(reply.elements[1].integer, 1);
  // And keeps hearing it live: one more change arrives as a delta of the next version.
  testing::SeatMap before = map;
  const auto tokens5 = testing::admit_users(a.port(), schedule, 5, 1);
  ASSERT_EQ(testing::seat_call(a.port(), "/tickets/hold", tokens5.at(5), 5, schedule, {"S-5"}).status, 200);
  const auto live_delta = stream.next(5s);
  ASSERT_TRUE(live_delta.has_value());
  EXPECT_EQ(live_delta->event, "delta");
  EXPECT_EQ(live_delta->id, last_id + 1);

  // Restore: the killed node rejoins as a replica of the new master (scripts/cluster).
  const char* root = std::getenv("TICKETING_TEST_ROOT");
  ASSERT_NE(root, nullptr);
  ASSERT_EQ(std::system(fmt::format("'{}/scripts/cluster' restart redis-master >/dev/null", root).c_str()), 0);
  EXPECT_TRUE(testing::wait_for(
      [&] {
        for (const auto& n : view())
          if (n.port == victim.port) return !n.master && n.master_id == replica.id && !n.failed;
        return false;
      },
      30s, 100ms))
      << "the killed node did not rejoin as a replica of " << replica.port;
  EXPECT_TRUE(testing::wait_for([&] { return replica_in_sync(victim.port); }, 30s, 100ms));
}

}  // namespace
}  // namespace ticketing::infra::redis
