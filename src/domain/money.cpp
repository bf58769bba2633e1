#include "domain/money.hpp"

#include <charconv>

namespace ticketing::domain {

std::string Money::to_decimal_string() const {
  const bool negative = cents < 0;
  const std::uint64_t abs = negative ? 0 - static_cast<std::uint64_t>(cents) : static_cast<std::uint64_t>(cents);
  char text[32];
  char* at = text;
  if (negative) *at++ = '-';
  at = std::to_chars(at, text + sizeof text, abs / 100).ptr;
  *at++ = '.';
  *at++ = static_cast<char>('0' + abs % 100 / 10);
  *at++ = static_cast<char>('0' + abs % 10);
  return std::string(text, at);
}

std::optional<Money> Money::from_decimal_string(std::string_view text) {
  constexpr int kMaxUnitDigits = 14;
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 17) return std::nullopt;
  std::int64_t units = 0;
  std::int64_t fraction = 0;
  int unit_digits = 0;
  int fraction_digits = 0;
  bool seen_dot = false;
  for (char c : text) {
    if (c == '.') {
      if (seen_dot) return std::nullopt;
      seen_dot = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    if (seen_dot) {
      if (++fraction_digits > 2) return std::nullopt;
      fraction = fraction * 10 + (c - '0');
    } else {
      // At most kMaxUnitDigits, so the cents fit in 64 bits and to_decimal_string()'s form of any
      // accepted amount ("<units>.<2 digits>", at most 17 characters) is accepted too.
      if (++unit_digits > kMaxUnitDigits) return std::nullopt;
      units = units * 10 + (c - '0');
    }
  }
  if (unit_digits + fraction_digits == 0) return std::nullopt;  // "." or "-."
  if (fraction_digits == 1) fraction *= 10;
  const std::int64_t cents = units * 100 + fraction;
  return Money{negative ? -cents : cents};
}

}  // namespace ticketing::domain
