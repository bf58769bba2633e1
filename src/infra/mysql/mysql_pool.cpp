#include "infra/mysql/mysql_pool.hpp"

#include <spdlog/spdlog.h>

#include "domain/errors.hpp"

namespace ticketing::infra::mysql {
namespace {

// Each worker thread owns one connection; the pool id keeps two pools (tests) apart.
struct WorkerConnection {
  const void* pool = nullptr;
  std::unique_ptr<MysqlConnection> connection;
};
thread_local WorkerConnection worker_connection;

// A connection idle this long is pinged before use, so a database restart costs a reconnect,
// not a failed request.
constexpr auto kValidateAfterIdle = std::chrono::seconds(5);

}  // namespace

MysqlPool::MysqlPool(DbEndpoint endpoint, PoolOptions options)
    : endpoint_(std::move(endpoint)), options_(options), threads_(static_cast<std::size_t>(options.size)) {}

MysqlPool::~MysqlPool() {
  stop();
}

void MysqlPool::stop() {
  threads_.stop();
  threads_.join();
}

bool MysqlPool::admit() {
  // pending counts the work no worker has taken yet; beyond size + max_queue we refuse at once.
  const int now_pending = pending_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (now_pending > options_.size + options_.max_queue) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    rejected_.fetch_add(1, std::memory_order_relaxed);
    throw domain::DependencyUnavailable("db", "connection pool saturated");
  }
  // Every worker busy (or about to be): this work waits, and gets a deadline for it.
  return busy_.load(std::memory_order_relaxed) + now_pending > options_.size;
}

MysqlConnection& MysqlPool::acquire(std::chrono::steady_clock::time_point enqueued) {
  // Runs on a worker: from here on this work is no longer queued. (Busy first: an admission in
  // between counts it either way, never neither, and so does not miss that it will wait.)
  busy_.fetch_add(1, std::memory_order_relaxed);
  pending_.fetch_sub(1, std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  const auto waited = now - enqueued;
  wait_micros_total_.fetch_add(
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(waited).count()),
      std::memory_order_relaxed);
  acquired_.fetch_add(1, std::memory_order_relaxed);
  if (waited > options_.wait_timeout) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    throw domain::DependencyUnavailable("db", "timed out waiting for a connection");
  }

  auto& slot = worker_connection;
  if (slot.pool != this) slot = WorkerConnection{this, nullptr};
  if (slot.connection && now - slot.connection->last_used() > kValidateAfterIdle && !slot.connection->ping()) {
    slot.connection.reset();
  }
  if (!slot.connection) {
    try {
      slot.connection = std::make_unique<MysqlConnection>(endpoint_, false, options_.implicit_transactions);
      connects_.fetch_add(1, std::memory_order_relaxed);
    } catch (const MysqlError& error) {
      throw domain::DependencyUnavailable("db", error.what());
    }
  }
  return *slot.connection;
}

std::exception_ptr as_unavailable(const MysqlError& error) {
  if (error.is_deadlock()) {
    // A transaction that still deadlocked (or timed out on a lock) after the work's own retries:
    // heavy contention, not a fault. The caller is told to retry, not 500 (nor 503: nothing is down).
    return std::make_exception_ptr(
        domain::Contention(std::string("transaction kept losing to parallel ones: ") + error.what()));
  }
  if (error.is_connection_error()) return std::make_exception_ptr(domain::DependencyUnavailable("db", error.what()));
  return nullptr;
}

void MysqlPool::on_error(const MysqlError& error) {
  auto unavailable = as_unavailable(error);
  if (!unavailable) return;
  if (error.is_connection_error()) {
    spdlog::warn("database connection dropped: {}", error.what());
    worker_connection.connection.reset();
  }
  std::rethrow_exception(unavailable);
}

std::unique_ptr<MysqlConnection> MysqlPool::connect_direct(bool multi_statements) const {
  return std::make_unique<MysqlConnection>(endpoint_, multi_statements);
}

PoolStats MysqlPool::stats() const {
  return PoolStats{options_.size,
                   busy_.load(std::memory_order_relaxed),
                   pending_.load(std::memory_order_relaxed),
                   connects_.load(std::memory_order_relaxed),
                   rejected_.load(std::memory_order_relaxed),
                   wait_micros_total_.load(std::memory_order_relaxed),
                   acquired_.load(std::memory_order_relaxed)};
}

}  // namespace ticketing::infra::mysql
