#include "infra/redis/redis_pubsub.hpp"

namespace ticketing::infra::redis {

std::optional<PubSubPush> parse_pubsub_push(const RedisReply& reply) {
  if (reply.is_status("PONG")) return PubSubPush{PubSubPush::Kind::kPong, false, {}, {}, 0};
  if (!reply.is_array() || reply.elements.empty() || !reply.elements[0].is_string()) return std::nullopt;
  const auto& e = reply.elements;
  const std::string_view kind = e[0].str;
  const auto text = [&](std::size_t i) { return e[i].is_string() || e[i].is_status(); };
  if (kind == "pong") return PubSubPush{PubSubPush::Kind::kPong, false, {}, {}, 0};
  if ((kind == "message" || kind == "smessage") && e.size() == 3 && text(1) && text(2)) {
    return PubSubPush{PubSubPush::Kind::kMessage, kind == "smessage", e[1].str, e[2].str, 0};
  }
  if (kind == "pmessage" && e.size() == 4 && text(2) && text(3)) {
    return PubSubPush{PubSubPush::Kind::kMessage, false, e[2].str, e[3].str, 0};
  }
  if (e.size() == 3 && e[2].is_integer() && (text(1) || e[1].is_nil())) {
    const bool sharded = kind == "ssubscribe" || kind == "sunsubscribe";
    const std::string_view bare = sharded ? kind.substr(1) : kind;
    if (bare == "subscribe" || bare == "psubscribe") {
      return PubSubPush{PubSubPush::Kind::kSubscribed, sharded, e[1].str, {}, e[2].integer};
    }
    if (bare == "unsubscribe" || bare == "punsubscribe") {
      return PubSubPush{PubSubPush::Kind::kUnsubscribed, sharded, e[1].str, {}, e[2].integer};
    }
  }
  return std::nullopt;
}

const NodeAddress* sharded_channel_owner(const SlotMap& map, std::string_view channel) noexcept {
  return map.master_for(key_slot(channel));
}

}  // namespace ticketing::infra::redis
