#pragma once
#include <optional>
#include <string>

#include "domain/account.hpp"
#include "domain/async.hpp"

namespace ticketing::domain {

struct NewAccount {
  std::string email;  // normalised
  std::string name;
  std::string password_hash;
  Role role = Role::kFan;
};

class AccountRepository {
 public:
  virtual ~AccountRepository() = default;
  // nullopt when the email is already taken.
  virtual Task<std::optional<Account>> create(const NewAccount& account) = 0;
  virtual Task<std::optional<Account>> find_by_email(const std::string& email) = 0;
  virtual Task<std::optional<Account>> find_by_id(UserId user) = 0;
};

}  // namespace ticketing::domain
