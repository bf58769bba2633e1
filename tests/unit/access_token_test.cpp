// JwtAccessTokenService (DESIGN.md §5 "401 vs 403", §12): only tokens exactly like the ones it
// issues verify. Tokens are built here independently of the code under test (own base64url, OpenSSL's
// one-shot HMAC), so a wrong claim is the only thing wrong with them.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "infra/security/jwt_access_token_service.hpp"
#include "infra/security/jwt_token_service.hpp"
#include "jws_test_tokens.hpp"

using ticketing::domain::AccessClaims;
using ticketing::domain::AccessTokenCheck;
using ticketing::domain::Role;
using ticketing::domain::Timestamp;
using ticketing::domain::TokenProblem;
using ticketing::domain::UserId;
using ticketing::infra::security::JwtAccessTokenService;
using ticketing::testing::at_seconds;
using ticketing::testing::b64url;
using ticketing::testing::hmac;

namespace {

const std::string kSecret = "access-secret-that-is-32-bytes-long!";
const std::string kHeader = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::int64_t kIat = 1700000000;
constexpr std::int64_t kExp = 1700000900;

const Timestamp kNow = at_seconds(kIat + 100);

std::string signed_token(std::string_view header_json, std::string_view payload_json, std::string_view key = kSecret,
                         const EVP_MD* md = EVP_sha256()) {
  return ticketing::testing::signed_token(header_json, payload_json, key, md);
}

struct Payload {
  std::string iss = R"("ticketing")";
  std::string aud = R"("access")";
  std::string sub = R"("42")";
  std::string role = R"("FAN")";
  std::string fam = R"("0123456789abcdef")";
  std::string iat = std::to_string(kIat);
  std::string exp = std::to_string(kExp);
  std::string extra;  // appended verbatim, e.g. R"(,"admin":true)"

  std::string json() const {
    std::string out = "{";
    auto add = [&](const char* key, const std::string& value) {
      if (value.empty()) return;  // an empty value leaves the claim out
      if (out.size() > 1) out += ',';
      out += '"' + std::string(key) + "\":" + value;
    };
    add("iss", iss);
    add("aud", aud);
    add("sub", sub);
    add("role", role);
    add("fam", fam);
    add("iat", iat);
    add("exp", exp);
    return out + extra + "}";
  }
};

std::string problem_of(const AccessTokenCheck& check) {
  return check.claims ? "valid" : std::string(ticketing::domain::to_string(check.problem));
}

std::string verify(const std::string& token, Timestamp now = kNow) {
  const JwtAccessTokenService service(kSecret);
  return problem_of(service.verify(token, now));
}

AccessClaims claims() {
  return {UserId{42}, Role::kFan, "0123456789abcdef", at_seconds(kIat), at_seconds(kExp)};
}

}  // namespace

TEST(AccessToken, IssuesExactlyTheDocumentedTokenAndReadsItBack) {
  const JwtAccessTokenService service(kSecret);
  const std::string token = service.issue(claims());
  // Byte for byte what an independent implementation produces for the documented claim set.
  EXPECT_EQ(token, signed_token(kHeader, Payload{}.json()));
  const auto check = service.verify(token, kNow);
  ASSERT_TRUE(check.claims);
  EXPECT_EQ(check.claims->user, UserId{42});
  EXPECT_EQ(check.claims->role, Role::kFan);
  EXPECT_EQ(check.claims->session, "0123456789abcdef");
  EXPECT_EQ(check.claims->issued_at, at_seconds(kIat));
  EXPECT_EQ(check.claims->expires_at, at_seconds(kExp));

  Payload admin;
  admin.role = R"("ADMIN")";
  const JwtAccessTokenService same(kSecret);
  const auto admin_check = same.verify(signed_token(kHeader, admin.json()), kNow);
  ASSERT_TRUE(admin_check.claims);
  EXPECT_EQ(admin_check.claims->role, Role::kAdmin);
}

TEST(AccessToken, RejectsAnExtraOrAMissingClaim) {
  Payload extra;
  extra.extra = R"(,"admin":true)";
  EXPECT_EQ(verify(signed_token(kHeader, extra.json())), "malformed");
  for (std::string Payload::*claim :
       {&Payload::iss, &Payload::aud, &Payload::sub, &Payload::role, &Payload::fam, &Payload::iat, &Payload::exp}) {
    Payload missing;
    missing.*claim = "";
    EXPECT_EQ(verify(signed_token(kHeader, missing.json())), "malformed") << missing.json();
  }
  // Seven claims, but one of them is not ours.
  Payload swapped;
  swapped.fam = "";
  swapped.extra = R"(,"sid":"0123456789abcdef")";
  EXPECT_EQ(verify(signed_token(kHeader, swapped.json())), "malformed");
}

TEST(AccessToken, RejectsClaimsOfTheWrongValueOrType) {
  auto with = [](std::string Payload::*claim, std::string value) {
    Payload p;
    p.*claim = std::move(value);
    return verify(signed_token(kHeader, p.json()));
  };
  EXPECT_EQ(with(&Payload::role, R"("ROOT")"), "malformed");
  EXPECT_EQ(with(&Payload::role, R"("fan")"), "malformed");
  EXPECT_EQ(with(&Payload::aud, R"("queue")"), "malformed");
  EXPECT_EQ(with(&Payload::aud, R"(["access"])"), "malformed");
  EXPECT_EQ(with(&Payload::iss, R"("someone-else")"), "malformed");
  EXPECT_EQ(with(&Payload::sub, R"("007")"), "malformed");
  EXPECT_EQ(with(&Payload::sub, R"("0")"), "malformed");
  EXPECT_EQ(with(&Payload::sub, R"("-5")"), "malformed");
  EXPECT_EQ(with(&Payload::sub, R"(42)"), "malformed");
  EXPECT_EQ(with(&Payload::fam, R"("ABCDEF")"), "malformed");
  EXPECT_EQ(with(&Payload::fam, R"("")"), "malformed");
  EXPECT_EQ(with(&Payload::iat, R"("1700000000")"), "malformed");
  EXPECT_EQ(with(&Payload::exp, std::to_string(kIat)), "malformed") << "exp must be after iat";
  EXPECT_EQ(with(&Payload::exp, "1700000900.5"), "malformed");
}

TEST(AccessToken, RejectsAnIssueTimeBeyondTheClockSkew) {
  Payload future;
  future.iat = std::to_string(kIat);
  future.exp = std::to_string(kIat + 900);
  const std::string token = signed_token(kHeader, future.json());
  EXPECT_EQ(verify(token, at_seconds(kIat - 61)), "malformed");
  EXPECT_EQ(verify(token, at_seconds(kIat - 60)), "valid") << "60 s of skew are tolerated";
}

TEST(AccessToken, ExpiresExactlyAtExp) {
  const std::string token = signed_token(kHeader, Payload{}.json());
  EXPECT_EQ(verify(token, at_seconds(kExp) - std::chrono::milliseconds(1)), "valid");
  EXPECT_EQ(verify(token, at_seconds(kExp)), "expired");
  EXPECT_EQ(verify(token, at_seconds(kExp + 3600)), "expired");
}

TEST(AccessToken, RejectsAnotherKeyATamperedTokenAndAnyOtherAlgorithm) {
  EXPECT_EQ(verify(signed_token(kHeader, Payload{}.json(), "another-secret-that-is-32-bytes-long")), "bad signature");

  std::string tampered = signed_token(kHeader, Payload{}.json());
  Payload admin;
  admin.role = R"("ADMIN")";
  const std::string forged_payload = b64url(admin.json());
  const auto dot1 = tampered.find('.');
  const auto dot2 = tampered.find('.', dot1 + 1);
  tampered.replace(dot1 + 1, dot2 - dot1 - 1, forged_payload);  // the FAN token's signature on an ADMIN payload
  EXPECT_EQ(verify(tampered), "bad signature");

  // alg none: no signature at all, and also with a (valid HS256) signature attached.
  const std::string none_input = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(Payload{}.json());
  EXPECT_EQ(verify(none_input + "."), "algorithm not accepted");
  EXPECT_EQ(verify(none_input + "." + b64url(hmac(EVP_sha256(), kSecret, none_input))), "algorithm not accepted");
  EXPECT_EQ(verify(signed_token(R"({"alg":"HS512","typ":"JWT"})", Payload{}.json(), kSecret, EVP_sha512())),
            "algorithm not accepted");
  EXPECT_EQ(verify(signed_token(R"({"alg":"HS384","typ":"JWT"})", Payload{}.json(), kSecret, EVP_sha384())),
            "algorithm not accepted");
  EXPECT_EQ(verify(signed_token(R"({"typ":"JWT"})", Payload{}.json())), "malformed");

  for (const std::string& garbage :
       {std::string(), std::string("a.b"), std::string("a.b.c.d"), std::string(".."), std::string(3000, 'a')}) {
    EXPECT_EQ(verify(garbage), "malformed") << garbage.substr(0, 20);
  }
}

TEST(AccessToken, AQueueTokenIsNotAnAccessTokenEvenUnderTheSameKey) {
  const ticketing::infra::security::JwtTokenService queue_tokens(kSecret);
  const std::string queue_token = queue_tokens.issue(ticketing::domain::AdmissionClaims{
      UserId{42}, ticketing::domain::ScheduleId{7}, at_seconds(kIat), at_seconds(kExp)});
  EXPECT_EQ(verify(queue_token), "malformed");
  const ticketing::infra::security::JwtTokenService other_key("queue-secret-that-is-32-bytes-long!!");
  EXPECT_EQ(verify(other_key.issue(ticketing::domain::AdmissionClaims{UserId{42}, ticketing::domain::ScheduleId{7},
                                                                      at_seconds(kIat), at_seconds(kExp)})),
            "bad signature");
}

TEST(AccessToken, RefusesToIssueOrConstructWithBadInput) {
  EXPECT_THROW(JwtAccessTokenService(std::string(31, 'k')), std::invalid_argument);
  EXPECT_THROW(JwtAccessTokenService(kSecret, ""), std::invalid_argument);
  const JwtAccessTokenService service(kSecret);
  auto bad = claims();
  bad.user = UserId{0};
  EXPECT_THROW(service.issue(bad), std::invalid_argument);
  bad = claims();
  bad.session = "Not-Hex";
  EXPECT_THROW(service.issue(bad), std::invalid_argument);
  bad = claims();
  bad.expires_at = bad.issued_at;
  EXPECT_THROW(service.issue(bad), std::invalid_argument);
}

// Boost.JSON's DOM keeps the last of repeated members: a payload naming `sub` or `role` twice, or a
// header naming `alg` twice, would read as one value. Even correctly signed, they are refused, as
// is a header with `crit` extensions (RFC 7515 §4.1.11: none is understood here). An extra header
// parameter that asks for nothing (`kid`) is fine.
TEST(AccessToken, RefusesRepeatedMembersAndCriticalExtensions) {
  Payload twice_sub;
  twice_sub.extra = R"(,"sub":"43")";
  Payload twice_role;
  twice_role.extra = R"(,"role":"ADMIN")";
  for (const auto& p : {twice_sub, twice_role}) {
    EXPECT_EQ(verify(signed_token(kHeader, p.json())), "malformed") << p.json();
  }
  EXPECT_NE(verify(signed_token(R"({"alg":"none","alg":"HS256"})", Payload{}.json())), "valid");
  EXPECT_NE(verify(signed_token(R"({"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1})", Payload{}.json())), "valid");
  EXPECT_EQ(verify(signed_token(R"({"alg":"HS256","kid":"k1"})", Payload{}.json())), "valid");
}
