#pragma once
// Access tokens as compact HS256 JWS (DESIGN.md §12), signed with a key of their own (never the
// queue tokens' key). Only tokens this service issued verify: header alg exactly HS256, our issuer,
// audience "access", and exactly the claims we write.
#include <memory>
#include <string>
#include <string_view>

#include "domain/ports/access_token_service.hpp"

namespace ticketing::infra::security {

class HmacSha256;

class JwtAccessTokenService final : public domain::AccessTokenService {
 public:
  static constexpr std::size_t kMinSecretBytes = 32;
  static constexpr std::size_t kMaxTokenBytes = 2048;

  // Throws std::invalid_argument for a secret under 32 bytes. The secret never appears in messages.
  explicit JwtAccessTokenService(std::string secret, std::string issuer = "ticketing");
  ~JwtAccessTokenService() override;
  JwtAccessTokenService(const JwtAccessTokenService&) = delete;
  JwtAccessTokenService& operator=(const JwtAccessTokenService&) = delete;

  // Times are truncated to whole seconds. Throws std::invalid_argument for a non-positive user id,
  // a session that is not 1-64 characters of [0-9a-z], or an expiry not after the issue time.
  std::string issue(const domain::AccessClaims& claims) const override;
  // Thread-safe; never throws.
  domain::AccessTokenCheck verify(std::string_view token, domain::Timestamp now) const override;

 private:
  std::unique_ptr<const HmacSha256> mac_;
  std::string issuer_;
};

}  // namespace ticketing::infra::security
