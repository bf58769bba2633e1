#pragma once
// Refresh tokens (DESIGN.md §12): stored only as hashes, grouped in families (one per sign-in),
// single use. The store hashes what it is given; callers only ever see raw tokens.
#include <optional>
#include <string>

#include "domain/account.hpp"
#include "domain/async.hpp"

namespace ticketing::domain {

struct RotationOutcome {
  enum class Kind { kRotated, kUnknown, kReuseDetected, kRevoked, kExpired };
  Kind kind = Kind::kUnknown;
  UserId user;         // set unless kUnknown
  std::string family;  // set unless kUnknown
};

class RefreshTokenStore {
 public:
  virtual ~RefreshTokenStore() = default;
  virtual Task<void> store(const std::string& raw_token, const std::string& family, UserId user,
                           Timestamp expires_at) = 0;
  // One transaction: lock the presented token's row, decide with domain::decide_refresh, then spend
  // it and store `next_raw_token` in the same family (kRotated), or revoke the whole family when a
  // spent token comes back (kReuseDetected). Nothing changes for the other outcomes.
  virtual Task<RotationOutcome> rotate(const std::string& presented_raw_token, const std::string& next_raw_token,
                                       Timestamp next_expires_at, Timestamp now) = 0;
  // Revokes every token of the family (logout). Idempotent.
  virtual Task<void> revoke_family(const std::string& family, Timestamp now) = 0;
};

}  // namespace ticketing::domain
