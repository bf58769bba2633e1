#include "support/etag.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace ticketing::support {

std::string etag_of(std::string_view body) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char c : body) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return fmt::format("\"{:016x}-{:x}\"", hash, body.size());
}

}  // namespace ticketing::support
