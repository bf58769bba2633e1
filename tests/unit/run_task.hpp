#pragma once
// Runs a coroutine to completion on a private io_context and returns its result (or rethrows).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <optional>
#include <type_traits>

#include "domain/async.hpp"

namespace ticketing::testing {

template <typename T>
T run_task(Task<T> task) {
  if constexpr (std::is_void_v<T> || std::is_default_constructible_v<T>) {
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    io.run();
    return future.get();
  } else {
    // co_spawn's completion needs a default-constructible result (e.g. application::Admission is not).
    auto wrapped = [](Task<T> inner) -> Task<std::optional<T>> {
      co_return std::optional<T>(co_await std::move(inner));
    };
    return std::move(*run_task(wrapped(std::move(task))));
  }
}

}  // namespace ticketing::testing
