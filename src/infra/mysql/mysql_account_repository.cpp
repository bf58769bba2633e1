#include "infra/mysql/mysql_account_repository.hpp"

#include <sodium.h>

#include "infra/mysql/row_reader.hpp"

namespace ticketing::infra::mysql {
namespace {

constexpr std::string_view kSelectAccount =
    "SELECT id, email, name, role, status, password_hash, created_at FROM user_account ";
const std::string kAccountById = std::string(kSelectAccount) + "WHERE id = ?";
const std::string kAccountByEmail = std::string(kSelectAccount) + "WHERE email = ?";

domain::Account account_from(const Row& row) {
  domain::Account account;
  account.id = domain::UserId{to_int64(row[0])};
  account.email = to_string(row[1]);
  account.name = to_string(row[2]);
  account.role = domain::role_from(to_string(row[3])).value_or(domain::Role::kFan);
  account.status = domain::account_status_from(to_string(row[4])).value_or(domain::AccountStatus::kDisabled);
  if (row[5]) account.password_hash = *row[5];
  account.created_at = to_timestamp(row[6]);
  return account;
}

std::optional<domain::Account> first_account(const ResultSet& result) {
  if (result.rows.empty()) return std::nullopt;
  return account_from(result.rows[0]);
}

std::optional<domain::Account> find_by_id_now(MysqlConnection& db, std::int64_t id) {
  return first_account(db.query(kAccountById, {id}));
}

}  // namespace

std::optional<domain::Account> MysqlAccountRepository::create_now(MysqlConnection& db,
                                                                  const domain::NewAccount& account) {
  try {
    const auto inserted =
        db.execute("INSERT INTO user_account (email, name, password_hash, role, status) VALUES (?, ?, ?, ?, 'ACTIVE')",
                   {account.email, account.name, account.password_hash, domain::to_string(account.role)});
    return find_by_id_now(db, static_cast<std::int64_t>(inserted.last_insert_id));
  } catch (const MysqlError& error) {
    if (error.is_duplicate_key()) return std::nullopt;
    throw;
  }
}

Task<std::optional<domain::Account>> MysqlAccountRepository::create(const domain::NewAccount& account) {
  auto work = [account](MysqlConnection& db) { return create_now(db, account); };
  co_return co_await pool_.run(work);
}

Task<std::optional<domain::Account>> MysqlAccountRepository::find_by_email(const std::string& email) {
  auto work = [email](MysqlConnection& db) { return first_account(db.query(kAccountByEmail, {email})); };
  co_return co_await pool_.run(work);
}

Task<std::optional<domain::Account>> MysqlAccountRepository::find_by_id(domain::UserId user) {
  auto work = [user](MysqlConnection& db) { return find_by_id_now(db, user.value); };
  co_return co_await pool_.run(work);
}

std::string MysqlRefreshTokenStore::token_hash(std::string_view raw_token) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(raw_token.data()), raw_token.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

Task<void> MysqlRefreshTokenStore::store(const std::string& raw_token, const std::string& family, domain::UserId user,
                                         domain::Timestamp expires_at) {
  auto work = [hash = token_hash(raw_token), family, user, expires_at](MysqlConnection& db) {
    db.execute("INSERT INTO refresh_token (token_hash, family_id, user_id, expires_at) VALUES (?, ?, ?, ?)",
               {hash, family, user.value, expires_at});
  };
  co_await pool_.run(work);
}

Task<domain::RotationOutcome> MysqlRefreshTokenStore::rotate(const std::string& presented_raw_token,
                                                             const std::string& next_raw_token,
                                                             domain::Timestamp next_expires_at, domain::Timestamp now) {
  auto work = [presented = token_hash(presented_raw_token), next = token_hash(next_raw_token), next_expires_at,
               now](MysqlConnection& db) {
    using Kind = domain::RotationOutcome::Kind;
    Transaction tx(db);
    // The row lock serialises two refreshes racing with the same token: the second sees it spent.
    const auto found = db.query(
        "SELECT user_id, family_id, expires_at, spent_at IS NOT NULL, revoked_at IS NOT NULL "
        "FROM refresh_token WHERE token_hash = ? FOR UPDATE",
        {presented});
    if (found.rows.empty()) return domain::RotationOutcome{Kind::kUnknown, {}, {}};
    RowReader read(found.rows[0]);
    domain::RefreshTokenRow token;
    token.user = domain::UserId{read.int64()};
    token.family = read.text();
    token.expires_at = read.timestamp();
    token.spent = read.flag();
    token.revoked = read.flag();
    domain::RotationOutcome outcome{Kind::kUnknown, token.user, token.family};
    switch (domain::decide_refresh(token, now)) {
      case domain::RefreshDecision::kRotate:
        db.execute("UPDATE refresh_token SET spent_at = ? WHERE token_hash = ?", {now, presented});
        db.execute("INSERT INTO refresh_token (token_hash, family_id, user_id, expires_at) VALUES (?, ?, ?, ?)",
                   {next, token.family, token.user.value, next_expires_at});
        outcome.kind = Kind::kRotated;
        break;
      case domain::RefreshDecision::kReuseDetected:
        db.execute("UPDATE refresh_token SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
                   {now, token.family});
        outcome.kind = Kind::kReuseDetected;
        break;
      case domain::RefreshDecision::kRevoked: outcome.kind = Kind::kRevoked; break;
      case domain::RefreshDecision::kExpired: outcome.kind = Kind::kExpired; break;
    }
    tx.commit();
    return outcome;
  };
  co_return co_await pool_.run(work);
}

Task<void> MysqlRefreshTokenStore::revoke_family(const std::string& family, domain::Timestamp now) {
  auto work = [family, now](MysqlConnection& db) {
    db.execute("UPDATE refresh_token SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL", {now, family});
  };
  co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
