#pragma once
// A bounded pool of blocking MariaDB connections that I/O threads can await without blocking.
//
// `pool-size` worker threads each own one connection (thread_local), so a unit of work runs on one
// connection start to finish and needs no locking. Work waiting for a worker is bounded by
// `max-queue` (beyond it: 503 at once) and by `pool-wait-timeout` (work no worker has taken by
// then is answered 503 at that moment, and never run). Connections are opened lazily and re-opened after errors.
#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
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
    const bool waits = admit();
    const auto enqueued = std::chrono::steady_clock::now();
    if (waits) return run_waiting<Result>(std::move(work), enqueued);
    // A worker is free: co_spawn. Its answer goes back through the workers' queue, which delays
    // the next unit of work a little — and lets more gateway callbacks wait together for it
    // (BatchedCalls): answering every call directly measured 2.4 ms per booking in the flash sale
    // against 1.95 ms (docs/performance.md).
    return boost::asio::co_spawn(
        threads_.get_executor(),
        [this, job = std::move(work), enqueued]() mutable -> Task<Result> {
          if constexpr (std::is_void_v<Result>) {
            execute<Result>(job, enqueued);
            co_return;
          } else {
            co_return execute<Result>(job, enqueued);
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

  // The unit of work on a worker: a connection, the work, the unit's end.
  template <typename Result, typename Job>
  Result execute(Job& job, std::chrono::steady_clock::time_point enqueued) {
    QueueExit exit_guard{*this};
    MysqlConnection& connection = acquire(enqueued);
    try {
      if constexpr (std::is_void_v<Result>) {
        job(connection);
        connection.end_unit_of_work(true);
        return;
      } else {
        auto result = job(connection);
        connection.end_unit_of_work(true);
        return result;
      }
    } catch (const MysqlError& error) {
      if (!error.is_connection_error()) connection.end_unit_of_work(false);
      on_error(error);
      throw;
    } catch (...) {
      connection.end_unit_of_work(false);
      throw;
    }
  }

  // Work that has to wait for a worker, posted to the workers with a deadline; its answer is
  // posted straight to the caller's executor (never queued behind other work on the workers). Its
  // caller is answered 503 once it has waited `pool-wait-timeout` without a worker taking it —
  // also while every worker is stuck in a call to a database that stopped answering (a hung
  // host), when no worker would look at the queue for the whole read timeout. Work a worker took
  // is waited for: it may be writing.
  template <typename Handler>
  struct WaitingCall {
    WaitingCall(Handler h, boost::asio::any_io_executor caller_executor)
        : handler(std::move(h)),
          caller(std::move(caller_executor)),
          strand(boost::asio::make_strand(caller)),
          deadline(strand) {}
    // Whoever moves phase from kQueued answers the caller (once).
    bool take() { return move_from_queued(kTaken); }
    bool give_up() { return move_from_queued(kGivenUp); }
    void answer(std::exception_ptr error) {
      boost::asio::post(caller, [h = std::move(handler), error]() mutable { std::move(h)(error); });
    }

    static constexpr int kQueued = 0;
    static constexpr int kTaken = 1;
    static constexpr int kGivenUp = 2;
    std::atomic<int> phase{kQueued};
    Handler handler;
    boost::asio::any_io_executor caller;
    // The timer, and the answer after a worker took the work, run on this strand.
    boost::asio::strand<boost::asio::any_io_executor> strand;
    boost::asio::steady_timer deadline;

   private:
    bool move_from_queued(int to) {
      int queued = kQueued;
      return phase.compare_exchange_strong(queued, to, std::memory_order_acq_rel);
    }
  };
  template <typename Result>
  struct WaitingResult {
    std::optional<Result> value;
  };

  template <typename Result, typename Job>
  boost::asio::awaitable<Result> run_waiting(Job job, std::chrono::steady_clock::time_point enqueued) {
    using Box = std::conditional_t<std::is_void_v<Result>, WaitingResult<int>, WaitingResult<Result>>;
    auto box = std::make_shared<Box>();
    auto initiation = [this, box, &job, enqueued](auto handler) {
      using Call = WaitingCall<decltype(handler)>;
      auto executor = boost::asio::get_associated_executor(handler);
      auto call = std::make_shared<Call>(std::move(handler), executor);
      call->deadline.expires_at(enqueued + options_.wait_timeout);
      call->deadline.async_wait([this, call](boost::system::error_code ec) {
        if (ec || !call->give_up()) return;  // answered, or a worker has it: its answer comes
        pending_.fetch_sub(1, std::memory_order_relaxed);
        rejected_.fetch_add(1, std::memory_order_relaxed);
        call->answer(
            std::make_exception_ptr(domain::DependencyUnavailable("db", "timed out waiting for a connection")));
      });
      boost::asio::post(threads_, [this, call, box, job = std::move(job), enqueued]() mutable {
        if (!call->take()) return;  // given up: the caller has its 503
        std::exception_ptr error;
        try {
          if constexpr (std::is_void_v<Result>) {
            execute<Result>(job, enqueued);
          } else {
            box->value.emplace(execute<Result>(job, enqueued));
          }
        } catch (...) {
          error = std::current_exception();
        }
        boost::asio::post(call->strand, [call, error] {
          call->deadline.cancel();
          call->answer(error);
        });
      });
    };
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr)>(
        initiation, boost::asio::use_awaitable);
    if constexpr (!std::is_void_v<Result>) co_return std::move(*box->value);
  }

  // Counts the work in; false when a worker is free for it (it will not wait).
  bool admit();
  MysqlConnection& acquire(std::chrono::steady_clock::time_point enqueued);
  void on_error(const MysqlError& error);

  DbEndpoint endpoint_;
  PoolOptions options_;
  boost::asio::thread_pool threads_;
  std::atomic<int> pending_{0};  // admitted, not taken by a worker yet (queued)
  std::atomic<int> busy_{0};     // running on a worker
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> wait_micros_total_{0};
  std::atomic<std::uint64_t> acquired_{0};
};

}  // namespace ticketing::infra::mysql
