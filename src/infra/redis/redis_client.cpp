#include "infra/redis/redis_client.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <stdexcept>

#include "domain/errors.hpp"

namespace ticketing::infra::redis {

namespace asio = boost::asio;

namespace {

const void* context_of(const asio::any_io_executor& executor) {
  return &asio::query(executor, asio::execution::context_as<asio::execution_context&>);
}

}  // namespace

RedisClient::RedisClient(std::vector<asio::any_io_executor> executors, RedisOptions options)
    : options_(std::move(options)) {
  if (executors.empty()) throw std::invalid_argument("RedisClient needs at least one executor");
  connections_.reserve(executors.size());
  for (asio::any_io_executor& ex : executors) {
    const void* context = context_of(ex);
    for (const Entry& e : connections_) {
      if (e.context == context) throw std::invalid_argument("RedisClient given the same io_context twice");
    }
    connections_.push_back(Entry{context, std::make_unique<RedisConnection>(std::move(ex), options_)});
  }
}

namespace {

std::vector<asio::any_io_executor> executors_of(const std::vector<asio::io_context*>& contexts) {
  std::vector<asio::any_io_executor> out;
  out.reserve(contexts.size());
  for (asio::io_context* c : contexts) out.emplace_back(c->get_executor());
  return out;
}

}  // namespace

RedisClient::RedisClient(const std::vector<asio::io_context*>& contexts, RedisOptions options)
    : RedisClient(executors_of(contexts), std::move(options)) {}

RedisClient::~RedisClient() = default;

RedisConnection& RedisClient::connection_for(const asio::any_io_executor& executor) const {
  const void* context = context_of(executor);
  for (const Entry& e : connections_) {
    if (e.context == context) return *e.connection;
  }
  throw std::logic_error(
      "RedisClient called from an io_context it was not constructed with; a connection must only be "
      "used on its own context's thread");
}

Task<RedisReply> RedisClient::execute(std::span<const std::string_view> args) {
  RedisConnection& connection = connection_for(co_await asio::this_coro::executor);
  const auto started = std::chrono::steady_clock::now();
  try {
    RedisReply reply = co_await connection.execute(args);
    record(started, reply.is_error());
    co_return reply;
  } catch (...) {
    record(started, true);
    throw;
  }
}

void RedisClient::record(std::chrono::steady_clock::time_point started, bool failed) {
  stats_.latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (failed) stats_.errors.fetch_add(1, std::memory_order_relaxed);
}

Task<RedisReply> RedisClient::evalsha(const RedisScript& script, std::span<const std::string_view> keys,
                                      std::span<const std::string_view> args) {
  RedisConnection& connection = connection_for(co_await asio::this_coro::executor);
  const auto started = std::chrono::steady_clock::now();
  try {
    RedisReply reply = co_await connection.evalsha(script, keys, args);
    record(started, reply.is_error());
    co_return reply;
  } catch (...) {
    record(started, true);
    throw;
  }
}

Task<void> RedisClient::ping() {
  RedisConnection& connection = connection_for(co_await asio::this_coro::executor);
  co_await connection.ping();
}

void RedisClient::close_all() {
  for (Entry& e : connections_) e.connection->close_async();
}

}  // namespace ticketing::infra::redis
