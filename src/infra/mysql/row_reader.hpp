#pragma once
// Typed reads of result rows (every column arrives as text, NULL as nullopt). A NULL or malformed
// value where the schema forbids one is a bug (or a schema drift), reported as
// std::runtime_error → 500.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "domain/money.hpp"
#include "domain/time.hpp"
#include "infra/mysql/mysql_connection.hpp"

namespace ticketing::infra::mysql {

std::int64_t to_int64(const std::optional<std::string>& value);
std::string to_string(const std::optional<std::string>& value);
domain::Money to_money(const std::optional<std::string>& value);
domain::Timestamp to_timestamp(const std::optional<std::string>& value);

// Reads one row's columns left to right, in SELECT order:
//   RowReader read(row); const auto id = read.int64(); const auto seat = read.text(); ...
class RowReader {
 public:
  explicit RowReader(const Row& row) : row_(row) {}
  std::int64_t int64() { return to_int64(next()); }
  std::string text() { return to_string(next()); }
  domain::Money money() { return to_money(next()); }
  domain::Timestamp timestamp() { return to_timestamp(next()); }
  bool flag() { return to_int64(next()) != 0; }
  std::optional<std::int64_t> optional_int64() { return optional(&to_int64); }
  std::optional<std::string> optional_text() { return next(); }
  std::optional<domain::Timestamp> optional_timestamp() { return optional(&to_timestamp); }

 private:
  const std::optional<std::string>& next();
  template <typename T>
  std::optional<T> optional(T (*convert)(const std::optional<std::string>&)) {
    const auto& value = next();
    if (!value) return std::nullopt;
    return convert(value);
  }
  const Row& row_;
  std::size_t column_ = 0;
};

}  // namespace ticketing::infra::mysql
