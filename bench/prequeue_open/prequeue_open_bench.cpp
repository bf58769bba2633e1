// bench/prequeue-open's driver (DESIGN.md §15, issue 17): N users in one schedule's pre-queue,
// opened at once by two racing openers (each with its own Redis connection and thread, as two
// workers). Prints the time to read the pre-queue, compute the HMAC order, and apply it (the one
// Lua script), that exactly one opener applied it, and the order check: the waiting line equals
// the order recomputed from the revealed seed, SHA-256(seed) equals the commitment, and the
// revealed MAC list is sorted.
//
//   prequeue_open_bench --redis redis://127.0.0.1:16379/9 [--users 100000] [--schedule 990001] [--runs 1]
#include <fmt/format.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "application/fair_start.hpp"
#include "domain/ports/clock.hpp"
#include "infra/redis/redis_client.hpp"
#include "infra/redis/redis_options.hpp"
#include "infra/redis/redis_prequeue_store.hpp"
#include "infra/redis/redis_queue_store.hpp"
#include "infra/security/sodium_fairness_crypto.hpp"

using namespace ticketing;

namespace {

class NoCatalog final : public domain::CatalogRepository {
 public:
  Task<std::vector<domain::Concert>> list_concerts() override { co_return std::vector<domain::Concert>{}; }
  Task<std::optional<std::vector<domain::Schedule>>> list_schedules(domain::ConcertId) override {
    co_return std::nullopt;
  }
  Task<std::optional<domain::Schedule>> find_schedule(domain::ScheduleId) override { co_return std::nullopt; }
  Task<std::optional<domain::SeatMap>> seat_map(domain::ScheduleId) override { co_return std::nullopt; }
  Task<domain::SeatLayoutSeats> seat_layout(domain::ScheduleId) override { co_return nullptr; }
  Task<std::vector<domain::PriceTier>> price_tiers(domain::ScheduleId) override {
    co_return std::vector<domain::PriceTier>{};
  }
};

struct Worker {
  explicit Worker(const infra::redis::RedisOptions& options)
      : redis(std::vector<boost::asio::io_context*>{&io}, options), store(redis) {
    thread = std::thread([this] { io.run(); });
  }
  ~Worker() {
    redis.close_all();
    work.reset();
    io.stop();
    thread.join();
  }
  template <typename T>
  T run(Task<T> task) {
    return boost::asio::co_spawn(io, std::move(task), boost::asio::use_future).get();
  }
  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  infra::redis::RedisClient redis;
  infra::redis::RedisPrequeueStore store;
  std::thread thread;
};

double ms(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

Task<void> reset_and_fill(infra::redis::RedisClient& redis, domain::ScheduleId schedule, std::int64_t users) {
  for (const char* suffix : {"pre", "fair", "waiting", "heartbeat", "seq", "active", "settings", "stats"}) {
    const auto key = infra::redis::RedisQueueStore::key(schedule, suffix);
    co_await redis.execute("DEL", key);
  }
  // Setup, not measured: the pre-queue as enter leaves it (member user id, score arrival sequence).
  const auto pre = infra::redis::RedisQueueStore::key(schedule, "pre");
  for (std::int64_t first = 1; first <= users; first += 1000) {
    std::vector<std::string> texts{"ZADD", pre};
    for (auto user = first; user < first + 1000 && user <= users; ++user) {
      texts.push_back(std::to_string(user));
      texts.push_back(std::to_string(user));
    }
    const std::vector<std::string_view> args(texts.begin(), texts.end());
    co_await redis.execute(args);
  }
  const auto seq = infra::redis::RedisQueueStore::key(schedule, "seq");
  const auto count = std::to_string(users);
  co_await redis.execute("SET", seq, count);
}

Task<std::vector<std::string>> waiting_line(infra::redis::RedisClient& redis, domain::ScheduleId schedule) {
  const auto waiting = infra::redis::RedisQueueStore::key(schedule, "waiting");
  const auto reply = co_await redis.execute("ZRANGE", waiting, "0", "-1");
  std::vector<std::string> users;
  for (const auto& element : reply.elements) users.push_back(element.str);
  co_return users;
}

// The newest SLOWLOG entry's id (Redis logs every command slower than slowlog-log-slower-than,
// 10 ms by default), so a run looks only at entries logged after it started.
Task<long long> newest_slowlog_id(infra::redis::RedisClient& redis) {
  const auto reply = co_await redis.execute("SLOWLOG", "GET", "1");
  if (reply.elements.empty() || reply.elements[0].elements.empty()) co_return -1;
  co_return reply.elements[0].elements[0].integer;
}

// The longest EVALSHA (or EVAL: the first call after a script change) on this schedule's keys
// logged after entry `after`, in µs: the time Redis served nobody else.
Task<std::optional<long long>> script_time(infra::redis::RedisClient& redis, domain::ScheduleId schedule,
                                           long long after) {
  const auto reply = co_await redis.execute("SLOWLOG", "GET", "128");
  const auto fair = infra::redis::RedisQueueStore::key(schedule, "fair");
  std::optional<long long> longest;
  for (const auto& entry : reply.elements) {
    if (entry.elements.size() < 4 || entry.elements[0].integer <= after) continue;
    const auto& args = entry.elements[3].elements;
    if (args.size() < 4 || (args[0].str != "EVALSHA" && args[0].str != "EVAL") || args[3].str != fair) continue;
    longest = std::max(longest.value_or(0), entry.elements[2].integer);
  }
  co_return longest;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = "redis://127.0.0.1:16379/9";
  std::int64_t users = 100'000;
  std::int64_t schedule_id = 990'001;
  int runs = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--redis")
      url = argv[i + 1];
    else if (flag == "--users")
      users = std::stoll(argv[i + 1]);
    else if (flag == "--schedule")
      schedule_id = std::stoll(argv[i + 1]);
    else if (flag == "--runs")
      runs = std::stoi(argv[i + 1]);
    else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  const auto options = infra::redis::parse_redis_url(url);
  const domain::ScheduleId schedule{schedule_id};
  NoCatalog catalog;
  domain::SystemClock clock;
  infra::security::SodiumFairnessCrypto crypto;
  int failures = 0;

  for (int run = 1; run <= runs; ++run) {
    Worker setup(options);
    setup.run(reset_and_fill(setup.redis, schedule, users));
    Worker worker_a(options);
    Worker worker_b(options);
    application::FairStart fair_a(worker_a.store, catalog, crypto, clock);
    application::FairStart fair_b(worker_b.store, catalog, crypto, clock);

    std::atomic<bool> go{false};
    application::OpeningReport report_a, report_b;
    const auto start = std::chrono::steady_clock::now();
    const auto slowlog_before = setup.run(newest_slowlog_id(setup.redis));
    // A client-side timeout (the script still runs to its end in Redis) counts as "not applied by
    // this opener"; the order check below then shows whether it was applied.
    std::thread a([&] {
      while (!go.load()) std::this_thread::yield();
      try {
        report_a = worker_a.run(fair_a.open(schedule));
      } catch (const std::exception& error) {
        fmt::print("  opener A: {}\n", error.what());
      }
    });
    std::thread b([&] {
      while (!go.load()) std::this_thread::yield();
      try {
        report_b = worker_b.run(fair_b.open(schedule));
      } catch (const std::exception& error) {
        fmt::print("  opener B: {}\n", error.what());
      }
    });
    go.store(true);
    a.join();
    b.join();
    const auto wall = std::chrono::steady_clock::now() - start;
    const int applied = int(report_a.applied.applied) + int(report_b.applied.applied);
    const auto& winner = report_a.applied.applied ? report_a : report_b;

    // The check, as a fan or auditor would do it: from the reveal alone.
    const auto reveal_start = std::chrono::steady_clock::now();
    const auto state = setup.run(setup.store.state(schedule, /*with_order=*/true));
    const auto reveal_time = std::chrono::steady_clock::now() - reveal_start;
    const auto line = setup.run(waiting_line(setup.redis, schedule));
    std::vector<std::string> problems;
    if (applied != 1) problems.push_back(fmt::format("{} openers applied the shuffle (expected exactly 1)", applied));
    if (!state.seed || !state.applied_at) {
      problems.push_back("no reveal recorded");
    } else {
      const domain::FairnessReveal reveal{domain::to_hex(crypto.sha256(domain::as_bytes_view(*state.seed))),
                                          domain::to_hex(*state.seed), state.order, state.pre_queued};
      const auto verdict = domain::verify_fairness(reveal, crypto);
      problems.insert(problems.end(), verdict.problems.begin(), verdict.problems.end());
      std::vector<domain::FairnessEntry> expected;
      expected.reserve(static_cast<std::size_t>(users));
      for (std::int64_t user = 1; user <= users; ++user) {
        expected.push_back({domain::UserId{user}, crypto.hmac_sha256(*state.seed, std::to_string(user))});
      }
      domain::sort_fair_order(expected);
      if (line.size() != expected.size()) {
        problems.push_back(fmt::format("waiting line has {} users, expected {}", line.size(), expected.size()));
      } else {
        for (std::size_t i = 0; i < expected.size(); ++i) {
          if (line[i] != std::to_string(expected[i].user.value) || state.order[i] != domain::to_hex(expected[i].mac)) {
            problems.push_back(fmt::format("place {} differs from the recomputed order", i + 1));
            break;
          }
        }
      }
    }
    fmt::print("run {}: {} pre-queued users opened by 2 racing openers: applied by {} (expected 1)\n", run, users,
               applied);
    fmt::print(
        "  read pre-queue {:.1f} ms, compute {} HMACs + sort {:.1f} ms, apply (one Lua script) {:.1f} ms, "
        "total {:.1f} ms; both openers done after {:.1f} ms\n",
        ms(winner.read_time), users, ms(winner.compute_time), ms(winner.apply_time),
        ms(winner.read_time + winner.compute_time + winner.apply_time), ms(wall));
    const auto busy = setup.run(script_time(setup.redis, schedule, slowlog_before));
    if (busy) {
      fmt::print("  Redis busy with the apply script (SLOWLOG, execution only): {:.1f} ms\n", *busy / 1000.0);
    }
    fmt::print("  reveal read back: {} MACs ({:.1f} MB) in {:.1f} ms\n", state.order.size(),
               static_cast<double>(state.order.size()) * 65 / 1e6, ms(reveal_time));
    if (problems.empty()) {
      fmt::print(
          "  order check: OK (waiting line == order recomputed from the revealed seed; SHA-256(seed) == "
          "commitment; MACs sorted)\n");
    } else {
      for (const auto& problem : problems) fmt::print("  order check: FAILED: {}\n", problem);
      ++failures;
    }
    for (const char* suffix : {"fair", "waiting", "heartbeat", "seq"}) {
      const auto key = infra::redis::RedisQueueStore::key(schedule, suffix);
      setup.run(setup.redis.execute("DEL", key));
    }
  }
  return failures == 0 ? 0 : 1;
}
