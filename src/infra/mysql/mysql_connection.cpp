#include "infra/mysql/mysql_connection.hpp"

#include <mariadb/errmsg.h>
#include <mariadb/mysql.h>

#include <fmt/format.h>

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
    default:
      return error_number_ >= 2000 && error_number_ < 3000;  // any client-side error
  }
}

MysqlConnection::MysqlConnection(const DbEndpoint& endpoint, bool multi_statements) {
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
  const unsigned long flags = CLIENT_FOUND_ROWS | (multi_statements ? CLIENT_MULTI_STATEMENTS : 0);
  if (mysql_real_connect(handle_, endpoint.host.c_str(), endpoint.user.c_str(), endpoint.password.c_str(),
                         endpoint.database.c_str(), endpoint.port, nullptr, flags) == nullptr) {
    MysqlError error(mysql_errno(handle_), fmt::format("connect to {}:{}/{} failed: {}", endpoint.host,
                                                      endpoint.port, endpoint.database, mysql_error(handle_)));
    mysql_close(handle_);
    handle_ = nullptr;
    throw error;
  }
  last_used_ = std::chrono::steady_clock::now();
}

MysqlConnection::~MysqlConnection() {
  if (handle_ != nullptr) mysql_close(handle_);
}

void MysqlConnection::fail(std::string_view what) {
  throw MysqlError(mysql_errno(handle_), fmt::format("{}: {}", what, mysql_error(handle_)));
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
  last_used_ = std::chrono::steady_clock::now();
  if (mysql_real_query(handle_, sql.data(), sql.size()) != 0) fail("statement failed");
  if (MYSQL_RES* result = mysql_store_result(handle_)) mysql_free_result(result);
  return ExecResult{mysql_affected_rows(handle_), mysql_insert_id(handle_)};
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

void MysqlConnection::rollback() noexcept {
  // A failed rollback means the connection is broken; the server rolls back on disconnect.
  mysql_real_query(handle_, "ROLLBACK", 8);
}

std::string MysqlConnection::quote(std::string_view value) {
  std::string out(value.size() * 2 + 3, '\0');
  out[0] = '\'';
  const unsigned long n = mysql_real_escape_string(handle_, out.data() + 1, value.data(), value.size());
  out[n + 1] = '\'';
  out.resize(n + 2);
  return out;
}

}  // namespace ticketing::infra::mysql
