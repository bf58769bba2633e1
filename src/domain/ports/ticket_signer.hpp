#pragma once
#include <string>

#include "domain/ticket.hpp"

namespace ticketing::domain {

// Signs ticket claims into the QR payload a gate verifies offline with the published key.
class TicketSigner {
 public:
  virtual ~TicketSigner() = default;
  virtual std::string sign(const TicketClaims& claims) const = 0;
  virtual const TicketKey& key() const = 0;
};

}  // namespace ticketing::domain
