#pragma once
// Calls that wait for a connection of the same pool together, run together.
//
// A call joins the queue; the first one that finds no unit of work queued for the pool queues one.
// That unit, once it has a connection, takes every waiting call (at most `max_together` at a
// time) and gives them to the runner, which does their work — typically in one transaction — and
// answers each of them. Calls that arrive meanwhile queue a unit of their own. So an idle service
// runs every call alone, as before, and under load the round trips per call fall with the batch.
//
// Each caller waits on its own executor, which must be single-threaded (an HTTP I/O thread's
// io_context): the answer's wake-up is posted to it and cannot overtake the start of the wait
// (as in events::OrderSettlementBoard).
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "domain/async.hpp"
#include "domain/errors.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

struct BatchedCallStats {
  std::size_t waiting = 0;         // calls waiting to be taken by a unit of work
  std::uint64_t answered = 0;      // calls answered by a transaction that did their work
  std::uint64_t transactions = 0;  // those transactions (answered / transactions: the batch size)
};

template <typename Request, typename Result>
class BatchedCalls {
 public:
  struct Call {
    Call(boost::asio::any_io_executor executor, Request request)
        : executor(std::move(executor)), request(std::move(request)) {}
    boost::asio::any_io_executor executor;
    boost::asio::steady_timer* waiting = nullptr;  // the waiter's timer; touched only on `executor`
    Request request;
    bool answered = false;  // under the mutex
    std::optional<Result> result;
    std::exception_ptr error;
  };
  using CallPtr = std::shared_ptr<Call>;
  // Does the calls' work on `db` and answers each of them (answer()), also when it throws; a
  // MysqlError it throws reaches the pool, which drops a broken connection.
  using Runner = std::function<void(MysqlConnection& db, const std::vector<CallPtr>& calls, BatchedCalls& self)>;

  using Stats = BatchedCallStats;

  BatchedCalls(MysqlPool& pool, std::size_t max_together, Runner runner)
      : pool_(pool), max_together_(max_together), runner_(std::move(runner)) {}
  BatchedCalls(const BatchedCalls&) = delete;
  BatchedCalls& operator=(const BatchedCalls&) = delete;

  // `request` must be a named object that outlives the call (it is copied at once): GCC 12
  // destroys non-trivial temporaries inside a co_await expression twice (see MysqlPool::run).
  Task<Result> call(const Request& request) {
    boost::asio::any_io_executor executor = co_await boost::asio::this_coro::executor;
    auto call = std::make_shared<Call>(std::move(executor), request);
    std::uint64_t unit = 0;
    {
      const std::lock_guard lock(mutex_);
      queue_.push_back(call);
      if (scheduled_ == 0) unit = scheduled_ = next_unit_++;
    }
    if (unit != 0) {
      // Detached: this caller is answered by the unit's first round, and need not wait for the
      // rounds it may run after it for callers that queued meanwhile.
      boost::asio::co_spawn(
          call->executor,
          [this, unit]() -> Task<void> {
            auto work = [this, unit](MysqlConnection& db) { run_unit(db, unit); };
            try {
              co_await pool_.run(work);
            } catch (...) {
              fail_unstarted(unit, std::current_exception());
            }
          },
          boost::asio::detached);
    }
    co_await wait_answered(*call);
    if (call->error) std::rethrow_exception(call->error);
    co_return std::move(*call->result);
  }

  // Answers those of `calls` not answered yet: with (*results)[i], or else with `error` (a lost
  // connection or a deadlock that outlived the retries becomes 503, as MysqlPool::run makes it).
  void answer(const std::vector<CallPtr>& calls, std::vector<Result>* results, const std::exception_ptr& failure) {
    const auto error = for_caller(failure);
    std::vector<CallPtr> woken;
    {
      const std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < calls.size(); ++i) {
        if (calls[i]->answered) continue;
        if (results != nullptr) calls[i]->result = std::move((*results)[i]);
        calls[i]->error = error;
        calls[i]->answered = true;
        woken.push_back(calls[i]);
      }
    }
    for (auto& call : woken) {
      auto executor = call->executor;
      boost::asio::post(executor, [call = std::move(call)] {
        if (call->waiting != nullptr) call->waiting->cancel();
      });
    }
  }

  // A transaction that did the work of `calls` calls (for the stats).
  void count_transaction(std::size_t calls) {
    transactions_.fetch_add(1, std::memory_order_relaxed);
    answered_.fetch_add(calls, std::memory_order_relaxed);
  }

  Stats stats() const {
    Stats stats;
    {
      const std::lock_guard lock(mutex_);
      stats.waiting = queue_.size();
    }
    stats.answered = answered_.load(std::memory_order_relaxed);
    stats.transactions = transactions_.load(std::memory_order_relaxed);
    return stats;
  }

 private:
  static std::exception_ptr for_caller(const std::exception_ptr& error) {
    if (!error) return error;
    try {
      std::rethrow_exception(error);
    } catch (const MysqlError& mysql) {
      // The gateway's callback (the only caller) retries 5xx and timeouts, and may take a 409 as
      // final: a row kept locked past the retries is 503 here, never Contention's 409 — the money
      // was taken and the callback must come again.
      if (mysql.is_deadlock()) {
        return std::make_exception_ptr(
            domain::DependencyUnavailable("db", std::string("order kept locked by parallel work: ") + mysql.what()));
      }
      if (auto unavailable = as_unavailable(mysql)) return unavailable;
    } catch (...) {
    }
    return error;
  }

  // The unit of work `unit`: takes the waiting calls and runs them, again while more wait and no
  // other unit is queued to take them.
  void run_unit(MysqlConnection& db, std::uint64_t unit) {
    for (bool first_round = true;; first_round = false) {
      std::vector<CallPtr> calls;
      {
        const std::lock_guard lock(mutex_);
        if (scheduled_ == unit) {
          scheduled_ = 0;  // calls from now on queue a unit of their own
        } else if (!first_round && scheduled_ != 0) {
          return;  // the queued unit takes the rest
        }
        while (!queue_.empty() && calls.size() < max_together_) {
          calls.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      if (calls.empty()) return;
      try {
        runner_(db, calls, *this);
      } catch (...) {
        const auto error = std::current_exception();
        answer(calls, nullptr, error);  // those the failure left unanswered
        // Calls still waiting with no unit queued for them would wait for the next call's unit;
        // they get this error instead (for a MysqlError the pool drops the connection).
        std::vector<CallPtr> stranded;
        {
          const std::lock_guard lock(mutex_);
          if (scheduled_ == 0) {
            stranded.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
            queue_.clear();
          }
        }
        answer(stranded, nullptr, error);
        throw;
      }
    }
  }

  // `unit` never got a connection (the pool is full or its wait timed out): the calls that were
  // waiting for it get its error. Nothing was done for them.
  void fail_unstarted(std::uint64_t unit, const std::exception_ptr& error) {
    std::vector<CallPtr> calls;
    {
      const std::lock_guard lock(mutex_);
      if (scheduled_ != unit) return;  // it ran, and answered every call it took
      scheduled_ = 0;
      calls.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    answer(calls, nullptr, error);
  }

  // On the call's executor.
  Task<void> wait_answered(Call& call) {
    boost::asio::steady_timer timer(call.executor);
    {
      const std::lock_guard lock(mutex_);
      if (call.answered) co_return;
    }
    // A safety net only: every path answers every call it takes. No suspension between the check
    // and this wait: the wake-up is posted to this executor, so it runs after the wait has begun.
    timer.expires_after(std::chrono::minutes(2));
    call.waiting = &timer;
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    call.waiting = nullptr;
    const std::lock_guard lock(mutex_);
    if (!call.answered) throw domain::DependencyUnavailable("db", "no answer in time; retry");
  }

  MysqlPool& pool_;
  const std::size_t max_together_;
  const Runner runner_;
  mutable std::mutex mutex_;
  std::deque<CallPtr> queue_;    // not yet taken by a unit of work
  std::uint64_t scheduled_ = 0;  // the unit waiting for a connection, which takes the queue (0: none)
  std::uint64_t next_unit_ = 1;
  std::atomic<std::uint64_t> answered_{0};
  std::atomic<std::uint64_t> transactions_{0};
};

}  // namespace ticketing::infra::mysql
