// Classic vs sharded pub/sub of the live seat map on a Redis Cluster (docs/scaling.md "Redis
// Cluster"): the publisher's script with PUBLISH and with SPUBLISH, run for schedules on every
// master through the routing client (`--inflight` calls in flight). Prints, per mode, the publishes
// per second and what the cluster did per publish: bus messages carrying it (CLUSTER INFO
// cluster_stats_messages_publish_sent + _publishshard_sent, summed over all nodes) and bytes the
// nodes wrote to clients and replicas (INFO total_net_output_bytes + total_net_repl_output_bytes,
// summed; Redis does not count cluster-bus bytes).
//
//   sharded_pubsub_bench --nodes 127.0.0.1:27101,127.0.0.1:27102,127.0.0.1:27103 [--publishes 20000] [--inflight 64]
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "infra/live/seat_change_publisher.hpp"
#include "infra/live/seat_stream_protocol.hpp"
#include "infra/redis/redis_client.hpp"
#include "infra/redis/redis_cluster_slots.hpp"
#include "infra/redis/redis_options.hpp"

using namespace ticketing;
using namespace ticketing::infra;
namespace asio = boost::asio;

namespace {

struct Args {
  std::string nodes;
  int publishes = 20000;
  int inflight = 64;
};

// A field of an INFO-style text ("name:value" lines); 0 when absent.
std::int64_t field(const std::string& text, const std::string& name) {
  const auto at = text.find(name + ":");
  return at == std::string::npos ? 0 : std::stoll(text.substr(at + name.size() + 1));
}

asio::awaitable<std::string> node_text(std::string host, std::uint16_t port, std::vector<std::string> args) {
  redis::RedisOptions options;
  options.host = host;
  options.port = port;
  redis::RedisConnection connection(co_await asio::this_coro::executor, options);
  std::vector<std::string_view> views(args.begin(), args.end());
  const auto reply = co_await connection.execute(std::span<const std::string_view>(views));
  connection.close();
  co_return reply.str;
}

struct Totals {
  std::int64_t bus_messages = 0;
  std::int64_t bytes = 0;
};

asio::awaitable<Totals> totals(std::vector<redis::NodeAddress> nodes) {
  Totals t;
  for (const auto& n : nodes) {
    std::vector<std::string> cluster_info{"CLUSTER", "INFO"};
    std::vector<std::string> info_stats{"INFO", "stats"};
    const auto cluster = co_await node_text(n.host, n.port, std::move(cluster_info));
    const auto stats = co_await node_text(n.host, n.port, std::move(info_stats));
    t.bus_messages += field(cluster, "cluster_stats_messages_publish_sent") +
                      field(cluster, "cluster_stats_messages_publishshard_sent");
    t.bytes += field(stats, "total_net_output_bytes") + field(stats, "total_net_repl_output_bytes");
  }
  co_return t;
}

// Every node of the cluster (masters and replicas), from CLUSTER NODES of the first seed.
asio::awaitable<std::vector<redis::NodeAddress>> all_nodes(redis::RedisSeedNode seed) {
  std::vector<std::string> cluster_nodes{"CLUSTER", "NODES"};
  const auto text = co_await node_text(seed.host, seed.port, std::move(cluster_nodes));
  std::vector<redis::NodeAddress> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id;
    std::string address;
    fields >> id >> address;
    std::string flags;
    fields >> flags;
    if (flags.find("fail") != std::string::npos || address.empty()) continue;
    const auto colon = address.rfind(':', address.find('@'));
    out.push_back({address.substr(0, colon),
                   static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1, address.find('@') - colon - 1)))});
  }
  co_return out;
}

asio::awaitable<void> worker(redis::RedisClient& client, const redis::RedisScript& script,
                             const std::vector<std::int64_t>& schedules, int first, int count, int step) {
  const std::string changes = R"([{"seatNo":"A-1","status":"HELD"}])";
  for (int i = first; i < count; i += step) {
    const std::int64_t sid = schedules[static_cast<std::size_t>(i) % schedules.size()];
    const std::string key_storage[] = {live::version_key(sid), live::log_key(sid)};
    const std::string channel = live::channel_name(sid, 0);
    const std::string_view keys[] = {key_storage[0], key_storage[1]};
    const std::string_view argv[] = {channel, "1024", "3600000", changes};
    const auto reply = co_await client.evalsha(script, keys, argv);
    if (!reply.is_integer()) throw std::runtime_error("publish failed: " + reply.to_string());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    if (name == "--nodes") args.nodes = argv[i + 1];
    if (name == "--publishes") args.publishes = std::atoi(argv[i + 1]);
    if (name == "--inflight") args.inflight = std::atoi(argv[i + 1]);
  }
  if (args.nodes.empty()) {
    std::cerr << "usage: sharded_pubsub_bench --nodes host:port,... [--publishes N] [--inflight N]\n";
    return 2;
  }
  const auto options = redis::parse_redis_url("redis-cluster://" + args.nodes);
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  redis::RedisClient client(std::vector<asio::io_context*>{&io}, options);
  auto run = [&](auto task) { return asio::co_spawn(io, std::move(task), asio::use_future).get(); };
  run([&]() -> asio::awaitable<void> { co_await client.execute("PING"); }());
  const auto map = client.slot_map();
  const auto nodes = run(all_nodes(options.cluster_nodes.front()));
  // One schedule per master, fresh ids.
  std::vector<std::int64_t> schedules;
  std::set<std::string> seen;
  const std::int64_t base = std::chrono::system_clock::now().time_since_epoch().count() / 1000 % 1'000'000'000;
  for (std::int64_t id = base; seen.size() < map->masters().size(); ++id) {
    if (seen.insert(map->master_for(redis::key_slot(std::to_string(id)))->to_string()).second) schedules.push_back(id);
  }
  fmt::print("cluster: {} nodes, {} masters; schedules {} (one per master); {} publishes per mode, {} in flight\n",
             nodes.size(), map->masters().size(), fmt::join(schedules, ", "), args.publishes, args.inflight);
  for (const bool sharded : {false, true}) {
    const auto& script = live::SeatChangePublisher::script(sharded);
    const Totals before = run(totals(nodes));
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::future<void>> done;
    for (int w = 0; w < args.inflight; ++w) {
      done.push_back(
          asio::co_spawn(io, worker(client, script, schedules, w, args.publishes, args.inflight), asio::use_future));
    }
    for (auto& f : done) f.get();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const Totals after = run(totals(nodes));
    fmt::print(
        "[ figures ] {:9}: {:8.0f} publishes/s; per publish: {:.2f} cluster-bus messages, {:.0f} bytes written by the "
        "nodes\n",
        sharded ? "SPUBLISH" : "PUBLISH", args.publishes / seconds,
        static_cast<double>(after.bus_messages - before.bus_messages) / args.publishes,
        static_cast<double>(after.bytes - before.bytes) / args.publishes);
  }
  client.close_all();
  guard.reset();
  io.stop();
  io_thread.join();
  return 0;
}
