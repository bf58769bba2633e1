#pragma once
// Accounts, sign-in and sessions (DESIGN.md §12): sign-up, login, refresh-token rotation with reuse
// detection, logout, and the per-request check of the access token.
#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "domain/account.hpp"
#include "domain/ports/access_token_service.hpp"
#include "domain/ports/account_repository.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/password_hasher.hpp"
#include "domain/ports/random_source.hpp"
#include "domain/ports/rate_limiter.hpp"
#include "domain/ports/refresh_token_store.hpp"
#include "domain/ports/session_revocations.hpp"

namespace ticketing::application {

struct AuthPolicy {
  std::chrono::milliseconds access_ttl{std::chrono::minutes(15)};
  std::chrono::milliseconds refresh_ttl{std::chrono::hours(24 * 14)};
  domain::Limit login_failures{10, std::chrono::minutes(15)};    // per account
  domain::Limit address_attempts{600, std::chrono::minutes(1)};  // login + sign-up per client address
  // Failed sign-ins per client address, across accounts (password spraying). Below the attempts
  // limit so an attacker meets it first, while many people signing in from one address do not.
  domain::Limit address_failures{100, std::chrono::minutes(1)};
};

struct SignedIn {
  std::string access_token;
  std::chrono::seconds expires_in{0};
  std::string refresh_token;
  std::chrono::seconds refresh_expires_in{0};
  domain::Account account;
};

struct AuthCounters {
  std::atomic<std::uint64_t> sign_ups{0};
  std::atomic<std::uint64_t> logins{0};
  std::atomic<std::uint64_t> login_failures{0};
  std::atomic<std::uint64_t> limited{0};  // refused with 429
  std::atomic<std::uint64_t> refreshes{0};
  std::atomic<std::uint64_t> reuse_detected{0};
  std::atomic<std::uint64_t> logouts{0};
};

class AuthService {
 public:
  AuthService(domain::AccountRepository& accounts, domain::RefreshTokenStore& refresh_tokens,
              domain::PasswordHasher& hasher, domain::AccessTokenService& access_tokens,
              domain::SessionRevocations& revocations, domain::RateLimiter& limiter, domain::RandomSource& random,
              const domain::Clock& clock, AuthPolicy policy)
      : accounts_(accounts),
        refresh_tokens_(refresh_tokens),
        hasher_(hasher),
        access_tokens_(access_tokens),
        revocations_(revocations),
        limiter_(limiter),
        random_(random),
        clock_(clock),
        policy_(policy) {}

  // 400 bad fields, 409 EMAIL_TAKEN, 429 too many attempts from the address. A FAN account.
  // 400 naming every bad field: `read_errors` (what the request body lacked) and the sign-up rules.
  Task<domain::Account> sign_up(std::string email, std::string password, std::string name, std::string client_address,
                                std::vector<domain::FieldError> read_errors = {});
  // 401 INVALID_CREDENTIALS (same for unknown email and wrong password), 403 disabled account,
  // 429 (account failures or address attempts; nothing is verified then).
  Task<SignedIn> log_in(std::string email, std::string password, std::string client_address);
  // Spends the refresh token and returns a new pair. 401 for an unknown, expired, revoked or spent
  // token; a spent one also revokes its whole family (and the family's access tokens).
  Task<SignedIn> refresh(std::optional<std::string> refresh_token);
  // Ends the caller's sign-in: its refresh tokens and access tokens stop working.
  Task<void> log_out(domain::Principal principal);
  // 401 when the account no longer exists.
  Task<domain::Account> me(domain::Principal principal);

  // The caller of a request: 401 unless `bearer_token` is a valid access token of a live sign-in.
  // CPU only (no I/O), so it runs before anything else of the request.
  domain::Principal authenticate(const std::optional<std::string>& bearer_token) const;

  AuthCounters& counters() noexcept { return counters_; }
  const AuthPolicy& policy() const noexcept { return policy_; }

 private:
  Task<void> check_address(const std::string& client_address);
  Task<SignedIn> start_session(domain::Account account);
  SignedIn signed_in(const domain::Account& account, const std::string& session, std::string refresh_token) const;

  domain::AccountRepository& accounts_;
  domain::RefreshTokenStore& refresh_tokens_;
  domain::PasswordHasher& hasher_;
  domain::AccessTokenService& access_tokens_;
  domain::SessionRevocations& revocations_;
  domain::RateLimiter& limiter_;
  domain::RandomSource& random_;
  const domain::Clock& clock_;
  AuthPolicy policy_;
  AuthCounters counters_;
};

}  // namespace ticketing::application
