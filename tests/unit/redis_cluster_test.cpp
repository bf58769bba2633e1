// Redis Cluster routing without a cluster: key slots, routing keys, MOVED/ASK parsing, the slot map
// from a CLUSTER SLOTS reply, the redis-cluster:// URL, and the pure parts of (sharded) pub/sub.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "infra/redis/redis_cluster_slots.hpp"
#include "infra/redis/redis_options.hpp"
#include "infra/redis/redis_pubsub.hpp"
#include "infra/redis/redis_reply.hpp"

namespace ticketing::infra::redis {
namespace {

using R = RedisReply;

// Values answered by `CLUSTER KEYSLOT` on redis-server 7.0.15 (SCALE-OUT.md §1) and the
// cluster specification's CRC16 check value.
TEST(RedisClusterSlots, KeySlotMatchesRedis) {
  EXPECT_EQ(key_slot("queue:{1}:waiting"), 9842);
  EXPECT_EQ(key_slot("seat:lock:{1}:A1"), 9842);
  EXPECT_EQ(key_slot("seat:lock:{1}:B7"), 9842);
  EXPECT_EQ(key_slot("queue:{2}:waiting"), 5649);
  EXPECT_EQ(key_slot("queue:schedules"), 1923);
  EXPECT_EQ(key_slot("{s:1}:a"), 3444);
  EXPECT_EQ(key_slot("{s:1}:b"), 3444);
  EXPECT_EQ(key_slot("123456789"), 0x31C3 % 16384);  // CRC16/XMODEM check value 0x31C3
}

TEST(RedisClusterSlots, HashTagRule) {
  // Only the first '{' counts, up to the next '}'; an empty tag means the whole key.
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  EXPECT_EQ(key_slot("{bar}"), key_slot("bar"));
  EXPECT_NE(key_slot("foo{}{bar}"), key_slot("bar"));
  EXPECT_EQ(key_slot("foo{}{bar}"), key_slot(std::string_view("foo{}{bar}")));
  EXPECT_NE(key_slot("{}x"), key_slot("x"));
  EXPECT_EQ(key_slot("no-close{abc"), key_slot("no-close{abc"));
  EXPECT_LT(key_slot(""), 16384);
}

TEST(RedisClusterSlots, RoutingKeyOfACommand) {
  auto key_of = [](std::vector<std::string_view> args) { return routing_key(args); };
  EXPECT_EQ(key_of({"GET", "a"}), "a");
  EXPECT_EQ(key_of({"set", "k", "v", "PX", "10"}), "k");
  EXPECT_EQ(key_of({"SMEMBERS", "queue:schedules"}), "queue:schedules");
  EXPECT_EQ(key_of({"PUBLISH", "seats:{1}", "m"}), "seats:{1}");
  EXPECT_EQ(key_of({"EVALSHA", "abc", "2", "queue:{1}:a", "queue:{1}:b", "x"}), "queue:{1}:a");
  EXPECT_EQ(key_of({"eval", "return 1", "1", "k"}), "k");
  EXPECT_EQ(key_of({"EVAL", "return 1", "0"}), std::nullopt);
  EXPECT_EQ(key_of({"EVAL", "return 1", "x", "k"}), std::nullopt);
  EXPECT_EQ(key_of({"PING"}), std::nullopt);
  EXPECT_EQ(key_of({"ping", "hello"}), std::nullopt);
  EXPECT_EQ(key_of({"CLUSTER", "SLOTS"}), std::nullopt);
  EXPECT_EQ(key_of({"SCRIPT", "FLUSH"}), std::nullopt);
  EXPECT_EQ(key_of({"INFO", "server"}), std::nullopt);
}

TEST(RedisClusterSlots, ParsesMovedAndAsk) {
  auto moved = parse_redirect("MOVED 3444 127.0.0.1:27001");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, Redirect::Kind::kMoved);
  EXPECT_EQ(moved->slot, 3444);
  EXPECT_EQ(moved->node, (NodeAddress{"127.0.0.1", 27001}));

  auto ask = parse_redirect("ASK 16383 redis-2.internal:6380");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, Redirect::Kind::kAsk);
  EXPECT_EQ(ask->slot, 16383);
  EXPECT_EQ(ask->node, (NodeAddress{"redis-2.internal", 6380}));

  auto v6 = parse_redirect("MOVED 1 ::1:7000");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->node, (NodeAddress{"::1", 7000}));
  EXPECT_EQ(v6->node.to_string(), "[::1]:7000");

  auto no_host = parse_redirect("MOVED 7 :7001");  // the node does not know its address
  ASSERT_TRUE(no_host);
  EXPECT_EQ(no_host->node, (NodeAddress{"", 7001}));

  for (const char* bad : {"MOVED", "MOVED 1", "MOVED x 127.0.0.1:1", "MOVED 16384 h:1", "MOVED 1 h", "MOVED 1 h:0",
                          "MOVED 1 h:70000", "ASK 1 h:", "ERR MOVED 1 h:1", "TRYAGAIN Multiple keys", "moved 1 h:1"}) {
    EXPECT_FALSE(parse_redirect(bad)) << bad;
  }
}

TEST(RedisClusterSlots, TransientErrors) {
  EXPECT_TRUE(is_transient_cluster_error("TRYAGAIN Multiple keys request during rehashing of slot"));
  EXPECT_TRUE(is_transient_cluster_error("CLUSTERDOWN The cluster is down"));
  EXPECT_FALSE(is_transient_cluster_error("CROSSSLOT Keys in request don't hash to the same slot"));
  EXPECT_FALSE(is_transient_cluster_error("MOVED 1 h:1"));
  EXPECT_FALSE(is_transient_cluster_error("NOSCRIPT No matching script"));
}

R node(std::string host, long long port, std::string id) {
  return R::make_array({R::make_string(std::move(host)), R::make_integer(port), R::make_string(std::move(id))});
}
R range(long long start, long long end, R master, R replica) {
  return R::make_array({R::make_integer(start), R::make_integer(end), std::move(master), std::move(replica)});
}

// The shape redis-server 7.0 answers (three masters with one replica each, one master with two
// ranges), as `redis-cli --cluster create` lays out 3 masters + 3 replicas.
R three_masters() {
  return R::make_array({
      range(0, 5460, node("127.0.0.1", 27001, "a"), node("127.0.0.1", 27005, "e")),
      range(5461, 10922, node("127.0.0.1", 27002, "b"), node("127.0.0.1", 27006, "f")),
      range(10923, 16000, node("127.0.0.1", 27003, "c"), node("127.0.0.1", 27004, "d")),
      range(16001, 16383, node("127.0.0.1", 27003, "c"), node("127.0.0.1", 27004, "d")),
  });
}

TEST(RedisClusterSlots, SlotMapFromClusterSlots) {
  SlotMap map = SlotMap::from_cluster_slots(three_masters(), "127.0.0.1");
  ASSERT_EQ(map.masters().size(), 3u) << "a master with two ranges is one node";
  EXPECT_EQ(*map.master_for(0), (NodeAddress{"127.0.0.1", 27001}));
  EXPECT_EQ(*map.master_for(3444), (NodeAddress{"127.0.0.1", 27001}));
  EXPECT_EQ(*map.master_for(5460), (NodeAddress{"127.0.0.1", 27001}));
  EXPECT_EQ(*map.master_for(5461), (NodeAddress{"127.0.0.1", 27002}));
  EXPECT_EQ(*map.master_for(9842), (NodeAddress{"127.0.0.1", 27002}));
  EXPECT_EQ(*map.master_for(16001), (NodeAddress{"127.0.0.1", 27003}));
  EXPECT_EQ(*map.master_for(16383), (NodeAddress{"127.0.0.1", 27003}));
  EXPECT_EQ(map.master_for(16384), nullptr);

  // MOVED: one slot changes owner in a copy; the original snapshot stays as it was.
  SlotMap moved = map.with_slot(3444, NodeAddress{"127.0.0.1", 27002});
  EXPECT_EQ(*moved.master_for(3444), (NodeAddress{"127.0.0.1", 27002}));
  EXPECT_EQ(*moved.master_for(3443), (NodeAddress{"127.0.0.1", 27001}));
  EXPECT_EQ(*map.master_for(3444), (NodeAddress{"127.0.0.1", 27001}));
  SlotMap new_node = map.with_slot(1, NodeAddress{"127.0.0.1", 27007});
  EXPECT_EQ(new_node.masters().size(), 4u);
}

TEST(RedisClusterSlots, PartialCoverageAndUnknownHost) {
  R reply = R::make_array({range(100, 200, node("", 7000, "a"), node("10.0.0.2", 7001, "b"))});
  SlotMap map = SlotMap::from_cluster_slots(reply, "10.0.0.1");
  EXPECT_EQ(map.master_for(99), nullptr);
  EXPECT_EQ(map.master_for(201), nullptr);
  ASSERT_NE(map.master_for(150), nullptr);
  EXPECT_EQ(*map.master_for(150), (NodeAddress{"10.0.0.1", 7000})) << "empty host: the node we asked";
  EXPECT_TRUE(SlotMap::from_cluster_slots(R::make_array({}), "h").empty());
}

TEST(RedisClusterSlots, RejectsMalformedClusterSlots) {
  std::vector<R> bad = {
      R::make_error("ERR This instance has cluster support disabled"),
      R::make_array({R::make_integer(1)}),
      R::make_array({R::make_array({R::make_integer(0), R::make_integer(1)})}),
      R::make_array({range(5, 1, node("h", 1, "a"), node("h", 2, "b"))}),
      R::make_array({range(0, 16384, node("h", 1, "a"), node("h", 2, "b"))}),
      R::make_array({range(0, 1, node("h", 0, "a"), node("h", 2, "b"))}),
      R::make_array({range(0, 1, R::make_array({R::make_string("h")}), node("h", 2, "b"))}),
  };
  for (const R& reply : bad) {
    EXPECT_THROW(SlotMap::from_cluster_slots(reply, "h"), std::runtime_error) << reply.to_string();
  }
}

TEST(RedisClusterUrl, SeedNodes) {
  RedisOptions o = parse_redis_url("redis-cluster://127.0.0.1:27001,127.0.0.1:27002,[::1]:27003,cache");
  ASSERT_TRUE(o.cluster());
  ASSERT_EQ(o.cluster_nodes.size(), 4u);
  EXPECT_EQ(o.cluster_nodes[0], (RedisSeedNode{"127.0.0.1", 27001}));
  EXPECT_EQ(o.cluster_nodes[2], (RedisSeedNode{"::1", 27003}));
  EXPECT_EQ(o.cluster_nodes[3], (RedisSeedNode{"cache", 6379}));
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 27001);
  EXPECT_EQ(o.db, 0);
  EXPECT_EQ(redacted_url(o), "redis-cluster://127.0.0.1:27001,127.0.0.1:27002,[::1]:27003,cache:6379");

  RedisOptions auth = parse_redis_url("redis-cluster://app:s%40cret@h1:1,h2:2");
  EXPECT_EQ(auth.username, "app");
  EXPECT_EQ(auth.password, "s@cret");
  EXPECT_EQ(redacted_url(auth), "redis-cluster://app:***@h1:1,h2:2");

  EXPECT_FALSE(parse_redis_url("redis://h:1").cluster()) << "single node stays the default";
}

TEST(RedisClusterUrl, RejectsBadSeedLists) {
  for (const char* url :
       {"redis-cluster://", "redis-cluster://h:1,", "redis-cluster://,h:1", "redis-cluster://h:1/0",
        "redis-cluster://h:0", "redis-cluster://h:1,h:x", "redis-cluster://:pw@", "redis-cluster://h?x"}) {
    try {
      parse_redis_url(url);
      ADD_FAILURE() << "accepted " << url;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("invalid Redis URL"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("pw"), std::string::npos) << e.what();
    }
  }
}

R push(std::vector<R> items) {
  return R::make_array(std::move(items));
}

TEST(RedisPubSub, ParsesMessagesOfEveryKind) {
  auto m = parse_pubsub_push(push({R::make_string("smessage"), R::make_string("seats:{42}"), R::make_string("{}")}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, PubSubPush::Kind::kMessage);
  EXPECT_TRUE(m->sharded);
  EXPECT_EQ(m->channel, "seats:{42}");
  EXPECT_EQ(m->payload, "{}");

  m = parse_pubsub_push(push({R::make_string("message"), R::make_string("c"), R::make_string("p")}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, PubSubPush::Kind::kMessage);
  EXPECT_FALSE(m->sharded);

  m = parse_pubsub_push(
      push({R::make_string("pmessage"), R::make_string("seats:*"), R::make_string("seats:{7}"), R::make_string("x")}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->channel, "seats:{7}") << "the channel, not the pattern";
  EXPECT_EQ(m->payload, "x");
}

TEST(RedisPubSub, ParsesSubscriptionsAndTheServersSunsubscribe) {
  auto s = parse_pubsub_push(push({R::make_string("ssubscribe"), R::make_string("seats:{42}"), R::make_integer(3)}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, PubSubPush::Kind::kSubscribed);
  EXPECT_TRUE(s->sharded);
  EXPECT_EQ(s->channel, "seats:{42}");
  EXPECT_EQ(s->count, 3);

  // What a node sends by itself when the slot leaves it (migration, demoted by a failover).
  auto u = parse_pubsub_push(push({R::make_string("sunsubscribe"), R::make_string("seats:{42}"), R::make_integer(0)}));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, PubSubPush::Kind::kUnsubscribed);
  EXPECT_TRUE(u->sharded);
  EXPECT_EQ(u->count, 0);

  auto classic = parse_pubsub_push(push({R::make_string("subscribe"), R::make_string("c"), R::make_integer(1)}));
  ASSERT_TRUE(classic);
  EXPECT_EQ(classic->kind, PubSubPush::Kind::kSubscribed);
  EXPECT_FALSE(classic->sharded);
  auto pattern = parse_pubsub_push(push({R::make_string("punsubscribe"), R::make_string("s*"), R::make_integer(0)}));
  ASSERT_TRUE(pattern);
  EXPECT_EQ(pattern->kind, PubSubPush::Kind::kUnsubscribed);
  EXPECT_FALSE(pattern->sharded);
}

TEST(RedisPubSub, PongsAndAnythingElse) {
  EXPECT_EQ(parse_pubsub_push(push({R::make_string("pong"), R::make_string("")}))->kind, PubSubPush::Kind::kPong);
  EXPECT_EQ(parse_pubsub_push(R::make_status("PONG"))->kind, PubSubPush::Kind::kPong);
  EXPECT_FALSE(parse_pubsub_push(R::make_status("OK")));
  EXPECT_FALSE(parse_pubsub_push(R::make_error("MOVED 1 127.0.0.1:27002")));
  EXPECT_FALSE(parse_pubsub_push(push({})));
  EXPECT_FALSE(parse_pubsub_push(push({R::make_string("smessage"), R::make_string("c")})));
  EXPECT_FALSE(parse_pubsub_push(push({R::make_string("ssubscribe"), R::make_string("c"), R::make_string("1")})));
  EXPECT_FALSE(parse_pubsub_push(push({R::make_integer(1), R::make_string("c"), R::make_integer(1)})));
}

// A schedule's channel is routed like its keys: to the master of the {sid} slot.
TEST(RedisPubSub, ShardedChannelGoesToTheMasterOfItsHashTag) {
  SlotMap map = SlotMap::from_cluster_slots(three_masters(), "127.0.0.1");
  EXPECT_EQ(key_slot("seats:{1}"), key_slot("seats:{1}:version"));
  for (std::string_view channel : {"seats:{1}", "seats:{2}", "seats:{42}", "db5:seats:{42}"}) {
    const NodeAddress* owner = sharded_channel_owner(map, channel);
    ASSERT_NE(owner, nullptr) << channel;
    EXPECT_EQ(*owner, *map.master_for(key_slot(channel))) << channel;
  }
  EXPECT_EQ(*sharded_channel_owner(map, "seats:{1}"), (NodeAddress{"127.0.0.1", 27002}));  // slot 9842
  EXPECT_EQ(*sharded_channel_owner(map, "seats:{2}"), (NodeAddress{"127.0.0.1", 27002}));  // slot 5649
  // After MOVED for the slot, the channel follows it.
  SlotMap moved = map.with_slot(key_slot("seats:{42}"), NodeAddress{"127.0.0.1", 27009});
  EXPECT_EQ(*sharded_channel_owner(moved, "seats:{42}"), (NodeAddress{"127.0.0.1", 27009}));
  // A slot no master serves (partial coverage during a failover): nothing to subscribe to yet.
  const R partial = R::make_array({range(0, 100, node("127.0.0.1", 27001, "a"), node("127.0.0.1", 27005, "e"))});
  EXPECT_EQ(sharded_channel_owner(SlotMap::from_cluster_slots(partial, "h"), "seats:{1}"), nullptr);
}

}  // namespace
}  // namespace ticketing::infra::redis
