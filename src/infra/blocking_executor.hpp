#pragma once
// A small thread pool for blocking client calls that are not database work (e.g. librdkafka
// metadata requests), so they can be awaited without blocking an I/O thread.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>

#include "domain/async.hpp"

namespace ticketing::infra {

class BlockingExecutor {
 public:
  explicit BlockingExecutor(std::size_t threads) : pool_(threads) {}
  ~BlockingExecutor() { stop(); }

  // `work` must be a named object (moved from); see MysqlPool::run for why.
  template <typename Work>
  auto run(Work& work) -> Task<std::invoke_result_t<Work&>> {
    using Result = std::invoke_result_t<Work&>;
    return boost::asio::co_spawn(
        pool_.get_executor(),
        [job = std::move(work)]() mutable -> Task<Result> {
          if constexpr (std::is_void_v<Result>) {
            job();
            co_return;
          } else {
            co_return job();
          }
        },
        boost::asio::use_awaitable);
  }

  void stop() {
    pool_.stop();
    pool_.join();
  }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace ticketing::infra
