#pragma once
// The pure parts of Redis Cluster routing (SCALE-OUT.md §1): the key slot of a key, which argument
// of a command is its key, the MOVED/ASK redirections and the slot map read from CLUSTER SLOTS.
// No I/O here, so all of it is unit-tested without a cluster.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "infra/redis/redis_reply.hpp"

namespace ticketing::infra::redis {

inline constexpr int kClusterSlots = 16384;

// CRC16/XMODEM of the key's hash tag (the part between the first '{' and the next '}', when that
// part is not empty) or of the whole key, mod 16384: Redis' CLUSTER KEYSLOT.
std::uint16_t key_slot(std::string_view key) noexcept;

// The key a command is routed by: args[1] for ordinary key commands (and the channel of
// PUBLISH/SPUBLISH), the first key (args[3]) of EVAL/EVALSHA/FCALL; nullopt for keyless commands
// (PING, INFO, CLUSTER ..., SCRIPT ..., an EVAL with no keys), which may go to any node.
std::optional<std::string_view> routing_key(std::span<const std::string_view> args) noexcept;

struct NodeAddress {
  std::string host;
  std::uint16_t port = 0;

  std::string to_string() const;  // host:port
  friend bool operator==(const NodeAddress&, const NodeAddress&) = default;
};

// `MOVED 3444 127.0.0.1:27001` / `ASK 3444 127.0.0.1:27002`. Redis 7 may leave the host out
// (`:27001`) when the node does not know its own address: the host is then empty and the caller
// uses the host of the node that answered.
struct Redirect {
  enum class Kind { kMoved, kAsk };
  Kind kind = Kind::kMoved;
  std::uint16_t slot = 0;
  NodeAddress node;
};
// nullopt for anything that is not a well-formed MOVED/ASK error text.
std::optional<Redirect> parse_redirect(std::string_view error) noexcept;

// Error replies after which the same command is retried on the same slot after a short backoff:
// the cluster is failing over (CLUSTERDOWN) or migrating the slot of a multi-key command (TRYAGAIN).
bool is_transient_cluster_error(std::string_view error) noexcept;

// Which master serves each slot. Immutable once built; RedisClient swaps whole snapshots.
class SlotMap {
 public:
  // From a CLUSTER SLOTS reply: [[start, end, [host, port, id, ...], replica...], ...]. An empty host
  // (the node does not know its address) becomes `queried_host`. Throws std::runtime_error on a
  // reply of any other shape.
  static SlotMap from_cluster_slots(const RedisReply& reply, std::string_view queried_host);

  // The master of `slot`, or nullptr when no node serves it (a partially covered cluster).
  const NodeAddress* master_for(std::uint16_t slot) const noexcept;
  // Every master, each once (the map's nodes, the candidates for a refresh or a keyless command).
  const std::vector<NodeAddress>& masters() const noexcept { return masters_; }
  bool empty() const noexcept { return masters_.empty(); }

  // A copy with `slot` moved to `node` (what a MOVED reply says), until the next full refresh.
  SlotMap with_slot(std::uint16_t slot, const NodeAddress& node) const;

 private:
  static constexpr std::uint16_t kNoNode = 0xFFFF;
  std::uint16_t index_of(const NodeAddress& node);

  std::vector<NodeAddress> masters_;
  std::vector<std::uint16_t> owner_ = std::vector<std::uint16_t>(kClusterSlots, kNoNode);  // index into masters_
};

}  // namespace ticketing::infra::redis
