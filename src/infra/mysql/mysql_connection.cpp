#include "infra/mysql/mysql_connection.hpp"

#include <mariadb/errmsg.h>
#include <mariadb/mysql.h>

#include <algorithm>
#include <array>
#include <random>
#include <thread>

namespace ticketing::infra::mysql {
namespace {

// Connector/C initialises its library state lazily and not thread-safely; do it once.
struct LibraryInit {
  LibraryInit() { mysql_library_init(0, nullptr, nullptr); }
};
const LibraryInit library_init;

unsigned int to_seconds(std::chrono::milliseconds ms) {
  const auto s = std::chrono::ceil<std::chrono::seconds>(ms).count();
  return static_cast<unsigned int>(s < 1 ? 1 : s);
}

}  // namespace

bool MysqlError::is_connection_error() const noexcept {
  switch (error_number_) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_COMMANDS_OUT_OF_SYNC:
    case 1927:  // ER_CONNECTION_KILLED
    case 4031:  // client was disconnected by the server because of inactivity
      return true;
    default: return error_number_ >= 2000 && error_number_ < 3000;  // any client-side error
  }
}

MysqlConnection::MysqlConnection(const DbEndpoint& endpoint, bool multi_statements, bool implicit_transactions)
    : implicit_transactions_(implicit_transactions) {
  handle_ = mysql_init(nullptr);
  if (handle_ == nullptr) throw MysqlError(CR_OUT_OF_MEMORY, "mysql_init failed");
  const unsigned int connect_timeout = to_seconds(endpoint.connect_timeout);
  const unsigned int io_timeout = to_seconds(endpoint.query_timeout);
  const my_bool no_reconnect = 0;
  mysql_optionsv(handle_, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_optionsv(handle_, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_optionsv(handle_, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  mysql_optionsv(handle_, MYSQL_OPT_RECONNECT, &no_reconnect);
  mysql_optionsv(handle_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_optionsv(handle_, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
  // READ COMMITTED: no gap locks, so concurrent holds on neighbouring seats do not deadlock on
  // insert-intention locks; correctness rests on the unique keys and explicit locking reads.
  mysql_optionsv(handle_, MYSQL_INIT_COMMAND, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  if (implicit_transactions) mysql_optionsv(handle_, MYSQL_INIT_COMMAND, "SET autocommit = 0");
  const unsigned long flags = CLIENT_FOUND_ROWS | (multi_statements ? CLIENT_MULTI_STATEMENTS : 0);
  if (mysql_real_connect(handle_, endpoint.host.c_str(), endpoint.user.c_str(), endpoint.password.c_str(),
                         endpoint.database.c_str(), endpoint.port, nullptr, flags) == nullptr) {
    MysqlError error(mysql_errno(handle_), "connect to " + endpoint.host + ":" + std::to_string(endpoint.port) + "/" +
                                               endpoint.database + " failed: " + mysql_error(handle_));
    mysql_close(handle_);
    handle_ = nullptr;
    throw error;
  }
  // MySQL only when the server says MySQL 8 or later ("8.0.36"); anything else keeps MariaDB's
  // syntax, the one tested here (a proxy in between may report a version of its own).
  const char* info = mysql_get_server_info(handle_);
  const std::string_view server = info != nullptr ? info : "";
  const bool mysql_8_or_later = server.find("MariaDB") == std::string_view::npos && !server.empty() &&
                                server.front() >= '8' && server.front() <= '9' && server.size() > 1 && server[1] == '.';
  mariadb_ = !mysql_8_or_later;
  last_used_ = std::chrono::steady_clock::now();
}

MysqlConnection::~MysqlConnection() {
  statements_.clear();  // statements close before their connection
  if (handle_ != nullptr) mysql_close(handle_);
}

void MysqlConnection::fail(std::string_view what) {
  throw MysqlError(mysql_errno(handle_), std::string(what) + ": " + mysql_error(handle_));
}

void pause_before_retry(int attempt) {
  thread_local std::minstd_rand random(std::random_device{}());
  const int most_us = 1000 * std::max(1, attempt);
  std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, most_us)(random)));
}

std::string placeholders(std::size_t count) {
  std::string out;
  out.reserve(count * 2);
  for (std::size_t i = 0; i < count; ++i) out += i == 0 ? "?" : ",?";
  return out;
}

void MysqlConnection::StatementDeleter::operator()(st_mysql_stmt* statement) const noexcept {
  mysql_stmt_close(statement);
}

void MysqlConnection::fail_statement(st_mysql_stmt* statement, std::string_view what) {
  throw MysqlError(mysql_stmt_errno(statement), std::string(what) + ": " + mysql_stmt_error(statement));
}

void MysqlConnection::run_text(std::string_view sql) {
  last_used_ = std::chrono::steady_clock::now();
  if (mysql_real_query(handle_, sql.data(), sql.size()) != 0) fail("statement failed");
  if (MYSQL_RES* result = mysql_store_result(handle_)) mysql_free_result(result);
}

st_mysql_stmt* MysqlConnection::prepared(std::string_view sql) {
  const auto found = statements_.find(std::string(sql));
  if (found != statements_.end()) return found->second.get();
  // The server caps prepared statements (max_prepared_stmt_count, 16,382 by default, for all
  // connections together); IN lists of many lengths must not fill it. Evicting one costs a
  // re-prepare when it is next used.
  constexpr std::size_t kMaxStatements = 64;
  if (statements_.size() >= kMaxStatements) statements_.erase(statements_.begin());
  Statement statement(mysql_stmt_init(handle_));
  if (!statement) fail("mysql_stmt_init failed");
  if (mysql_stmt_prepare(statement.get(), sql.data(), sql.size()) != 0) {
    // 1461: the server's max_prepared_stmt_count is reached (all connections together). Give back
    // this connection's statements and try once more rather than fail the request.
    if (mysql_stmt_errno(statement.get()) != 1461 || statements_.empty()) {
      fail_statement(statement.get(), "prepare failed");
    }
    statements_.clear();
    statement.reset(mysql_stmt_init(handle_));
    if (!statement) fail("mysql_stmt_init failed");
    if (mysql_stmt_prepare(statement.get(), sql.data(), sql.size()) != 0) {
      fail_statement(statement.get(), "prepare failed");
    }
  }
  return statements_.emplace(std::string(sql), std::move(statement)).first->second.get();
}

st_mysql_stmt* MysqlConnection::run_prepared(std::string_view sql, const Param* params, std::size_t count) {
  last_used_ = std::chrono::steady_clock::now();
  for (int attempt = 1;; ++attempt) {
    st_mysql_stmt* statement = prepared(sql);
    if (mysql_stmt_param_count(statement) != count) {
      throw std::logic_error("statement takes " + std::to_string(mysql_stmt_param_count(statement)) + " parameters, " +
                             std::to_string(count) + " given: " + std::string(sql));
    }
    std::vector<MYSQL_BIND> binds(count);
    std::vector<unsigned long> lengths(count);
    for (std::size_t i = 0; i < count; ++i) {
      MYSQL_BIND& bind = binds[i];
      if (const auto* value = params[i].as_int()) {
        bind.buffer_type = MYSQL_TYPE_LONGLONG;
        bind.buffer = const_cast<std::int64_t*>(value);
      } else if (const auto* text = params[i].as_text()) {
        bind.buffer_type = MYSQL_TYPE_STRING;
        bind.buffer = const_cast<char*>(text->data());
        lengths[i] = text->size();
        bind.buffer_length = text->size();
        bind.length = &lengths[i];
      } else {
        bind.buffer_type = MYSQL_TYPE_NULL;
      }
    }
    if (count > 0 && mysql_stmt_bind_param(statement, binds.data()) != 0) fail_statement(statement, "bind failed");
    if (mysql_stmt_execute(statement) == 0) {
      if (mysql_stmt_field_count(statement) > 0 && mysql_stmt_store_result(statement) != 0) {
        fail_statement(statement, "reading result failed");
      }
      return statement;
    }
    // 1615 ER_NEED_REPREPARE: a table changed under the cached statement (DDL); prepare it again.
    if (mysql_stmt_errno(statement) == 1615 && attempt == 1) {
      statements_.erase(std::string(sql));
      continue;
    }
    MysqlError error(mysql_stmt_errno(statement), std::string("statement failed: ") + mysql_stmt_error(statement));
    if (error.is_connection_error()) statements_.clear();
    throw error;
  }
}

ResultSet MysqlConnection::fetch(st_mysql_stmt* statement) {
  ResultSet set;
  const unsigned int field_count = mysql_stmt_field_count(statement);
  if (field_count == 0) return set;
  struct ResultFree {
    st_mysql_stmt* statement;
    ~ResultFree() { mysql_stmt_free_result(statement); }
  } result_free{statement};
  MYSQL_RES* metadata = mysql_stmt_result_metadata(statement);
  if (metadata == nullptr) fail_statement(statement, "result metadata failed");
  MYSQL_FIELD* fields = mysql_fetch_fields(metadata);
  set.columns.reserve(field_count);
  for (unsigned int i = 0; i < field_count; ++i) set.columns.emplace_back(fields[i].name);
  mysql_free_result(metadata);

  // Every column is fetched as text into a small buffer; a longer value is read again whole.
  constexpr unsigned long kInline = 64;
  std::vector<MYSQL_BIND> binds(field_count);
  std::vector<std::array<char, kInline>> buffers(field_count);
  std::vector<unsigned long> lengths(field_count);
  std::vector<my_bool> nulls(field_count);
  std::vector<my_bool> truncated(field_count);
  for (unsigned int i = 0; i < field_count; ++i) {
    binds[i].buffer_type = MYSQL_TYPE_STRING;
    binds[i].buffer = buffers[i].data();
    binds[i].buffer_length = kInline;
    binds[i].length = &lengths[i];
    binds[i].is_null = &nulls[i];
    binds[i].error = &truncated[i];
  }
  if (mysql_stmt_bind_result(statement, binds.data()) != 0) fail_statement(statement, "bind result failed");
  set.rows.reserve(mysql_stmt_num_rows(statement));
  while (true) {
    const int status = mysql_stmt_fetch(statement);
    if (status == MYSQL_NO_DATA) break;
    if (status == 1) fail_statement(statement, "fetch failed");
    Row row;
    row.reserve(field_count);
    for (unsigned int i = 0; i < field_count; ++i) {
      if (nulls[i]) {
        row.emplace_back(std::nullopt);
      } else if (lengths[i] <= kInline) {
        row.emplace_back(std::string(buffers[i].data(), lengths[i]));
      } else {
        std::string whole(lengths[i], '\0');
        MYSQL_BIND column{};
        column.buffer_type = MYSQL_TYPE_STRING;
        column.buffer = whole.data();
        column.buffer_length = lengths[i];
        unsigned long length = 0;
        column.length = &length;
        if (mysql_stmt_fetch_column(statement, &column, i, 0) != 0) fail_statement(statement, "fetch column failed");
        whole.resize(std::min<unsigned long>(length, lengths[i]));
        row.emplace_back(std::move(whole));
      }
    }
    set.rows.push_back(std::move(row));
  }
  return set;
}

ResultSet MysqlConnection::query(std::string_view sql) {
  last_used_ = std::chrono::steady_clock::now();
  if (mysql_real_query(handle_, sql.data(), sql.size()) != 0) fail("query failed");
  MYSQL_RES* result = mysql_store_result(handle_);
  ResultSet set;
  if (result == nullptr) {
    if (mysql_field_count(handle_) != 0) fail("reading result failed");
    return set;
  }
  const unsigned int field_count = mysql_num_fields(result);
  MYSQL_FIELD* fields = mysql_fetch_fields(result);
  set.columns.reserve(field_count);
  for (unsigned int i = 0; i < field_count; ++i) set.columns.emplace_back(fields[i].name);
  set.rows.reserve(mysql_num_rows(result));
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    const unsigned long* lengths = mysql_fetch_lengths(result);
    Row out;
    out.reserve(field_count);
    for (unsigned int i = 0; i < field_count; ++i) {
      if (row[i] == nullptr) {
        out.emplace_back(std::nullopt);
      } else {
        out.emplace_back(std::string(row[i], lengths[i]));
      }
    }
    set.rows.push_back(std::move(out));
  }
  mysql_free_result(result);
  return set;
}

ExecResult MysqlConnection::execute(std::string_view sql) {
  run_text(sql);
  return ExecResult{mysql_affected_rows(handle_), mysql_insert_id(handle_)};
}

ResultSet MysqlConnection::query(std::string_view sql, std::initializer_list<Param> params) {
  return fetch(run_prepared(sql, params.begin(), params.size()));
}

ResultSet MysqlConnection::query(std::string_view sql, const Params& params) {
  return fetch(run_prepared(sql, params.data(), params.size()));
}

ExecResult MysqlConnection::execute(std::string_view sql, std::initializer_list<Param> params) {
  return execute(sql, Params(params));
}

ExecResult MysqlConnection::execute(std::string_view sql, const Params& params) {
  st_mysql_stmt* statement = run_prepared(sql, params.data(), params.size());
  if (mysql_stmt_field_count(statement) > 0) mysql_stmt_free_result(statement);
  return ExecResult{mysql_stmt_affected_rows(statement), mysql_stmt_insert_id(statement)};
}

void MysqlConnection::execute_script(std::string_view sql) {
  last_used_ = std::chrono::steady_clock::now();
  if (mysql_real_query(handle_, sql.data(), sql.size()) != 0) fail("script failed");
  while (true) {
    if (MYSQL_RES* result = mysql_store_result(handle_)) mysql_free_result(result);
    const int next = mysql_next_result(handle_);
    if (next == -1) break;
    if (next > 0) fail("script statement failed");
  }
}

bool MysqlConnection::ping() {
  last_used_ = std::chrono::steady_clock::now();
  return mysql_ping(handle_) == 0;
}

bool MysqlConnection::in_transaction() const noexcept {
  // The server's status flags from its last OK packet: no round trip.
  unsigned int status = 0;
  return mariadb_get_infov(handle_, MARIADB_CONNECTION_SERVER_STATUS, &status) == 0 &&
         (status & SERVER_STATUS_IN_TRANS) != 0;
}

void MysqlConnection::begin() {
  if (!implicit_transactions_) {
    run_text("START TRANSACTION");
    return;
  }
  if (in_transaction()) {
    throw std::logic_error("Transaction begun inside an open transaction of an implicit-transaction session");
  }
}

void MysqlConnection::end_unit_of_work(bool succeeded) {
  if (!implicit_transactions_ || !in_transaction()) return;
  if (succeeded) {
    commit();
  } else {
    rollback();
  }
}

void MysqlConnection::rollback() noexcept {
  // A failed rollback means the connection is broken; the server rolls back on disconnect.
  mysql_real_query(handle_, "ROLLBACK", 8);
}

}  // namespace ticketing::infra::mysql
