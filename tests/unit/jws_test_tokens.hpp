#pragma once
// Compact JWS built independently of the code under test (its own base64url, OpenSSL's one-shot
// HMAC), so a token-service test can make tokens whose only fault is the one it means.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "domain/time.hpp"

namespace ticketing::testing {

inline domain::Timestamp at_seconds(std::int64_t s) {
  return domain::Timestamp{std::chrono::seconds{s}};
}

inline std::string b64url(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned bits = 0, acc = 0;
  for (unsigned char c : data) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) out += kAlphabet[(acc >> (bits -= 6)) & 63];
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

inline std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

// A token with arbitrary header/payload JSON, correctly signed with `key` by `md`.
inline std::string signed_token(std::string_view header_json, std::string_view payload_json, std::string_view key,
                                const EVP_MD* md = EVP_sha256()) {
  const std::string input = b64url(header_json) + "." + b64url(payload_json);
  return input + "." + b64url(hmac(md, key, input));
}

}  // namespace ticketing::testing
