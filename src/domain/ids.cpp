#include "domain/ids.hpp"

#include <limits>

namespace ticketing::domain {

std::optional<std::int64_t> parse_canonical_id(std::string_view text) noexcept {
  if (text.empty() || text.size() > 19 || text.front() == '0') return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');  // 19 digits fit in uint64
  }
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

}  // namespace ticketing::domain
