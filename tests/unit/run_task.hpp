#pragma once
// Runs a coroutine to completion on a private io_context and returns its result (or rethrows).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "domain/async.hpp"

namespace ticketing::testing {

template <typename T>
T run_task(Task<T> task) {
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return future.get();
}

}  // namespace ticketing::testing
