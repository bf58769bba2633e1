#pragma once
// Admission tokens as compact HS256 JWS (RFC 7515/7519), DESIGN.md §5 "Booking endpoints" and
// "401 vs 403". Only tokens this service issued verify: header alg must be exactly "HS256" and iss ours.
#include <memory>
#include <string>
#include <string_view>

#include "domain/ports/token_service.hpp"

namespace ticketing::infra::security {

class HmacSha256;

class JwtTokenService final : public domain::TokenService {
 public:
  static constexpr std::size_t kMinSecretBytes = 32;  // RFC 7518 §3.2: key ≥ hash output size
  static constexpr std::size_t kMaxTokenBytes = 2048;

  // Throws std::invalid_argument when the secret is shorter than kMinSecretBytes or the issuer is
  // empty / not plain printable ASCII. The secret never appears in logs or exception messages.
  explicit JwtTokenService(std::string secret, std::string issuer = "ticketing");
  ~JwtTokenService() override;
  JwtTokenService(const JwtTokenService&) = delete;
  JwtTokenService& operator=(const JwtTokenService&) = delete;

  // Times are truncated to whole seconds. Throws std::invalid_argument for non-positive ids or when
  // the truncated expiry is not after the truncated issue time (a token that could never verify).
  std::string issue(const domain::AdmissionClaims& claims) const override;
  // Thread-safe; never throws on bad input (every problem is reported in TokenCheck).
  domain::TokenCheck verify(std::string_view token, domain::Timestamp now) const override;

 private:
  std::unique_ptr<const HmacSha256> mac_;  // keyed once (OpenSSL types stay out of this header)
  std::string payload_prefix_;             // {"iss":"<issuer>","sub":"  — the constant start of every payload
  std::string issuer_;
};

}  // namespace ticketing::infra::security
