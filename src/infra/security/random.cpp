#include "infra/security/random.hpp"

#include <sodium.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "infra/security/jws.hpp"

namespace ticketing::infra::security {

namespace {

// sodium_init() is itself thread-safe and idempotent; the static makes it run once per process and
// lets every caller see the outcome (it returns 1 when already initialised, -1 on failure).
void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium could not be initialised");
}

}  // namespace

void random_bytes(unsigned char* out, std::size_t n) {
  ensure_sodium();
  if (n > 0) randombytes_buf(out, n);
}

std::string random_hex(std::size_t bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::vector<unsigned char> raw(bytes);
  random_bytes(raw.data(), raw.size());
  std::string out;
  out.reserve(bytes * 2);
  for (const unsigned char b : raw) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0x0f];
  }
  sodium_memzero(raw.data(), raw.size());
  return out;
}

std::string random_base64url(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  random_bytes(raw.data(), raw.size());
  std::string out;
  out.reserve(base64url_size(bytes));
  append_base64url(out, raw.data(), raw.size());
  sodium_memzero(raw.data(), raw.size());
  return out;
}

}  // namespace ticketing::infra::security
