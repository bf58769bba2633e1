// AuthService (DESIGN.md §12) against in-memory fakes of its ports; access tokens are the real
// JwtAccessTokenService (pure CPU). Also the domain rules it relies on: normalize_email,
// validate_sign_up, decide_refresh.
#include "application/auth_service.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "domain/errors.hpp"
#include "infra/security/jwt_access_token_service.hpp"
#include "run_task.hpp"

using namespace ticketing;
using namespace ticketing::domain;
using application::AuthPolicy;
using application::AuthService;
using application::SignedIn;

namespace {

using ticketing::testing::run_task;
using namespace std::chrono_literals;

class SettableClock final : public Clock {
 public:
  Timestamp now() const override { return now_; }
  void advance(std::chrono::milliseconds by) { now_ += by; }

 private:
  Timestamp now_ = Timestamp{std::chrono::seconds{1'800'000'000}};
};

class FakeAccounts final : public AccountRepository {
 public:
  Task<std::optional<Account>> create(const NewAccount& account) override {
    ++creates;
    for (const auto& [id, existing] : rows) {
      if (existing.email == account.email) co_return std::nullopt;
    }
    Account row;
    row.id = UserId{next_id++};
    row.email = account.email;
    row.name = account.name;
    row.role = account.role;
    row.password_hash = account.password_hash;
    rows[row.id.value] = row;
    co_return row;
  }
  Task<std::optional<Account>> find_by_email(const std::string& email) override {
    for (const auto& [id, row] : rows) {
      if (row.email == email) co_return row;
    }
    co_return std::nullopt;
  }
  Task<std::optional<Account>> find_by_id(UserId user) override {
    const auto it = rows.find(user.value);
    if (it == rows.end()) co_return std::nullopt;
    co_return it->second;
  }
  std::map<std::int64_t, Account> rows;
  std::int64_t next_id = 1;
  int creates = 0;
};

// Rotation as the MySQL store does it: decide with domain::decide_refresh, then spend + add the
// next token, or revoke the whole family on reuse.
class FakeRefreshTokens final : public RefreshTokenStore {
 public:
  Task<void> store(const std::string& raw, const std::string& family, UserId user, Timestamp expires_at) override {
    rows[raw] = RefreshTokenRow{user, family, expires_at, false, false};
    co_return;
  }
  Task<RotationOutcome> rotate(const std::string& presented, const std::string& next, Timestamp next_expires_at,
                               Timestamp now) override {
    using Kind = RotationOutcome::Kind;
    const auto it = rows.find(presented);
    if (it == rows.end()) co_return RotationOutcome{Kind::kUnknown, {}, {}};
    const RefreshTokenRow row = it->second;
    switch (decide_refresh(row, now)) {
      case RefreshDecision::kRotate:
        it->second.spent = true;
        rows[next] = RefreshTokenRow{row.user, row.family, next_expires_at, false, false};
        co_return RotationOutcome{Kind::kRotated, row.user, row.family};
      case RefreshDecision::kReuseDetected:
        revoke(row.family);
        co_return RotationOutcome{Kind::kReuseDetected, row.user, row.family};
      case RefreshDecision::kRevoked: co_return RotationOutcome{Kind::kRevoked, row.user, row.family};
      case RefreshDecision::kExpired: co_return RotationOutcome{Kind::kExpired, row.user, row.family};
    }
    co_return RotationOutcome{};
  }
  Task<void> revoke_family(const std::string& family, Timestamp) override {
    revoke(family);
    co_return;
  }
  void revoke(const std::string& family) {
    for (auto& [raw, row] : rows) {
      if (row.family == family) row.revoked = true;
    }
  }
  bool family_revoked(const std::string& family) const {
    bool any = false;
    for (const auto& [raw, row] : rows) {
      if (row.family != family) continue;
      any = true;
      if (!row.revoked) return false;
    }
    return any;
  }
  std::map<std::string, RefreshTokenRow> rows;
};

// "Hashes" by prefixing; remembers every call.
class PlainHasher final : public PasswordHasher {
 public:
  struct VerifyCall {
    std::optional<std::string> stored;
    std::string password;
  };
  Task<std::string> hash(std::string password) override {
    hashed.push_back(password);
    co_return "plain:" + password;
  }
  Task<bool> verify(std::optional<std::string> stored, std::string password) override {
    verified.push_back({stored, password});
    co_return stored&&* stored == "plain:" + password;
  }
  std::vector<std::string> hashed;
  std::vector<VerifyCall> verified;
};

class FakeRevocations final : public SessionRevocations {
 public:
  bool is_revoked(std::string_view session) const override { return revoked.count(std::string(session)) > 0; }
  Task<void> revoke(const std::string& session, Timestamp) override {
    revoked.insert(session);
    co_return;
  }
  std::set<std::string> revoked;
};

// Fixed windows with the documented hit/peek semantics, on the settable clock.
class FakeLimiter final : public RateLimiter {
 public:
  explicit FakeLimiter(const Clock& clock) : clock_(clock) {}
  Task<LimitState> hit(const std::string& key, Limit limit) override { co_return run(key, limit, true); }
  Task<LimitState> peek(const std::string& key, Limit limit) override { co_return run(key, limit, false); }
  Task<void> reset(const std::string& key) override {
    windows.erase(key);
    co_return;
  }
  Task<void> release(const std::string& key) override {
    if (auto it = windows.find(key); it != windows.end() && it->second.hits > 0) --it->second.hits;
    co_return;
  }
  struct Window {
    std::int64_t hits = 0;
    Timestamp ends{};
  };
  std::map<std::string, Window> windows;

 private:
  LimitState run(const std::string& key, Limit limit, bool count) {
    const auto now = clock_.now();
    auto it = windows.find(key);
    if (it != windows.end() && now >= it->second.ends) {
      windows.erase(it);
      it = windows.end();
    }
    if (count && it == windows.end()) it = windows.emplace(key, Window{0, now + limit.window}).first;
    const std::int64_t hits = it == windows.end() ? 0 : (count ? ++it->second.hits : it->second.hits);
    LimitState state;
    state.allowed = count ? hits <= limit.max : hits < limit.max;
    if (!state.allowed) {
      state.retry_after = std::chrono::ceil<std::chrono::seconds>(it->second.ends - now);
    }
    return state;
  }
  const Clock& clock_;
};

class CountingRandom final : public RandomSource {
 public:
  std::string token(std::size_t) override { return "refresh" + std::to_string(++counter); }
  std::string hex(std::size_t bytes) override {
    std::string out = std::to_string(++counter);
    return std::string(bytes * 2 - out.size(), '0') + out;  // digits are hex too
  }
  int counter = 0;
};

const std::string kPassword = "correct horse battery";

struct Fixture {
  SettableClock clock;
  FakeAccounts accounts;
  FakeRefreshTokens refresh_tokens;
  PlainHasher hasher;
  infra::security::JwtAccessTokenService access_tokens{"unit-test-access-secret-0123456789abcdef"};
  FakeRevocations revocations;
  FakeLimiter limiter{clock};
  CountingRandom random;
  AuthPolicy policy = [] {
    AuthPolicy p;
    p.address_attempts = Limit{1000, 1min};
    return p;
  }();
  std::unique_ptr<AuthService> service = make();

  std::unique_ptr<AuthService> make() {
    return std::make_unique<AuthService>(accounts, refresh_tokens, hasher, access_tokens, revocations, limiter, random,
                                         clock, policy);
  }
  void set_policy(AuthPolicy p) {
    policy = p;
    service = make();
  }
  Account sign_up(const std::string& email, const std::string& password = kPassword, const std::string& address = "") {
    return run_task(service->sign_up(email, password, "Fan", address));
  }
  SignedIn log_in(const std::string& email, const std::string& password = kPassword, const std::string& address = "") {
    return run_task(service->log_in(email, password, address));
  }
  SignedIn refresh(std::optional<std::string> token) { return run_task(service->refresh(std::move(token))); }
  Principal principal_of(const SignedIn& session) const { return service->authenticate(session.access_token); }
};

// The DomainError a call throws (its code and message), or kInternal/"" when it did not throw one.
struct Thrown {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::vector<FieldError> errors;
  std::optional<std::chrono::seconds> retry_after;
};

template <typename F>
Thrown thrown_by(F&& f) {
  try {
    f();
  } catch (const RetryLater& e) {
    return {e.code(), e.what(), e.errors(), e.retry_after()};
  } catch (const DomainError& e) {
    return {e.code(), e.what(), e.errors(), std::nullopt};
  }
  return {};
}

std::vector<std::string> fields_of(const Thrown& thrown) {
  std::vector<std::string> out;
  for (const auto& e : thrown.errors) out.push_back(e.field);
  return out;
}

}  // namespace

// --- domain rules -------------------------------------------------------------------------------

TEST(NormalizeEmail, TrimsAndLowerCasesValidAddresses) {
  EXPECT_EQ(normalize_email(" Fan@Example.COM "), "fan@example.com");
  EXPECT_EQ(normalize_email("\tfirst.last+tag@sub.example.co\r\n"), "first.last+tag@sub.example.co");
  EXPECT_EQ(normalize_email("o'brien_%-x@a-b.example"), "o'brien_%-x@a-b.example");
  EXPECT_EQ(normalize_email(std::string(64, 'a') + "@example.com"), std::string(64, 'a') + "@example.com");
}

TEST(NormalizeEmail, RejectsWhatDoesNotLookLikeLocalAtDomainTld) {
  for (const std::string_view bad : {"",
                                     "   ",
                                     "fan",
                                     "@example.com",
                                     "fan@",
                                     "fan@example",
                                     "fan@@example.com",
                                     "a@b@example.com",
                                     "fan @example.com",
                                     "fan@exa mple.com",
                                     ".fan@example.com",
                                     "fan.@example.com",
                                     "f..an@example.com",
                                     "fan@-example.com",
                                     "fan@example-.com",
                                     "fan@example..com",
                                     "fan@.example.com",
                                     "fan@example.com.",
                                     "f\xc3\xa4n@example.com",
                                     "fan@ex_ample.com",
                                     "fan\"@example.com",
                                     "fan@example.c\x01m"}) {
    EXPECT_EQ(normalize_email(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(normalize_email(std::string(65, 'a') + "@example.com"), std::nullopt) << "local part over 64";
  const std::string label(63, 'd');
  const std::string long_domain = label + "." + label + "." + label + "." + std::string(56, 'd') + ".com";  // 252 bytes
  EXPECT_EQ(normalize_email("a@" + long_domain), "a@" + long_domain) << "exactly 254 bytes";
  EXPECT_EQ(normalize_email("ab@" + long_domain), std::nullopt) << "255 bytes";
  EXPECT_EQ(normalize_email("fan@" + std::string(64, 'd') + ".com"), std::nullopt) << "a label over 63";
}

TEST(ValidateSignUp, NamesEveryBadFieldAtOnce) {
  const auto thrown = thrown_by([] { validate_sign_up("nope", "short", "  "); });
  EXPECT_EQ(thrown.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(fields_of(thrown), (std::vector<std::string>{"email", "password", "name"}));
  EXPECT_EQ(fields_of(thrown_by([] { validate_sign_up("fan@example.com", "short", "Fan"); })),
            std::vector<std::string>{"password"});
  EXPECT_EQ(fields_of(thrown_by([] { validate_sign_up("fan@example.com", kPassword, ""); })),
            std::vector<std::string>{"name"});
}

TEST(ValidateSignUp, WhatTheBodyLackedComesFirstAndIsNotNamedTwice) {
  const auto thrown = thrown_by([] { validate_sign_up("nope", "", "Fan", {{"password", "is required"}}); });
  EXPECT_EQ(fields_of(thrown), (std::vector<std::string>{"password", "email"}));
  EXPECT_EQ(thrown.errors[0].reason, "is required");
  // An unknown key from the body is named in the message only short and without control bytes.
  const std::string odd_key = std::string("x\0y", 3) + std::string(1000, 'k');
  const auto odd = thrown_by([&] {
    validate_sign_up("fan@example.com", kPassword, "Fan", {{odd_key, "unknown field"}});
  });
  EXPECT_EQ(odd.message, "invalid sign-up: x?y" + std::string(61, 'k'));
}

TEST(ValidateSignUp, PasswordIsTenTo128BytesWithoutNul) {
  EXPECT_NO_THROW(validate_sign_up("fan@example.com", std::string(10, 'p'), "Fan"));
  EXPECT_NO_THROW(validate_sign_up("fan@example.com", std::string(128, 'p'), "Fan"));
  EXPECT_THROW(validate_sign_up("fan@example.com", std::string(9, 'p'), "Fan"), DomainError);
  EXPECT_THROW(validate_sign_up("fan@example.com", std::string(129, 'p'), "Fan"), DomainError);
  EXPECT_THROW(validate_sign_up("fan@example.com", std::string("pass\0word-long", 14), "Fan"), DomainError);
  // The reason says what is wrong: a NUL in a password of a fine length is not a length problem.
  EXPECT_EQ(thrown_by([] { validate_sign_up("fan@example.com", std::string("pass\0word-long", 14), "Fan"); })
                .errors.at(0)
                .reason,
            "must not contain a NUL character");
  EXPECT_EQ(thrown_by([] { validate_sign_up("fan@example.com", std::string(9, 'p'), "Fan"); }).errors.at(0).reason,
            "must be 10 to 128 bytes");
  // Bytes, not characters: five 2-byte characters are 10 bytes.
  EXPECT_NO_THROW(validate_sign_up("fan@example.com", "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4", "Fan"));
  // The password is kept as typed (no trimming).
  EXPECT_EQ(validate_sign_up("fan@example.com", "  spaced pass  ", "Fan").password, "  spaced pass  ");
}

TEST(ValidateSignUp, NameIsTrimmedCleanUtf8UpTo100Bytes) {
  const auto ok = validate_sign_up(" Fan@Example.com ", kPassword, "  Zo\xc3\xab  ");
  EXPECT_EQ(ok.email, "fan@example.com");
  EXPECT_EQ(ok.name, "Zo\xc3\xab");
  EXPECT_NO_THROW(validate_sign_up("fan@example.com", kPassword, std::string(100, 'n')));
  // A right-to-left mark (U+200F) and an emoji joined by ZWJ (U+200D) are text, not controls.
  EXPECT_NO_THROW(validate_sign_up("fan@example.com", kPassword, "\xd7\xa9\xd7\xa8\xe2\x80\x8f"));
  EXPECT_NO_THROW(validate_sign_up("fan@example.com", kPassword, "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x8e\xa4"));
  for (const std::string& bad : {std::string(101, 'n'),
                                 std::string("a\x01"
                                             "b"),
                                 std::string("tab\there"), std::string("bad \xc3"), std::string("\xc0\xaf"),
                                 std::string("\xed\xa0\x80"), std::string("c1 \xc2\x85"), std::string("del\x7f"),
                                 std::string("rlo \xe2\x80\xae"),    // U+202E right-to-left override
                                 std::string("lre \xe2\x80\xaa"),    // U+202A
                                 std::string("fsi \xe2\x81\xa8"),    // U+2068 first-strong isolate
                                 std::string("pdi \xe2\x81\xa9"),    // U+2069
                                 std::string("ls \xe2\x80\xa8"),     // U+2028 line separator
                                 std::string("ps \xe2\x80\xa9")}) {  // U+2029

    EXPECT_EQ(fields_of(thrown_by([&] { validate_sign_up("fan@example.com", kPassword, bad); })),
              std::vector<std::string>{"name"})
        << bad;
  }
}

TEST(DecideRefresh, RevokedBeforeSpentBeforeExpired) {
  const Timestamp now{std::chrono::seconds{1000}};
  const RefreshTokenRow fresh{UserId{1}, "fam", now + 1s, false, false};
  EXPECT_EQ(decide_refresh(fresh, now), RefreshDecision::kRotate);
  auto row = fresh;
  row.expires_at = now;
  EXPECT_EQ(decide_refresh(row, now), RefreshDecision::kExpired) << "expiry is exclusive";
  row = fresh;
  row.spent = true;
  EXPECT_EQ(decide_refresh(row, now), RefreshDecision::kReuseDetected);
  row.expires_at = now - 1h;
  EXPECT_EQ(decide_refresh(row, now), RefreshDecision::kReuseDetected) << "a spent token is a theft signal even late";
  row.revoked = true;
  EXPECT_EQ(decide_refresh(row, now), RefreshDecision::kRevoked);
  row = fresh;
  row.revoked = true;
  EXPECT_EQ(decide_refresh(row, now), RefreshDecision::kRevoked);
}

// --- sign-up ------------------------------------------------------------------------------------

TEST(AuthServiceSignUp, CreatesAFanWithTheNormalisedEmailAndAHashedPassword) {
  Fixture f;
  const auto account = f.sign_up(" Fan@Example.COM ");
  EXPECT_EQ(account.email, "fan@example.com");
  EXPECT_EQ(account.role, Role::kFan);
  ASSERT_EQ(f.accounts.rows.size(), 1u);
  EXPECT_EQ(f.accounts.rows.begin()->second.password_hash, "plain:" + kPassword);
  EXPECT_EQ(f.hasher.hashed, std::vector<std::string>{kPassword});
  EXPECT_EQ(f.service->counters().sign_ups.load(), 1u);
}

TEST(AuthServiceSignUp, DuplicateEmailInAnyCaseIsEmailTaken) {
  Fixture f;
  f.sign_up("fan@example.com");
  EXPECT_EQ(thrown_by([&] { f.sign_up("fan@example.com"); }).code, ErrorCode::kEmailTaken);
  EXPECT_EQ(thrown_by([&] { f.sign_up(" FAN@example.COM"); }).code, ErrorCode::kEmailTaken);
  EXPECT_EQ(f.accounts.rows.size(), 1u);
}

TEST(AuthServiceSignUp, InvalidInputIsNeitherHashedNorStored) {
  Fixture f;
  const auto thrown = thrown_by([&] { f.sign_up("not an email", "short"); });
  EXPECT_EQ(thrown.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(fields_of(thrown), (std::vector<std::string>{"email", "password"}));
  EXPECT_TRUE(f.hasher.hashed.empty());
  EXPECT_EQ(f.accounts.creates, 0);
}

// --- log-in -------------------------------------------------------------------------------------

TEST(AuthServiceLogIn, IssuesAVerifiableAccessTokenAndAStoredRefreshToken) {
  Fixture f;
  const auto account = f.sign_up("fan@example.com");
  const auto session = f.log_in(" FAN@example.com ");
  EXPECT_EQ(session.account.id, account.id);
  EXPECT_FALSE(session.account.password_hash) << "the hash never leaves the service";
  EXPECT_EQ(session.expires_in, 900s);
  EXPECT_EQ(session.refresh_expires_in, std::chrono::seconds(14 * 24 * 3600));
  const auto principal = f.principal_of(session);
  EXPECT_EQ(principal.user, account.id);
  EXPECT_EQ(principal.role, Role::kFan);
  ASSERT_EQ(f.refresh_tokens.rows.count(session.refresh_token), 1u);
  const auto& row = f.refresh_tokens.rows.at(session.refresh_token);
  EXPECT_EQ(row.user, account.id);
  EXPECT_EQ(row.family, principal.session) << "the access token names the refresh token's family";
  EXPECT_EQ(row.expires_at, f.clock.now() + 14 * 24h);
  // The access token lasts access_ttl and no longer.
  f.clock.advance(15min - 1ms);
  EXPECT_NO_THROW(f.principal_of(session));
  f.clock.advance(1ms);
  EXPECT_EQ(thrown_by([&] { f.principal_of(session); }).code, ErrorCode::kUnauthenticated);
}

TEST(AuthServiceLogIn, UnknownEmailAndWrongPasswordAreTheSameAnswer) {
  Fixture f;
  f.sign_up("fan@example.com");
  const auto wrong_password = thrown_by([&] { f.log_in("fan@example.com", "wrong password!"); });
  const auto unknown_email = thrown_by([&] { f.log_in("nobody@example.com"); });
  const auto not_an_email = thrown_by([&] { f.log_in("not an email"); });
  EXPECT_EQ(wrong_password.code, ErrorCode::kInvalidCredentials);
  for (const auto* other : {&unknown_email, &not_an_email}) {
    EXPECT_EQ(other->code, wrong_password.code);
    EXPECT_EQ(other->message, wrong_password.message);
    EXPECT_TRUE(other->errors.empty());
  }
  // An unknown account still costs one (dummy) verification, like a wrong password.
  ASSERT_EQ(f.hasher.verified.size(), 3u);
  EXPECT_TRUE(f.hasher.verified[0].stored);
  EXPECT_FALSE(f.hasher.verified[1].stored);
  EXPECT_FALSE(f.hasher.verified[2].stored);
  EXPECT_EQ(f.service->counters().login_failures.load(), 3u);
  EXPECT_TRUE(f.refresh_tokens.rows.empty()) << "a failed sign-in starts no session";
}

TEST(AuthServiceLogIn, TooLongAPasswordIsNotHashedAsGiven) {
  Fixture f;
  const std::string longest(128, 'p');
  f.sign_up("fan@example.com", longest);
  // Its first 128 bytes are the right password, but the whole is not.
  const auto thrown = thrown_by([&] { f.log_in("fan@example.com", longest + std::string(10000, 'x')); });
  EXPECT_EQ(thrown.code, ErrorCode::kInvalidCredentials);
  ASSERT_EQ(f.hasher.verified.size(), 1u);
  EXPECT_FALSE(f.hasher.verified[0].stored) << "checked against the dummy hash, not the account's";
  EXPECT_LE(f.hasher.verified[0].password.size(), kMaxPasswordBytes);
  EXPECT_NO_THROW(f.log_in("fan@example.com", longest));
}

TEST(AuthServiceLogIn, EleventhFailureIsLimitedAndNothingIsVerifiedThen) {
  Fixture f;
  f.sign_up("fan@example.com");
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(thrown_by([&] { f.log_in("fan@example.com", "wrong password!"); }).code, ErrorCode::kInvalidCredentials)
        << "attempt " << i;
  }
  const auto verified_before = f.hasher.verified.size();
  const auto limited = thrown_by([&] { f.log_in("fan@example.com", "wrong password!"); });
  EXPECT_EQ(limited.code, ErrorCode::kTooManyRequests);
  ASSERT_TRUE(limited.retry_after);
  EXPECT_GE(*limited.retry_after, 1s);
  EXPECT_LE(*limited.retry_after, 15min);
  // The right password does not help during the lockout, in any spelling of the address.
  EXPECT_EQ(thrown_by([&] { f.log_in("fan@example.com"); }).code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(thrown_by([&] { f.log_in(" Fan@EXAMPLE.com"); }).code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(f.hasher.verified.size(), verified_before) << "a limited attempt must not verify anything";
  EXPECT_TRUE(f.refresh_tokens.rows.empty());
  // Other accounts are not affected.
  f.sign_up("other@example.com");
  EXPECT_NO_THROW(f.log_in("other@example.com"));
  // The window ends: the right password works again.
  f.clock.advance(15min);
  EXPECT_NO_THROW(f.log_in("fan@example.com"));
}

TEST(AuthServiceLogIn, OnlyFailuresCountAndASuccessResetsThem) {
  Fixture f;
  f.sign_up("fan@example.com");
  for (int i = 0; i < 30; ++i) f.log_in("fan@example.com");  // successes never count
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(thrown_by([&] { f.log_in("fan@example.com", "wrong password!"); }).code, ErrorCode::kInvalidCredentials);
  }
  EXPECT_NO_THROW(f.log_in("fan@example.com"));  // the 10th attempt succeeds and clears the count
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(thrown_by([&] { f.log_in("fan@example.com", "wrong password!"); }).code, ErrorCode::kInvalidCredentials)
        << "failure " << i << " after the reset";
  }
  EXPECT_EQ(thrown_by([&] { f.log_in("fan@example.com"); }).code, ErrorCode::kTooManyRequests);
}

TEST(AuthServiceLogIn, AddressLimitCoversSignUpAndLogInPerAddress) {
  Fixture f;
  AuthPolicy policy;
  policy.address_attempts = Limit{3, 1min};
  f.set_policy(policy);
  f.sign_up("fan@example.com", kPassword, "10.0.0.1");                                            // 1
  f.log_in("fan@example.com", kPassword, "10.0.0.1");                                             // 2
  EXPECT_EQ(thrown_by([&] { f.log_in("fan@example.com", "wrong password!", "10.0.0.1"); }).code,  // 3
            ErrorCode::kInvalidCredentials);
  const auto hashed = f.hasher.hashed.size();
  const auto verified = f.hasher.verified.size();
  const auto limited = thrown_by([&] { f.log_in("fan@example.com", kPassword, "10.0.0.1"); });
  EXPECT_EQ(limited.code, ErrorCode::kTooManyRequests);
  ASSERT_TRUE(limited.retry_after);
  EXPECT_GE(*limited.retry_after, 1s);
  EXPECT_LE(*limited.retry_after, 60s);
  EXPECT_EQ(thrown_by([&] { f.sign_up("new@example.com", kPassword, "10.0.0.1"); }).code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(f.hasher.hashed.size(), hashed);
  EXPECT_EQ(f.hasher.verified.size(), verified);
  EXPECT_EQ(f.accounts.rows.size(), 1u) << "a limited sign-up writes nothing";
  EXPECT_GE(f.service->counters().limited.load(), 2u);
  // Another address has its own count.
  EXPECT_NO_THROW(f.log_in("fan@example.com", kPassword, "10.0.0.2"));
  // The next window.
  f.clock.advance(1min);
  EXPECT_NO_THROW(f.log_in("fan@example.com", kPassword, "10.0.0.1"));
}

// Password spraying: failures across many accounts from one address are limited before the
// attempts limit, while right passwords from that address do not count.
TEST(AuthServiceLogIn, FailuresPerAddressAcrossAccountsAreLimited) {
  Fixture f;
  AuthPolicy policy;
  policy.address_attempts = Limit{1000, 1min};
  policy.address_failures = Limit{5, 1min};
  f.set_policy(policy);
  f.sign_up("fan@example.com", kPassword, "10.0.0.9");
  for (int i = 0; i < 20; ++i) EXPECT_NO_THROW(f.log_in("fan@example.com", kPassword, "10.0.0.9")) << i;
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(thrown_by([&] { f.log_in(fmt::format("victim{}@example.com", i), "guess-guess-1", "10.0.0.9"); }).code,
              ErrorCode::kInvalidCredentials);
  }
  const auto verified = f.hasher.verified.size();
  const auto limited = thrown_by([&] { f.log_in("fan@example.com", kPassword, "10.0.0.9"); });
  EXPECT_EQ(limited.code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(f.hasher.verified.size(), verified) << "nothing is verified while limited";
  EXPECT_NO_THROW(f.log_in("fan@example.com", kPassword, "10.0.0.10")) << "another address";
  f.clock.advance(1min);
  EXPECT_NO_THROW(f.log_in("fan@example.com", kPassword, "10.0.0.9"));
}

TEST(AuthServiceLogIn, DisabledAccountIsForbiddenAfterTheRightPassword) {
  Fixture f;
  const auto account = f.sign_up("fan@example.com");
  f.accounts.rows[account.id.value].status = AccountStatus::kDisabled;
  EXPECT_EQ(thrown_by([&] { f.log_in("fan@example.com", "wrong password!"); }).code, ErrorCode::kInvalidCredentials);
  EXPECT_EQ(thrown_by([&] { f.log_in("fan@example.com"); }).code, ErrorCode::kForbidden);
  EXPECT_TRUE(f.refresh_tokens.rows.empty());
}

// --- refresh and log-out ------------------------------------------------------------------------

TEST(AuthServiceRefresh, RotatesWithinTheSameSession) {
  Fixture f;
  f.sign_up("fan@example.com");
  const auto first = f.log_in("fan@example.com");
  f.clock.advance(10min);
  const auto second = f.refresh(first.refresh_token);
  EXPECT_NE(second.refresh_token, first.refresh_token);
  EXPECT_NE(second.access_token, first.access_token);
  EXPECT_EQ(f.principal_of(second).session, f.principal_of(first).session);
  EXPECT_EQ(f.principal_of(second).user, first.account.id);
  EXPECT_TRUE(f.refresh_tokens.rows.at(first.refresh_token).spent);
  EXPECT_EQ(f.refresh_tokens.rows.at(second.refresh_token).expires_at, f.clock.now() + 14 * 24h);
  EXPECT_FALSE(second.account.password_hash);
  const auto third = f.refresh(second.refresh_token);
  EXPECT_NE(third.refresh_token, second.refresh_token);
  EXPECT_EQ(f.service->counters().refreshes.load(), 2u);
}

TEST(AuthServiceRefresh, ReuseRevokesTheFamilyAndItsAccessTokens) {
  Fixture f;
  f.sign_up("fan@example.com");
  const auto r1 = f.log_in("fan@example.com");
  const auto r2 = f.refresh(r1.refresh_token);
  const auto other_session = f.log_in("fan@example.com");  // another device of the same user
  const std::string family = f.principal_of(r1).session;

  const auto reused = thrown_by([&] { f.refresh(r1.refresh_token); });
  EXPECT_EQ(reused.code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(f.service->counters().reuse_detected.load(), 1u);
  EXPECT_TRUE(f.refresh_tokens.family_revoked(family));
  EXPECT_TRUE(f.revocations.revoked.count(family));
  // Whoever holds R2 (maybe the thief) is out too: its refresh token and its access token.
  EXPECT_EQ(thrown_by([&] { f.refresh(r2.refresh_token); }).code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(thrown_by([&] { f.principal_of(r2); }).code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(thrown_by([&] { f.principal_of(r1); }).code, ErrorCode::kUnauthenticated);
  // The other sign-in is untouched.
  EXPECT_NO_THROW(f.principal_of(other_session));
  EXPECT_NO_THROW(f.refresh(other_session.refresh_token));
}

TEST(AuthServiceRefresh, MissingUnknownOverlongAndExpiredTokensAre401) {
  Fixture f;
  f.sign_up("fan@example.com");
  const auto session = f.log_in("fan@example.com");
  EXPECT_EQ(thrown_by([&] { f.refresh(std::nullopt); }).code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(thrown_by([&] { f.refresh(""); }).code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(thrown_by([&] { f.refresh("never-issued"); }).code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(thrown_by([&] { f.refresh(session.refresh_token + std::string(200, 'x')); }).code,
            ErrorCode::kUnauthenticated);
  f.clock.advance(14 * 24h);
  EXPECT_EQ(thrown_by([&] { f.refresh(session.refresh_token); }).code, ErrorCode::kUnauthenticated);
  EXPECT_FALSE(f.refresh_tokens.rows.at(session.refresh_token).spent) << "an expired token is not spent";
  EXPECT_TRUE(f.revocations.revoked.empty()) << "expiry is not theft";
  EXPECT_EQ(f.service->counters().refreshes.load(), 0u);
}

TEST(AuthServiceRefresh, ADisabledAccountCannotRefreshAndItsSessionEnds) {
  Fixture f;
  const auto account = f.sign_up("fan@example.com");
  const auto session = f.log_in("fan@example.com");
  const auto family = f.principal_of(session).session;
  f.accounts.rows[account.id.value].status = AccountStatus::kDisabled;
  EXPECT_EQ(thrown_by([&] { f.refresh(session.refresh_token); }).code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(f.refresh_tokens.family_revoked(family));
  // Its access tokens end with it.
  EXPECT_EQ(thrown_by([&] { f.principal_of(session); }).code, ErrorCode::kUnauthenticated);
}

TEST(AuthServiceLogOut, EndsTheRefreshTokensAndAccessTokensOfThatSessionOnly) {
  Fixture f;
  f.sign_up("fan@example.com");
  const auto session = f.log_in("fan@example.com");
  const auto refreshed = f.refresh(session.refresh_token);
  const auto other = f.log_in("fan@example.com");
  run_task(f.service->log_out(f.principal_of(refreshed)));
  EXPECT_EQ(thrown_by([&] { f.principal_of(refreshed); }).code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(thrown_by([&] { f.principal_of(session); }).code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(thrown_by([&] { f.refresh(refreshed.refresh_token); }).code, ErrorCode::kUnauthenticated);
  EXPECT_NO_THROW(f.principal_of(other));
  EXPECT_NO_THROW(f.refresh(other.refresh_token));
  EXPECT_EQ(f.service->counters().logouts.load(), 1u);
}

// --- authenticate and me ------------------------------------------------------------------------

TEST(AuthServiceAuthenticate, RejectsMissingForgedAndForeignTokens) {
  Fixture f;
  f.sign_up("fan@example.com");
  const auto session = f.log_in("fan@example.com");
  EXPECT_EQ(thrown_by([&] { f.service->authenticate(std::nullopt); }).code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(thrown_by([&] { f.service->authenticate(std::string()); }).code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(thrown_by([&] { f.service->authenticate(std::string("garbage")); }).code, ErrorCode::kUnauthenticated);
  const infra::security::JwtAccessTokenService other_key("another-access-secret-0123456789abcdef");
  const auto now = f.clock.now();
  const std::string foreign = other_key.issue(AccessClaims{session.account.id, Role::kAdmin, "abc", now, now + 1h});
  const auto thrown = thrown_by([&] { f.service->authenticate(foreign); });
  EXPECT_EQ(thrown.code, ErrorCode::kUnauthenticated);
  EXPECT_NE(thrown.message.find("bad signature"), std::string::npos) << thrown.message;
  const auto principal = f.service->authenticate(session.access_token);
  EXPECT_EQ(principal.user, session.account.id);
}

TEST(AuthServiceMe, ReturnsTheAccountWithoutItsHashAnd401WhenItIsGone) {
  Fixture f;
  const auto account = f.sign_up("fan@example.com");
  const auto session = f.log_in("fan@example.com");
  const auto me = run_task(f.service->me(f.principal_of(session)));
  EXPECT_EQ(me.id, account.id);
  EXPECT_EQ(me.email, "fan@example.com");
  EXPECT_FALSE(me.password_hash);
  f.accounts.rows.clear();
  EXPECT_EQ(thrown_by([&] { run_task(f.service->me(f.principal_of(session))); }).code, ErrorCode::kUnauthenticated);
}
