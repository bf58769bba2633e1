#pragma once
// Ended sign-ins (logout, refresh-token reuse) whose access tokens may still be unexpired. Checked
// on every authenticated request, so the check is a local lookup; revocations reach the other
// instances through a shared store within its sync interval.
#include <string>
#include <string_view>

#include "domain/async.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

class SessionRevocations {
 public:
  virtual ~SessionRevocations() = default;
  virtual bool is_revoked(std::string_view session) const = 0;
  // Takes effect on this instance at once. `until`: when the session's last access token expires
  // (after that the entry is not needed).
  virtual Task<void> revoke(const std::string& session, Timestamp until) = 0;
};

}  // namespace ticketing::domain
