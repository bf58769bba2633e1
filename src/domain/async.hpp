#pragma once
// The one non-standard type the domain uses. C++20 has coroutines but no standard task type; ports
// must be awaitable so that no adapter blocks an I/O thread (DESIGN.md §2). We alias Asio's
// awaitable (header-only, no I/O) instead of writing our own task type. See docs/architecture.md.
#include <boost/asio/awaitable.hpp>

namespace ticketing {
template <typename T>
using Task = boost::asio::awaitable<T>;
}  // namespace ticketing
