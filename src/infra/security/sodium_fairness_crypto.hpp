#pragma once
// libsodium behind domain::FairnessCrypto: crypto_hash_sha256, crypto_auth_hmacsha256 and
// randombytes_buf (getrandom(2)). Stateless and thread-safe.
#include "domain/ports/fairness_crypto.hpp"

namespace ticketing::infra::security {

class SodiumFairnessCrypto final : public domain::FairnessCrypto {
 public:
  domain::Digest sha256(std::string_view data) const override;
  domain::Digest hmac_sha256(const domain::Digest& key, std::string_view message) const override;
  domain::Digest random_seed() override;
};

}  // namespace ticketing::infra::security
