#pragma once
// UTF-8 helpers for src/, which depend on nothing of ours.
#include <cstddef>
#include <string_view>

namespace ticketing::support {

// The first at most `bytes` bytes of `text`, not cutting a UTF-8 sequence in two (a cut one would be
// invalid text in a utf8mb4 column or a JSON string).
inline std::string_view utf8_prefix(std::string_view text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) --bytes;
  return text.substr(0, bytes);
}

}  // namespace ticketing::support
