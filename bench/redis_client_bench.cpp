// Pipelined throughput of the Redis client: many coroutines per io_context running the queue-enter
// shaped script (ZADD NX + ZRANK) through EVALSHA against the real Redis at TICKETING_REDIS_URL
// (default redis://127.0.0.1:16379). MACHINE.md ceilings on this box: ~83k/s unpipelined,
// ~172k/s with 16-deep pipelining (redis-benchmark style, one client).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "infra/redis/redis_client.hpp"

namespace {

namespace asio = boost::asio;
using namespace ticketing;
using namespace ticketing::infra::redis;

constexpr int kOpsPerIteration = 50'000;
constexpr int kMembers = 100'000;  // bounds the ZSET so ZRANK cost stays flat across runs

class IoThreads {
 public:
  explicit IoThreads(int n) {
    for (int i = 0; i < n; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
    for (auto& c : contexts_) threads_.emplace_back([ctx = c.get()] { ctx->run(); });
  }
  ~IoThreads() {
    guards_.clear();
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) t.join();
  }
  asio::io_context& operator[](std::size_t i) { return *contexts_[i]; }
  std::size_t size() const { return contexts_.size(); }
  std::vector<asio::any_io_executor> executors() {
    std::vector<asio::any_io_executor> out;
    for (auto& c : contexts_) out.emplace_back(c->get_executor());
    return out;
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

RedisOptions bench_options() {
  const char* url = std::getenv("TICKETING_REDIS_URL");
  return parse_redis_url(url != nullptr && *url != '\0' ? url : "redis://127.0.0.1:16379");
}

const RedisScript& enter_script() {
  static const RedisScript script = RedisScript::from_source(
      "redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2])\n"
      "return redis.call('ZRANK', KEYS[1], ARGV[2])");
  return script;
}

Task<void> worker(RedisClient& client, const std::string& key, std::atomic<int>& next, std::atomic<int>& errors,
                  std::latch& done) {
  char score[16];
  char member[16];
  for (int i; (i = next.fetch_add(1, std::memory_order_relaxed)) < kOpsPerIteration;) {
    std::string_view keys[] = {key};
    std::string_view args[] = {
        std::string_view(score, std::to_chars(score, score + sizeof score, i).ptr - score),
        std::string_view(member, std::to_chars(member, member + sizeof member, i % kMembers).ptr - member)};
    try {
      RedisReply r = co_await client.evalsha(enter_script(), keys, args);
      if (!r.is_integer()) errors.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception&) {
      errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
  done.count_down();
}

Task<RedisReply> del(RedisClient& client, std::string key) {
  co_return co_await client.execute("DEL", key);
}

// range(0): io_context threads; range(1): concurrent coroutines in total.
void BM_RedisEvalshaPipelined(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int concurrency = static_cast<int>(state.range(1));
  IoThreads io(threads);
  RedisClient client(io.executors(), bench_options());
  const std::string key = "bench:redis:{" + std::to_string(::getpid()) + "}:queue";
  for (std::size_t c = 0; c < io.size(); ++c) {
    try {
      asio::co_spawn(io[c], client.ping(), asio::use_future).get();
    } catch (const std::exception& e) {
      state.SkipWithError(
          (std::string("Redis not reachable at ") + redacted_url(client.options()) + ": " + e.what()).c_str());
      return;
    }
  }

  int errors_total = 0;
  for (auto _ : state) {
    std::atomic<int> next{0};
    std::atomic<int> errors{0};
    std::latch done(concurrency);
    for (int w = 0; w < concurrency; ++w) {
      asio::co_spawn(io[static_cast<std::size_t>(w) % io.size()], worker(client, key, next, errors, done),
                     asio::detached);
    }
    done.wait();
    errors_total += errors.load();
  }
  asio::co_spawn(io[0], del(client, key), asio::use_future).get();
  client.close_all();
  if (errors_total != 0) {
    state.SkipWithError((std::to_string(errors_total) + " commands failed").c_str());
    return;
  }
  state.SetItemsProcessed(state.iterations() * kOpsPerIteration);
}

BENCHMARK(BM_RedisEvalshaPipelined)
    ->ArgNames({"threads", "coroutines"})
    ->Args({2, 256})
    ->Args({1, 256})
    ->Args({2, 32})
    ->Args({1, 1})
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
