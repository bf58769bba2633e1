#include "application/auth_service.hpp"

#include <fmt/format.h>

#include "domain/errors.hpp"

namespace ticketing::application {

using domain::DomainError;
using domain::ErrorCode;

namespace {

constexpr std::size_t kRefreshTokenBytes = 32;  // 256 bits
constexpr std::size_t kSessionBytes = 16;       // 32 hex characters
constexpr std::size_t kMaxRefreshTokenLength = 128;
// How long an ended session is remembered: the longest any access token of it can still be valid
// (security.access-token-ttl and `token mint --ttl` are both at most 24 h).
constexpr auto kRevocationMemory = std::chrono::hours(24);

std::string address_key(const std::string& address) {
  return "auth:limit:addr:" + address;
}
std::string address_failure_key(const std::string& address) {
  return "auth:limit:addr-fail:" + address;
}
std::string account_key(const std::string& email) {
  return "auth:limit:fail:" + email;
}

[[noreturn]] void throw_limited(std::chrono::seconds retry_after, std::string_view what) {
  throw domain::RetryLater(ErrorCode::kTooManyRequests,
                           fmt::format("too many {}; retry in {} s", what, retry_after.count()), retry_after);
}

DomainError invalid_credentials() {
  return DomainError(ErrorCode::kInvalidCredentials, "email or password is not correct");
}

std::chrono::seconds whole_seconds(std::chrono::milliseconds duration) {
  return std::chrono::duration_cast<std::chrono::seconds>(duration);
}

}  // namespace

Task<void> AuthService::check_address(const std::string& client_address) {
  if (client_address.empty()) co_return;
  const auto state = co_await limiter_.hit(address_key(client_address), policy_.address_attempts);
  if (!state.allowed) {
    counters_.limited.fetch_add(1, std::memory_order_relaxed);
    throw_limited(state.retry_after, "sign-in attempts from this address");
  }
}

Task<domain::Account> AuthService::sign_up(std::string email, std::string password, std::string name,
                                           std::string client_address, std::vector<domain::FieldError> read_errors) {
  // A malformed request is refused before it counts against the address's attempts.
  auto request = domain::validate_sign_up(email, password, name, std::move(read_errors));
  co_await check_address(client_address);
  auto hash = co_await hasher_.hash(std::move(request.password));
  const domain::NewAccount account{request.email, request.name, std::move(hash), domain::Role::kFan};
  auto created = co_await accounts_.create(account);
  if (!created) throw DomainError(ErrorCode::kEmailTaken, "an account with this email already exists");
  counters_.sign_ups.fetch_add(1, std::memory_order_relaxed);
  co_return std::move(*created);
}

Task<SignedIn> AuthService::log_in(std::string email, std::string password, std::string client_address) {
  co_await check_address(client_address);
  // An address that is not an email cannot have an account: the same 401 as any unknown email.
  const auto normal = domain::normalize_email(email);
  const std::string limit_key = account_key(normal.value_or(email.substr(0, domain::kMaxEmailBytes)));
  const std::string address_limit_key = client_address.empty() ? std::string() : address_failure_key(client_address);
  // Every attempt takes its place in the failure counts before the password is checked, so parallel
  // guesses cannot all slip under a limit that only counted finished failures; a sign-in that was
  // not a failure gives its places back.
  if (!address_limit_key.empty()) {
    const auto spraying = co_await limiter_.hit(address_limit_key, policy_.address_failures);
    if (!spraying.allowed) {
      counters_.limited.fetch_add(1, std::memory_order_relaxed);
      throw_limited(spraying.retry_after, "failed sign-ins from this address");
    }
  }
  const auto failures = co_await limiter_.hit(limit_key, policy_.login_failures);
  if (!failures.allowed) {
    counters_.limited.fetch_add(1, std::memory_order_relaxed);
    if (!address_limit_key.empty()) co_await limiter_.release(address_limit_key);  // not a guess: nothing checked
    throw_limited(failures.retry_after, "failed sign-ins for this account");
  }
  std::optional<domain::Account> account;
  bool verified = false;
  std::exception_ptr unavailable;
  try {
    if (normal) account = co_await accounts_.find_by_email(*normal);
    std::optional<std::string> stored_hash;
    if (account) stored_hash = account->password_hash;
    // Too long a password is simply wrong, but is not worth hashing; the dummy check keeps the time.
    if (password.size() > domain::kMaxPasswordBytes) {
      stored_hash.reset();
      password.resize(domain::kMaxPasswordBytes);
    }
    verified = co_await hasher_.verify(stored_hash, std::move(password));
  } catch (const domain::DependencyUnavailable&) {
    unavailable = std::current_exception();
  } catch (const domain::RetryLater&) {
    unavailable = std::current_exception();
  }
  if (unavailable || (verified && account)) {
    // Not a failure (nothing was checked, or the password was right): the places go back.
    if (!address_limit_key.empty()) co_await limiter_.release(address_limit_key);
    if (unavailable) {
      co_await limiter_.release(limit_key);
      std::rethrow_exception(unavailable);
    }
    co_await limiter_.reset(limit_key);
  } else {
    counters_.login_failures.fetch_add(1, std::memory_order_relaxed);
    throw invalid_credentials();
  }
  if (account->status != domain::AccountStatus::kActive) {
    throw DomainError(ErrorCode::kForbidden, "this account is disabled");
  }
  counters_.logins.fetch_add(1, std::memory_order_relaxed);
  co_return co_await start_session(std::move(*account));
}

SignedIn AuthService::signed_in(const domain::Account& account, const std::string& session,
                                std::string refresh_token) const {
  const auto now = clock_.now();
  SignedIn out;
  out.access_token =
      access_tokens_.issue(domain::AccessClaims{account.id, account.role, session, now, now + policy_.access_ttl});
  out.expires_in = whole_seconds(policy_.access_ttl);
  out.refresh_token = std::move(refresh_token);
  out.refresh_expires_in = whole_seconds(policy_.refresh_ttl);
  out.account = account;
  out.account.password_hash.reset();  // never leaves the service
  return out;
}

Task<SignedIn> AuthService::start_session(domain::Account account) {
  const std::string session = random_.hex(kSessionBytes);
  std::string refresh_token = random_.token(kRefreshTokenBytes);
  co_await refresh_tokens_.store(refresh_token, session, account.id, clock_.now() + policy_.refresh_ttl);
  co_return signed_in(account, session, std::move(refresh_token));
}

Task<SignedIn> AuthService::refresh(std::optional<std::string> refresh_token) {
  if (!refresh_token || refresh_token->empty()) {
    throw DomainError(ErrorCode::kUnauthenticated, "a refresh token is required");
  }
  if (refresh_token->size() > kMaxRefreshTokenLength) {
    throw DomainError(ErrorCode::kUnauthenticated, "refresh token rejected");
  }
  const auto now = clock_.now();
  std::string next = random_.token(kRefreshTokenBytes);
  const auto outcome = co_await refresh_tokens_.rotate(*refresh_token, next, now + policy_.refresh_ttl, now);
  using Kind = domain::RotationOutcome::Kind;
  switch (outcome.kind) {
    case Kind::kRotated: break;
    case Kind::kReuseDetected:
      counters_.reuse_detected.fetch_add(1, std::memory_order_relaxed);
      // The family's access tokens go too: whoever holds them may be the thief.
      co_await revocations_.revoke(outcome.family, now + kRevocationMemory);
      throw DomainError(ErrorCode::kUnauthenticated,
                        "refresh token was already used; this sign-in has been ended, sign in again");
    case Kind::kExpired: throw DomainError(ErrorCode::kUnauthenticated, "refresh token expired; sign in again");
    case Kind::kRevoked: throw DomainError(ErrorCode::kUnauthenticated, "this sign-in has been ended; sign in again");
    case Kind::kUnknown: throw DomainError(ErrorCode::kUnauthenticated, "refresh token rejected");
  }
  auto account = co_await accounts_.find_by_id(outcome.user);
  if (!account || account->status != domain::AccountStatus::kActive) {
    co_await refresh_tokens_.revoke_family(outcome.family, now);
    co_await revocations_.revoke(outcome.family, now + kRevocationMemory);  // its access tokens too
    throw DomainError(ErrorCode::kUnauthenticated, "this account can no longer sign in");
  }
  counters_.refreshes.fetch_add(1, std::memory_order_relaxed);
  co_return signed_in(*account, outcome.family, std::move(next));
}

Task<void> AuthService::log_out(domain::Principal principal) {
  const auto now = clock_.now();
  co_await refresh_tokens_.revoke_family(principal.session, now);
  co_await revocations_.revoke(principal.session, now + kRevocationMemory);
  counters_.logouts.fetch_add(1, std::memory_order_relaxed);
}

Task<domain::Account> AuthService::me(domain::Principal principal) {
  auto account = co_await accounts_.find_by_id(principal.user);
  if (!account) throw DomainError(ErrorCode::kUnauthenticated, "this account no longer exists");
  account->password_hash.reset();
  co_return std::move(*account);
}

domain::Principal AuthService::authenticate(const std::optional<std::string>& bearer_token) const {
  if (!bearer_token || bearer_token->empty()) {
    throw DomainError(ErrorCode::kUnauthenticated, "an access token is required (Authorization: Bearer <token>)");
  }
  const auto check = access_tokens_.verify(*bearer_token, clock_.now());
  if (!check.claims) {
    throw DomainError(ErrorCode::kUnauthenticated,
                      fmt::format("access token rejected: {}", domain::to_string(check.problem)));
  }
  if (revocations_.is_revoked(check.claims->session)) {
    throw DomainError(ErrorCode::kUnauthenticated, "access token rejected: signed out");
  }
  return domain::Principal{check.claims->user, check.claims->role, check.claims->session};
}

}  // namespace ticketing::application
