#pragma once
// Money in minor units (cents) so sums are exact; the DB stores DECIMAL(12,2).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ticketing::domain {

struct Money {
  std::int64_t cents = 0;

  friend auto operator<=>(const Money&, const Money&) = default;
  Money& operator+=(Money other) {
    cents += other.cents;
    return *this;
  }

  // "1234.50" — always two decimals, the form used in JSON and SQL.
  std::string to_decimal_string() const;
  // Parses "1234", "1234.5", "1234.50" (as MariaDB returns DECIMAL), at most 14 digits before the
  // point (so what to_decimal_string() writes parses back); nullopt otherwise.
  static std::optional<Money> from_decimal_string(std::string_view text);
};

}  // namespace ticketing::domain
