#pragma once
// A thin RAII wrapper over one MariaDB Connector/C connection. Blocking: only ever used on the
// DB pool's worker threads (MysqlPool), never on an I/O thread.
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "domain/money.hpp"
#include "domain/time.hpp"

struct st_mysql;
struct st_mysql_stmt;

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
  bool is_deadlock() const noexcept { return error_number_ == 1213 || is_lock_wait_timeout(); }
  // 1205: a lock wait timed out (MariaDB's NOWAIT too); 3572: MySQL 8's NOWAIT found a lock.
  bool is_lock_wait_timeout() const noexcept { return error_number_ == 1205 || error_number_ == 3572; }
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

// A value bound to one `?` of a prepared statement. Values never become SQL text: they travel in
// the binary protocol, so no escaping is involved anywhere.
class Param {
 public:
  Param(std::nullptr_t) {}  // NULL
  Param(std::int64_t value) : value_(value) {}
  Param(int value) : value_(static_cast<std::int64_t>(value)) {}
  Param(std::uint64_t value) : value_(static_cast<std::int64_t>(value)) {}
  Param(std::string_view value) : value_(std::string(value)) {}
  Param(const std::string& value) : value_(value) {}
  Param(std::string&& value) : value_(std::move(value)) {}
  Param(const char* value) : value_(std::string(value)) {}
  Param(domain::Timestamp value) : value_(domain::to_sql_datetime(value)) {}  // DATETIME(3), UTC
  Param(const domain::Money& value) : value_(value.to_decimal_string()) {}    // DECIMAL
  template <typename T>
  Param(const std::optional<T>& value) {
    if (value) *this = Param(*value);
  }

  bool is_null() const noexcept { return std::holds_alternative<std::monostate>(value_); }
  const std::int64_t* as_int() const noexcept { return std::get_if<std::int64_t>(&value_); }
  const std::string* as_text() const noexcept { return std::get_if<std::string>(&value_); }

 private:
  std::variant<std::monostate, std::int64_t, std::string> value_;
};

using Params = std::vector<Param>;

// "?,?,?" — the placeholder list of an IN (...) with `count` values (SQL text depends only on the
// count, so each list length is prepared once per connection).
std::string placeholders(std::size_t count);

class MysqlConnection {
 public:
  // Connects or throws MysqlError. Sessions run in UTC with utf8mb4. With `implicit_transactions`
  // the session runs with autocommit off: the first statement after a COMMIT begins the next
  // transaction, which saves a START TRANSACTION round trip per transaction on the money paths.
  explicit MysqlConnection(const DbEndpoint& endpoint, bool multi_statements = false,
                           bool implicit_transactions = false);
  ~MysqlConnection();
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

  // Server-side prepared statements, prepared once per connection and SQL text, with bound
  // parameters. Every column comes back as text (NULL as nullopt); read it with RowReader.
  ResultSet query(std::string_view sql, std::initializer_list<Param> params);
  ResultSet query(std::string_view sql, const Params& params);
  ExecResult execute(std::string_view sql, std::initializer_list<Param> params);
  ExecResult execute(std::string_view sql, const Params& params);
  // Text protocol, for SQL that carries no values (DDL, session settings, fixed reads).
  ResultSet query(std::string_view sql);
  ExecResult execute(std::string_view sql);
  // Runs a multi-statement script (migrations), discarding results.
  void execute_script(std::string_view sql);
  bool ping();

  // With implicit transactions a Transaction must be the first thing a unit of work writes in
  // (its rollback would otherwise take earlier writes with it): begin() refuses to start inside
  // an open transaction.
  void begin();
  void commit() { run_text("COMMIT"); }
  void rollback() noexcept;
  // With implicit transactions, ends what a unit of work left open outside a Transaction — commits
  // it when the work succeeded (as autocommit would have), rolls it back when it failed — so no
  // write is lost and no lock outlives the work. Costs nothing when nothing is open.
  void end_unit_of_work(bool succeeded);

  std::size_t prepared_statements() const noexcept { return statements_.size(); }

  // The server is MariaDB (false only for a server that reports MySQL 8 or 9): `FOR UPDATE WAIT n`
  // is MariaDB's syntax only.
  bool is_mariadb() const noexcept { return mariadb_; }
  // " FOR UPDATE WAIT <seconds>" on MariaDB; " FOR UPDATE" on MySQL 8, which has no per-statement
  // wait (its lock waits end at innodb_lock_wait_timeout).
  std::string_view for_update_wait_2() const noexcept { return mariadb_ ? " FOR UPDATE WAIT 2" : " FOR UPDATE"; }

  std::chrono::steady_clock::time_point last_used() const noexcept { return last_used_; }

 private:
  struct StatementDeleter {
    void operator()(st_mysql_stmt* statement) const noexcept;
  };
  using Statement = std::unique_ptr<st_mysql_stmt, StatementDeleter>;

  bool in_transaction() const noexcept;
  [[noreturn]] void fail(std::string_view what);
  [[noreturn]] void fail_statement(st_mysql_stmt* statement, std::string_view what);
  void run_text(std::string_view sql);  // transaction control: no values, no result
  st_mysql_stmt* prepared(std::string_view sql);
  // Binds and executes; returns the statement with its result (if any) stored client-side.
  st_mysql_stmt* run_prepared(std::string_view sql, const Param* params, std::size_t count);
  ResultSet fetch(st_mysql_stmt* statement);
  st_mysql* handle_ = nullptr;
  bool implicit_transactions_ = false;
  bool mariadb_ = true;
  std::unordered_map<std::string, Statement> statements_;
  std::chrono::steady_clock::time_point last_used_;
};

// Waits a random 0..attempt ms before a retry, so two transactions that just deadlocked do not
// start again in step and deadlock again (a pool thread: it blocks nobody else).
void pause_before_retry(int attempt);

// Runs `body` (one whole transaction, begun inside it) again when it fails on a deadlock or a
// lock wait timeout — the database rolled it back, so running it again is safe — and, when asked,
// on a duplicate key a concurrent transaction caused. At most `attempts` runs; the last error
// propagates.
template <typename Body>
auto with_deadlock_retries(Body&& body, bool retry_duplicate_key = false, int attempts = 5) {
  for (int attempt = 1;; ++attempt) {
    try {
      return body();
    } catch (const MysqlError& error) {
      const bool retryable = error.is_deadlock() || (retry_duplicate_key && error.is_duplicate_key());
      if (!retryable || attempt >= attempts) throw;
      if (error.is_deadlock()) pause_before_retry(attempt);
    }
  }
}

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
