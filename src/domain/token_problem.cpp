#include "domain/ports/token_service.hpp"

namespace ticketing::domain {

std::string_view to_string(TokenProblem problem) noexcept {
  switch (problem) {
    case TokenProblem::kMalformed: return "malformed";
    case TokenProblem::kBadSignature: return "bad signature";
    case TokenProblem::kWrongAlgorithm: return "algorithm not accepted";
    case TokenProblem::kExpired: return "expired";
  }
  return "malformed";
}

}  // namespace ticketing::domain
