#pragma once
#include "domain/async.hpp"
#include "domain/ids.hpp"

namespace ticketing::domain {

class UserRepository {
 public:
  virtual ~UserRepository() = default;
  virtual Task<bool> exists(UserId user) = 0;
};

}  // namespace ticketing::domain
