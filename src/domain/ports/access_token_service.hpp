#pragma once
// Access tokens (DESIGN.md §12): short-lived signed JWTs saying who is calling. Their key is not
// the queue tokens' key.
#include <optional>
#include <string>
#include <string_view>

#include "domain/account.hpp"
#include "domain/ports/token_service.hpp"

namespace ticketing::domain {

struct AccessClaims {
  UserId user;
  Role role = Role::kFan;
  std::string session;  // refresh-token family: logout or reuse revokes every access token of it
  Timestamp issued_at{};
  Timestamp expires_at{};
};

struct AccessTokenCheck {
  std::optional<AccessClaims> claims;  // set when valid
  TokenProblem problem = TokenProblem::kMalformed;
};

class AccessTokenService {
 public:
  virtual ~AccessTokenService() = default;
  virtual std::string issue(const AccessClaims& claims) const = 0;
  virtual AccessTokenCheck verify(std::string_view token, Timestamp now) const = 0;
};

}  // namespace ticketing::domain
