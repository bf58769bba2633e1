#pragma once
// Proof-of-work challenges signed with HMAC-SHA256 (queue.pow-secret); solutions checked with
// SHA-256 (DESIGN.md §15).
#include <memory>
#include <string>

#include "domain/ports/proof_of_work.hpp"

namespace ticketing::infra::security {

class HmacSha256;

class HmacProofOfWork final : public domain::ProofOfWork {
 public:
  explicit HmacProofOfWork(std::string_view secret);
  ~HmacProofOfWork() override;
  HmacProofOfWork(const HmacProofOfWork&) = delete;
  HmacProofOfWork& operator=(const HmacProofOfWork&) = delete;

  std::string issue(const domain::PowChallenge& challenge) const override;
  domain::PowCheck verify(std::string_view challenge, std::string_view nonce, domain::UserId user,
                          domain::ScheduleId schedule, domain::Timestamp now) const override;

 private:
  std::unique_ptr<const HmacSha256> mac_;
};

// SHA-256 of the concatenation of `parts` (also used by tests and the solver of the load tools).
void sha256(std::initializer_list<std::string_view> parts, unsigned char (&out)[32]);
// The smallest decimal nonce that solves `challenge` (tests, benches; the browser has its own).
std::string solve_pow(std::string_view challenge, int difficulty);

}  // namespace ticketing::infra::security
