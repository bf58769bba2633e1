#include "infra/mysql/row_reader.hpp"

#include <charconv>
#include <stdexcept>

namespace ticketing::infra::mysql {
namespace {

const std::string& require(const std::optional<std::string>& value, const char* what) {
  if (!value) throw std::runtime_error(std::string("unexpected NULL ") + what + " column");
  return *value;
}

}  // namespace

std::int64_t to_int64(const std::optional<std::string>& value) {
  const std::string& text = require(value, "integer");
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) throw std::runtime_error("bad integer column: " + text);
  return out;
}

std::string to_string(const std::optional<std::string>& value) {
  return value.value_or(std::string());
}

domain::Money to_money(const std::optional<std::string>& value) {
  const auto money = domain::Money::from_decimal_string(require(value, "decimal"));
  if (!money) throw std::runtime_error("bad decimal column: " + *value);
  return *money;
}

domain::Timestamp to_timestamp(const std::optional<std::string>& value) {
  const auto t = domain::parse_sql_datetime(require(value, "datetime"));
  if (!t) throw std::runtime_error("bad datetime column: " + *value);
  return *t;
}

const std::optional<std::string>& RowReader::next() {
  if (column_ >= row_.size()) throw std::logic_error("row has only " + std::to_string(row_.size()) + " columns");
  return row_[column_++];
}

}  // namespace ticketing::infra::mysql
