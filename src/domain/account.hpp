#pragma once
// Accounts and who is acting (DESIGN.md §12). Identity comes from the access token only; the api
// layer resolves a Principal once per request and passes its UserId down.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/errors.hpp"
#include "domain/ids.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

enum class Role { kFan, kAdmin };
std::string_view to_string(Role role) noexcept;
std::optional<Role> role_from(std::string_view text) noexcept;

enum class AccountStatus { kActive, kDisabled };
std::string_view to_string(AccountStatus status) noexcept;
std::optional<AccountStatus> account_status_from(std::string_view text) noexcept;

struct Account {
  UserId id;
  std::string email;
  std::string name;
  Role role = Role::kFan;
  AccountStatus status = AccountStatus::kActive;
  std::optional<std::string> password_hash;  // none: the account cannot sign in with a password
  Timestamp created_at{};
};

// The signed-in caller of one request, from a verified access token.
struct Principal {
  UserId user;
  Role role = Role::kFan;
  std::string session;  // the sign-in (refresh-token family) the access token belongs to
};

// Limits of what a person may type (bytes, UTF-8).
inline constexpr std::size_t kMinPasswordBytes = 10;
inline constexpr std::size_t kMaxPasswordBytes = 128;
inline constexpr std::size_t kMaxEmailBytes = 254;  // RFC 5321 path limit
inline constexpr std::size_t kMaxNameBytes = 100;

// Trimmed and lower-cased; nullopt unless it looks like local@domain.tld (ASCII, no spaces, one
// '@', a dot in the domain, within kMaxEmailBytes). Deliberately simple: the mailbox is the proof.
std::optional<std::string> normalize_email(std::string_view raw);
// Trimmed; nullopt when empty, too long, not UTF-8 or holding control characters.
std::optional<std::string> normalize_name(std::string_view raw);

// Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF) without control characters, line or
// paragraph separators, or bidirectional embeddings/overrides/isolates; with
// `multiline`, line breaks and tabs are allowed. For every free text a user or operator stores.
bool is_clean_text(std::string_view text, bool multiline = false);
bool is_acceptable_password(std::string_view password) noexcept;

struct SignUpRequest {
  std::string email;  // normalised
  std::string name;   // normalised
  std::string password;
};
// Throws one 400 INVALID_ARGUMENT naming every bad field: first `read_errors` (fields the request
// could not give, e.g. missing or not a string), then these rules for every field not named there.
SignUpRequest validate_sign_up(std::string_view email, std::string_view password, std::string_view name,
                               std::vector<FieldError> read_errors = {});

// A stored refresh token as the rotation transaction sees it (locked).
struct RefreshTokenRow {
  UserId user;
  std::string family;
  Timestamp expires_at{};
  bool spent = false;
  bool revoked = false;
};
enum class RefreshDecision {
  kRotate,         // spend it, issue the next one in the same family
  kReuseDetected,  // already spent: someone else has it too — revoke the whole family
  kRevoked,        // the family was ended (logout, reuse)
  kExpired,
};
RefreshDecision decide_refresh(const RefreshTokenRow& row, Timestamp now) noexcept;

}  // namespace ticketing::domain
