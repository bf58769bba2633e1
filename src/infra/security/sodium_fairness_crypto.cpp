#include "infra/security/sodium_fairness_crypto.hpp"

#include <sodium.h>

#include "infra/security/random.hpp"

namespace ticketing::infra::security {

static_assert(crypto_hash_sha256_BYTES == 32 && crypto_auth_hmacsha256_BYTES == 32);

domain::Digest SodiumFairnessCrypto::sha256(std::string_view data) const {
  domain::Digest out{};
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}

domain::Digest SodiumFairnessCrypto::hmac_sha256(const domain::Digest& key, std::string_view message) const {
  // The _init form takes a key of any length (here the 32-byte seed) exactly as RFC 2104 HMAC does,
  // so `openssl dgst -sha256 -mac HMAC -macopt hexkey:<seed>` computes the same value.
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  domain::Digest out{};
  crypto_auth_hmacsha256_final(&state, out.data());
  return out;
}

domain::Digest SodiumFairnessCrypto::random_seed() {
  domain::Digest seed{};
  random_bytes(seed.data(), seed.size());
  return seed;
}

}  // namespace ticketing::infra::security
