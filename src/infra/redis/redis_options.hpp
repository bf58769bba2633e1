#pragma once
// Connection settings of the Redis client and the `redis://` URL form they are configured with.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ticketing::infra::redis {

// A Redis Cluster seed node (`redis-cluster://` URLs); the client learns every other node from it.
struct RedisSeedNode {
  std::string host;
  uint16_t port = 6379;
  friend bool operator==(const RedisSeedNode&, const RedisSeedNode&) = default;
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string username;                              // Redis 6 ACL user; empty: AUTH with the password only
  std::string password;                              // empty: no AUTH
  int db = 0;                                        // SELECTed after connecting when not 0
  std::chrono::milliseconds connect_timeout{1000};   // TCP connect + AUTH/SELECT
  std::chrono::milliseconds command_timeout{1000};   // per command, from send (or connect) to reply
  std::chrono::milliseconds reconnect_backoff{200};  // minimum gap between two connect attempts
  // Non-empty: a Redis Cluster with these seed nodes (host/port above are the first one, db is 0).
  std::vector<RedisSeedNode> cluster_nodes;

  bool cluster() const noexcept { return !cluster_nodes.empty(); }
};

// Parses `redis://[[username]:password@]host[:port][/db]` (the config schema's form; port defaults to
// 6379, db to 0). The host may be a name, an IPv4 address or a bracketed IPv6 address (`[::1]`);
// username and password may be percent-encoded (`%40` for '@'). Anything else (other schemes,
// rediss://, a user without password, bad port, db that is not a non-negative integer, query
// strings) throws std::invalid_argument naming the problem; the message never contains the
// password. Timeouts keep their defaults.
// `redis-cluster://[[username]:password@]host[:port][,host[:port]...]` names the seed nodes of a
// Redis Cluster instead (cluster_nodes; no db: a cluster has only database 0).
RedisOptions parse_redis_url(std::string_view url);

// `redis://host:port/db` (or `redis-cluster://host:port,...`), with `user:***@` in place of the credentials: safe to
// log.
std::string redacted_url(const RedisOptions& options);

}  // namespace ticketing::infra::redis
