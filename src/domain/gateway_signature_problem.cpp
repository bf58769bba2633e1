#include "domain/ports/gateway_verifier.hpp"

namespace ticketing::domain {

std::string_view to_string(GatewaySignatureProblem problem) noexcept {
  switch (problem) {
    case GatewaySignatureProblem::kNone: return "none";
    case GatewaySignatureProblem::kMissing: return "missing";
    case GatewaySignatureProblem::kMalformed: return "malformed";
    case GatewaySignatureProblem::kStale: return "stale";
    case GatewaySignatureProblem::kBadSignature: return "bad signature";
  }
  return "malformed";
}

}  // namespace ticketing::domain
