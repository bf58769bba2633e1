#pragma once
// The pure parts of Redis pub/sub on a subscribed connection: what a push is (a message, a
// subscription confirmed, a subscription ended, a PONG), for classic, pattern and sharded (Redis 7
// SSUBSCRIBE) channels, and where a sharded channel lives. No I/O here, so it is unit-tested.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "infra/redis/redis_cluster_slots.hpp"
#include "infra/redis/redis_reply.hpp"

namespace ticketing::infra::redis {

struct PubSubPush {
  enum class Kind {
    kMessage,       // message / pmessage / smessage: `channel`, `payload`
    kSubscribed,    // subscribe / psubscribe / ssubscribe confirmed for `channel`
    kUnsubscribed,  // unsubscribe / punsubscribe / sunsubscribe, asked for or (sharded) sent by the
                    // server when the slot moved away from the node (migration, failover)
    kPong,          // PING answered on a subscribed (["pong", ""]) or not yet subscribed (+PONG) link
  };
  Kind kind = Kind::kMessage;
  bool sharded = false;  // smessage / ssubscribe / sunsubscribe
  std::string channel;   // the channel (for pmessage: the channel, not the pattern)
  std::string payload;   // kMessage
  long long count = 0;   // kSubscribed / kUnsubscribed: subscriptions left on the connection
};

// nullopt for anything else (error replies included: the caller decides what an error means).
std::optional<PubSubPush> parse_pubsub_push(const RedisReply& reply);

// The master a sharded channel's SSUBSCRIBE/SPUBLISH must go to: the owner of the channel name's
// key slot (its {hash tag}: `seats:{42}` lives with the keys of schedule 42). nullptr when no master
// serves the slot now (a partially covered cluster during a failover).
const NodeAddress* sharded_channel_owner(const SlotMap& map, std::string_view channel) noexcept;

}  // namespace ticketing::infra::redis
