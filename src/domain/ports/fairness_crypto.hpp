#pragma once
// The hashing behind the pre-queue's commit–reveal shuffle (DESIGN.md §15), kept out of the domain
// so the ordering rules stay pure: SHA-256 for the commitment, HMAC-SHA256 for each user's place,
// and a CSPRNG for the seed.
#include <string_view>

#include "domain/fairness.hpp"

namespace ticketing::domain {

class FairnessCrypto {
 public:
  virtual ~FairnessCrypto() = default;
  virtual Digest sha256(std::string_view data) const = 0;
  virtual Digest hmac_sha256(const Digest& key, std::string_view message) const = 0;
  // 32 bytes that nobody can predict.
  virtual Digest random_seed() = 0;
};

}  // namespace ticketing::domain
