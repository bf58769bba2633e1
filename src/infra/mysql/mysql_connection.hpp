#pragma once
// A thin RAII wrapper over one MariaDB Connector/C connection. Blocking: only ever used on the
// DB pool's worker threads (MysqlPool), never on an I/O thread.
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct st_mysql;

namespace ticketing::infra::mysql {

struct DbEndpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3306;
  std::string user;
  std::string password;
  std::string database;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds query_timeout{10000};
};

class MysqlError : public std::runtime_error {
 public:
  MysqlError(unsigned int error_number, const std::string& message)
      : std::runtime_error(message), error_number_(error_number) {}
  unsigned int error_number() const noexcept { return error_number_; }
  bool is_duplicate_key() const noexcept { return error_number_ == 1062; }
  bool is_deadlock() const noexcept { return error_number_ == 1213 || error_number_ == 1205; }
  // The connection is unusable (server gone, timeout, network): drop it.
  bool is_connection_error() const noexcept;

 private:
  unsigned int error_number_;
};

using Row = std::vector<std::optional<std::string>>;

struct ResultSet {
  std::vector<std::string> columns;
  std::vector<Row> rows;
};

struct ExecResult {
  std::uint64_t affected_rows = 0;
  std::uint64_t last_insert_id = 0;
};

class MysqlConnection {
 public:
  // Connects or throws MysqlError. Sessions run in UTC with utf8mb4.
  explicit MysqlConnection(const DbEndpoint& endpoint, bool multi_statements = false);
  ~MysqlConnection();
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

  ResultSet query(std::string_view sql);
  ExecResult execute(std::string_view sql);
  // Runs a multi-statement script (migrations), discarding results.
  void execute_script(std::string_view sql);
  bool ping();

  void begin() { execute("START TRANSACTION"); }
  void commit() { execute("COMMIT"); }
  void rollback() noexcept;

  // A quoted, escaped SQL string literal: 'it''s' style via the connector's escaping.
  std::string quote(std::string_view value);

  std::chrono::steady_clock::time_point last_used() const noexcept { return last_used_; }

 private:
  [[noreturn]] void fail(std::string_view what);
  st_mysql* handle_ = nullptr;
  std::chrono::steady_clock::time_point last_used_;
};

// Rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(MysqlConnection& connection) : connection_(connection) { connection_.begin(); }
  ~Transaction() {
    if (!done_) connection_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    connection_.commit();
    done_ = true;
  }

 private:
  MysqlConnection& connection_;
  bool done_ = false;
};

}  // namespace ticketing::infra::mysql
