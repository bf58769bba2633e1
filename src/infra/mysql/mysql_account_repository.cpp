#include "infra/mysql/mysql_account_repository.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include "infra/mysql/row_reader.hpp"
#include "infra/mysql/sql_text.hpp"

namespace ticketing::infra::mysql {
namespace {

constexpr std::string_view kAccountColumns = "id, email, name, role, status, password_hash, created_at";

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

std::optional<domain::Account> find_where(MysqlConnection& db, const std::string& where) {
  const auto result = db.query(fmt::format("SELECT {} FROM user_account WHERE {}", kAccountColumns, where));
  if (result.rows.empty()) return std::nullopt;
  return account_from(result.rows[0]);
}

}  // namespace

std::optional<domain::Account> MysqlAccountRepository::create_now(MysqlConnection& db,
                                                                  const domain::NewAccount& account) {
  try {
    const auto inserted = db.execute(fmt::format(
        "INSERT INTO user_account (email, name, password_hash, role, status) VALUES ({}, {}, {}, {}, 'ACTIVE')",
        db.quote(account.email), db.quote(account.name), db.quote(account.password_hash),
        db.quote(domain::to_string(account.role))));
    return find_where(db, fmt::format("id = {}", inserted.last_insert_id));
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
  auto work = [email](MysqlConnection& db) { return find_where(db, "email = " + db.quote(email)); };
  co_return co_await pool_.run(work);
}

Task<std::optional<domain::Account>> MysqlAccountRepository::find_by_id(domain::UserId user) {
  auto work = [user](MysqlConnection& db) { return find_where(db, fmt::format("id = {}", user.value)); };
  co_return co_await pool_.run(work);
}

std::string MysqlRefreshTokenStore::token_hash(std::string_view raw_token) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(raw_token.data()), raw_token.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

Task<void> MysqlRefreshTokenStore::store(const std::string& raw_token, const std::string& family,
                                         domain::UserId user, domain::Timestamp expires_at) {
  auto work = [hash = token_hash(raw_token), family, user, expires_at](MysqlConnection& db) {
    db.execute(fmt::format(
        "INSERT INTO refresh_token (token_hash, family_id, user_id, expires_at) VALUES ('{}', {}, {}, {})", hash,
        db.quote(family), user.value, sql_time(db, expires_at)));
  };
  co_await pool_.run(work);
}

Task<domain::RotationOutcome> MysqlRefreshTokenStore::rotate(const std::string& presented_raw_token,
                                                             const std::string& next_raw_token,
                                                             domain::Timestamp next_expires_at,
                                                             domain::Timestamp now) {
  auto work = [presented = token_hash(presented_raw_token), next = token_hash(next_raw_token), next_expires_at,
               now](MysqlConnection& db) {
    using Kind = domain::RotationOutcome::Kind;
    Transaction tx(db);
    // The row lock serialises two refreshes racing with the same token: the second sees it spent.
    const auto found = db.query(fmt::format(
        "SELECT user_id, family_id, expires_at, spent_at IS NOT NULL, revoked_at IS NOT NULL "
        "FROM refresh_token WHERE token_hash = '{}' FOR UPDATE",
        presented));
    if (found.rows.empty()) return domain::RotationOutcome{Kind::kUnknown, {}, {}};
    const auto& row = found.rows[0];
    const domain::RefreshTokenRow token{domain::UserId{to_int64(row[0])}, to_string(row[1]), to_timestamp(row[2]),
                                        to_string(row[3]) == "1", to_string(row[4]) == "1"};
    domain::RotationOutcome outcome{Kind::kUnknown, token.user, token.family};
    switch (domain::decide_refresh(token, now)) {
      case domain::RefreshDecision::kRotate:
        db.execute(fmt::format("UPDATE refresh_token SET spent_at = {} WHERE token_hash = '{}'", sql_time(db, now),
                               presented));
        db.execute(fmt::format(
            "INSERT INTO refresh_token (token_hash, family_id, user_id, expires_at) VALUES ('{}', {}, {}, {})", next,
            db.quote(token.family), token.user.value, sql_time(db, next_expires_at)));
        outcome.kind = Kind::kRotated;
        break;
      case domain::RefreshDecision::kReuseDetected:
        db.execute(fmt::format("UPDATE refresh_token SET revoked_at = {} WHERE family_id = {} AND revoked_at IS NULL",
                               sql_time(db, now), db.quote(token.family)));
        outcome.kind = Kind::kReuseDetected;
        break;
      case domain::RefreshDecision::kRevoked:
        outcome.kind = Kind::kRevoked;
        break;
      case domain::RefreshDecision::kExpired:
        outcome.kind = Kind::kExpired;
        break;
    }
    tx.commit();
    return outcome;
  };
  co_return co_await pool_.run(work);
}

Task<void> MysqlRefreshTokenStore::revoke_family(const std::string& family, domain::Timestamp now) {
  auto work = [family, now](MysqlConnection& db) {
    db.execute(fmt::format("UPDATE refresh_token SET revoked_at = {} WHERE family_id = {} AND revoked_at IS NULL",
                           sql_time(db, now), db.quote(family)));
  };
  co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
