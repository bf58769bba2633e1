#pragma once
#include "domain/ports/account_repository.hpp"
#include "domain/ports/refresh_token_store.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

class MysqlAccountRepository final : public domain::AccountRepository {
 public:
  explicit MysqlAccountRepository(MysqlPool& pool) : pool_(pool) {}
  Task<std::optional<domain::Account>> create(const domain::NewAccount& account) override;
  Task<std::optional<domain::Account>> find_by_email(const std::string& email) override;
  Task<std::optional<domain::Account>> find_by_id(domain::UserId user) override;

  // Blocking, for commands: nullopt when the email is taken.
  static std::optional<domain::Account> create_now(MysqlConnection& db, const domain::NewAccount& account);

 private:
  MysqlPool& pool_;
};

class MysqlRefreshTokenStore final : public domain::RefreshTokenStore {
 public:
  explicit MysqlRefreshTokenStore(MysqlPool& pool) : pool_(pool) {}
  Task<void> store(const std::string& raw_token, const std::string& family, domain::UserId user,
                   domain::Timestamp expires_at) override;
  Task<domain::RotationOutcome> rotate(const std::string& presented_raw_token, const std::string& next_raw_token,
                                       domain::Timestamp next_expires_at, domain::Timestamp now) override;
  Task<void> revoke_family(const std::string& family, domain::Timestamp now) override;

  // Lower-case hex SHA-256: what the table stores instead of the token.
  static std::string token_hash(std::string_view raw_token);

 private:
  MysqlPool& pool_;
};

}  // namespace ticketing::infra::mysql
