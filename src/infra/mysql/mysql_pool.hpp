#pragma once
// A bounded pool of blocking MariaDB connections that I/O threads can await without blocking.
//
// `pool-size` worker threads each own one connection (thread_local), so a unit of work runs on one
// connection start to finish and needs no locking. Work waiting for a worker is bounded by
// `max-queue` (beyond it: 503 at once) and by `pool-wait-timeout` (work that waited longer is
// failed instead of run late). Connections are opened lazily and re-opened after errors.
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>

#include "domain/async.hpp"
#include "domain/errors.hpp"
#include "infra/mysql/mysql_connection.hpp"

namespace ticketing::infra::mysql {

// What a MysqlError that leaves a unit of work means for its caller: domain::Contention (409 +
// Retry-After for a request; retried by background work) for a deadlock (or lock wait) the work's
// own retries did not get past, DependencyUnavailable (503) for a lost connection; null for any
// other error, which the caller sees as it is.
std::exception_ptr as_unavailable(const MysqlError& error);

struct PoolOptions {
  int size = 16;
  int max_queue = 1024;
  std::chrono::milliseconds wait_timeout{2000};
  // Sessions with autocommit off (see MysqlConnection): for pools whose work is transactions.
  bool implicit_transactions = false;
};

struct PoolStats {
  int size;
  int busy;
  int queued;
  std::uint64_t connects;
  std::uint64_t rejected;
  std::uint64_t wait_micros_total;
  std::uint64_t acquired;
};

class MysqlPool {
 public:
  MysqlPool(DbEndpoint endpoint, PoolOptions options);
  ~MysqlPool();
  MysqlPool(const MysqlPool&) = delete;
  MysqlPool& operator=(const MysqlPool&) = delete;

  // Runs `work(MysqlConnection&)` on a pool thread and resumes the caller on its own executor
  // with the result. Throws domain::DependencyUnavailable("db", ...) when the database cannot be
  // reached or the pool is saturated; other exceptions from `work` propagate unchanged.
  //
  // `work` must be a named object (it is moved from): GCC 12 destroys non-trivial temporaries
  // inside a co_await expression twice, so `co_await pool.run([..]{..})` with captures that own
  // memory corrupts the heap. Write `auto work = [..]{..}; co_await pool.run(work);`.
  template <typename Work>
  auto run(Work& work) -> boost::asio::awaitable<std::invoke_result_t<Work&, MysqlConnection&>> {
    using Result = std::invoke_result_t<Work&, MysqlConnection&>;
    admit();
    const auto enqueued = std::chrono::steady_clock::now();
    return boost::asio::co_spawn(
        threads_.get_executor(),
        [this, job = std::move(work), enqueued]() mutable -> Task<Result> {
          QueueExit exit_guard{*this};
          MysqlConnection& connection = acquire(enqueued);
          try {
            if constexpr (std::is_void_v<Result>) {
              job(connection);
              connection.end_unit_of_work(true);
              co_return;
            } else {
              auto result = job(connection);
              connection.end_unit_of_work(true);
              co_return result;
            }
          } catch (const MysqlError& error) {
            if (!error.is_connection_error()) connection.end_unit_of_work(false);
            on_error(error);
            throw;
          } catch (...) {
            connection.end_unit_of_work(false);
            throw;
          }
        },
        boost::asio::use_awaitable);
  }

  // Blocking variant for commands (migrate, seed) that own the calling thread.
  std::unique_ptr<MysqlConnection> connect_direct(bool multi_statements = false) const;

  PoolStats stats() const;
  const DbEndpoint& endpoint() const noexcept { return endpoint_; }
  void stop();

 private:
  struct QueueExit {
    MysqlPool& pool;
    ~QueueExit() { pool.busy_.fetch_sub(1, std::memory_order_relaxed); }
  };
  void admit();
  MysqlConnection& acquire(std::chrono::steady_clock::time_point enqueued);
  void on_error(const MysqlError& error);

  DbEndpoint endpoint_;
  PoolOptions options_;
  boost::asio::thread_pool threads_;
  std::atomic<int> pending_{0};  // admitted, not finished (queued + running)
  std::atomic<int> busy_{0};     // running on a worker
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> wait_micros_total_{0};
  std::atomic<std::uint64_t> acquired_{0};
};

}  // namespace ticketing::infra::mysql
