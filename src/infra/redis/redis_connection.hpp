#pragma once
// One pipelined Redis connection driven by Asio coroutines (DESIGN.md §2: Redis traffic is
// pipelined, no I/O thread ever blocks, every outbound call has a timeout).
//
// Threading: a RedisConnection belongs to one executor, an io_context run by exactly one thread.
// Every member except close_async() and the destructor must be called on that thread; awaiting
// execute() from a coroutine running on that io_context satisfies this. There is no locking.
//
// How it works: callers append their RESP-encoded command to one write buffer and park a completion
// handler in a FIFO queue. A single writer flushes everything queued while the previous write was in
// flight (pipelining), and a single reader parses replies (hiredis' reader) and completes the queue
// in order. On timeout, I/O error or protocol error the socket is closed, every parked caller fails
// with DependencyUnavailable("redis", ...), and the next call reconnects, at most once per
// reconnect_backoff; calls inside the backoff window fail immediately, so a dead Redis costs nothing.
#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <concepts>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "domain/async.hpp"
#include "domain/errors.hpp"
#include "infra/redis/redis_options.hpp"
#include "infra/redis/redis_reply.hpp"

namespace ticketing::infra::redis {

// An argument execute(...) accepts directly: std::string, std::string_view, a string literal.
template <typename T>
concept RedisArg = std::convertible_to<const T&, std::string_view>;

// A Lua script and its SHA-1, the name EVALSHA knows it by.
struct RedisScript {
  std::string source;
  std::string sha1;  // 40 lowercase hex digits of sha1(source)

  static RedisScript from_source(std::string source);
};

// The DependencyUnavailable thrown when the command certainly never reached Redis: there was no
// connection (connect refused, reset or timed out during connect, or a call inside the reconnect
// backoff). The cluster client resends such a command to another node, even a script; after any
// other failure (timeout or reset once sent) the command may have run, so it is not resent.
class RedisNotSent : public domain::DependencyUnavailable {
 public:
  using DependencyUnavailable::DependencyUnavailable;
};

class RedisConnection {
 public:
  // Does not connect: the first command does (lazily), so constructing costs nothing. Throws
  // std::invalid_argument for non-positive timeouts or a negative backoff.
  RedisConnection(boost::asio::any_io_executor executor, RedisOptions options);
  // Safe from any thread: hands close() to the executor (see close_async). Like every Asio I/O
  // object, destroy it before its io_context.
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  const boost::asio::any_io_executor& get_executor() const noexcept;
  const RedisOptions& options() const noexcept;

  // Sends one command and returns its reply. Error replies (-ERR ...) are returned as kError, not
  // thrown. Throws DependencyUnavailable when Redis cannot be reached, the reply does not arrive
  // within command_timeout (measured from the call, or from the connect for calls made while
  // connecting), or the connection breaks. `args` must stay valid until the returned awaitable
  // completes, which holds whenever the call is awaited in the same expression. Per-operation
  // cancellation is not supported: a call ends with its reply, an error or command_timeout.
  Task<RedisReply> execute(std::span<const std::string_view> args);
  // `co_await conn.execute("SET", key, value)`. (No initializer_list overload: GCC 12 rejects
  // `co_await f({...})` inside coroutines with "array used as initializer".)
  template <RedisArg... Args>
  Task<RedisReply> execute(const Args&... args) {
    const std::array<std::string_view, sizeof...(Args)> argv{std::string_view(args)...};
    co_return co_await execute(std::span<const std::string_view>(argv));
  }

  // EVALSHA, falling back to EVAL (which also reloads the script) when Redis answers NOSCRIPT
  // after a restart or SCRIPT FLUSH (or on a cluster node that never saw the script).
  // `after_asking`: each attempt goes out right behind an ASKING, with nothing in between (a
  // Redis Cluster ASK redirection).
  Task<RedisReply> evalsha(const RedisScript& script, std::span<const std::string_view> keys,
                           std::span<const std::string_view> args, bool after_asking = false);
  // execute() right behind an ASKING on this connection (the ASKING reply is dropped).
  Task<RedisReply> execute_after_asking(std::span<const std::string_view> args);

  // PING; throws DependencyUnavailable unless Redis answers PONG.
  Task<void> ping();

  bool connected() const noexcept;
  // Commands sent or queued but not yet answered.
  std::size_t pending() const noexcept;
  // Connect attempts so far (observability, and lets tests see the backoff at work).
  uint64_t connect_attempts() const noexcept;

  // Shutdown: fails every pending caller, stops the reader and closes the socket. Later calls throw
  // DependencyUnavailable; a closed connection never reconnects.
  void close();
  // close() posted to the connection's executor; callable from any thread.
  void close_async();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the reader/writer/watchdog so they outlive close()
};

}  // namespace ticketing::infra::redis
