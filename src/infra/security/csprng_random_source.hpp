#pragma once
#include "domain/ports/random_source.hpp"
#include "infra/security/random.hpp"

namespace ticketing::infra::security {

class CsprngRandomSource final : public domain::RandomSource {
 public:
  std::string token(std::size_t bytes) override { return random_base64url(bytes); }
  std::string hex(std::size_t bytes) override { return random_hex(bytes); }
};

}  // namespace ticketing::infra::security
