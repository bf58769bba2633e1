#pragma once
// Signed proof-of-work challenges for the queue's enter (DESIGN.md §15).
#include <optional>
#include <string>
#include <string_view>

#include "domain/queue_pacing.hpp"

namespace ticketing::domain {

enum class PowProblem { kNone, kInvalid, kExpired };

struct PowCheck {
  std::optional<PowChallenge> challenge;  // set only when the solution is valid
  PowProblem problem = PowProblem::kNone;
};

class ProofOfWork {
 public:
  virtual ~ProofOfWork() = default;
  // The challenge's text, signed by the server.
  virtual std::string issue(const PowChallenge& challenge) const = 0;
  // kInvalid: forged or malformed text, another user's or schedule's challenge, or a nonce whose
  // hash lacks the difficulty's zero bits; kExpired: a genuine challenge past its expiry.
  virtual PowCheck verify(std::string_view challenge, std::string_view nonce, UserId user, ScheduleId schedule,
                          Timestamp now) const = 0;
};

}  // namespace ticketing::domain
