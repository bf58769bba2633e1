#pragma once
// Cryptographically secure random bytes (libsodium's randombytes_buf: getrandom(2) on Linux) for
// anything an attacker must not predict: order numbers, event ids, tokens, nonces. Thread-safe.
// Each function throws std::runtime_error only if libsodium cannot be initialised at all.
#include <cstddef>
#include <string>

namespace ticketing::infra::security {

// Fills out[0..n) with random bytes.
void random_bytes(unsigned char* out, std::size_t n);
// `bytes` random bytes as 2*bytes lowercase hex digits.
std::string random_hex(std::size_t bytes);
// `bytes` random bytes as unpadded base64url (RFC 4648 §5): ceil(4*bytes/3) characters of A-Z a-z 0-9 - _.
std::string random_base64url(std::size_t bytes);

}  // namespace ticketing::infra::security
