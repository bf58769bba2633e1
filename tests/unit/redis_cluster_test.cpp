// Redis Cluster routing without a cluster: key slots, routing keys, MOVED/ASK parsing, the slot map
// from a CLUSTER SLOTS reply and the redis-cluster:// URL.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "infra/redis/redis_cluster_slots.hpp"
#include "infra/redis/redis_options.hpp"
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

}  // namespace
}  // namespace ticketing::infra::redis
