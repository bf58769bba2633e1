#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "domain/ids.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

// What an admission token proves: this user was admitted for this schedule, until `expires_at`.
struct AdmissionClaims {
  UserId user;
  ScheduleId schedule;
  Timestamp issued_at;
  Timestamp expires_at;
};

enum class TokenProblem { kMalformed, kBadSignature, kWrongAlgorithm, kExpired };
std::string_view to_string(TokenProblem problem) noexcept;

struct TokenCheck {
  std::optional<AdmissionClaims> claims;  // set when valid
  TokenProblem problem = TokenProblem::kMalformed;
};

class TokenService {
 public:
  virtual ~TokenService() = default;
  virtual std::string issue(const AdmissionClaims& claims) const = 0;
  virtual TokenCheck verify(std::string_view token, Timestamp now) const = 0;
};

}  // namespace ticketing::domain
