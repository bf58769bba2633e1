#pragma once
// Randomness that must not be guessed (refresh tokens, session ids) comes from a CSPRNG.
#include <cstddef>
#include <string>

namespace ticketing::domain {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // `bytes` random bytes, unpadded base64url.
  virtual std::string token(std::size_t bytes) = 0;
  // `bytes` random bytes, lower-case hex.
  virtual std::string hex(std::size_t bytes) = 0;
};

}  // namespace ticketing::domain
