#pragma once
// Password hashing (Argon2id) runs on a small bounded pool of its own, never on an I/O thread. A full
// pool throws DependencyUnavailable (503 + Retry-After) instead of queueing without bound.
#include <optional>
#include <string>

#include "domain/async.hpp"

namespace ticketing::domain {

class PasswordHasher {
 public:
  virtual ~PasswordHasher() = default;
  virtual Task<std::string> hash(std::string password) = 0;
  // With no stored hash (unknown account) it verifies against a dummy hash and returns false, so
  // an unknown email costs the same time as a wrong password.
  virtual Task<bool> verify(std::optional<std::string> stored_hash, std::string password) = 0;
};

}  // namespace ticketing::domain
