#include "infra/security/jwt_token_service.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "jws_test_tokens.hpp"

using ticketing::domain::AdmissionClaims;
using ticketing::domain::ScheduleId;
using ticketing::domain::Timestamp;
using ticketing::domain::TokenCheck;
using ticketing::domain::TokenProblem;
using ticketing::domain::UserId;
using ticketing::infra::security::JwtTokenService;
using ticketing::testing::at_seconds;
using ticketing::testing::b64url;

namespace {

const std::string kSecret = "test-secret-that-is-32-bytes-long!!";
const std::string kHeader = R"({"alg":"HS256","typ":"JWT"})";

// A token with arbitrary header/payload JSON, correctly signed with `key` (so only the claims are wrong).
std::string signed_token(std::string_view header_json, std::string_view payload_json, std::string_view key = kSecret) {
  return ticketing::testing::signed_token(header_json, payload_json, key);
}

std::string payload(std::string_view sub = R"("5")", std::string_view sid = "7", std::string_view iat = "1700000000",
                    std::string_view exp = "1700000300") {
  return R"({"iss":"ticketing","sub":)" + std::string(sub) + R"(,"sid":)" + std::string(sid) + R"(,"iat":)" +
         std::string(iat) + R"(,"exp":)" + std::string(exp) + "}";
}

const Timestamp kNow = at_seconds(1700000100);

AdmissionClaims claims(std::int64_t user = 5, std::int64_t schedule = 7) {
  return {UserId{user}, ScheduleId{schedule}, at_seconds(1700000000), at_seconds(1700000300)};
}

std::string problem_of(const TokenCheck& check) {
  return check.claims ? "valid" : std::string(ticketing::domain::to_string(check.problem));
}

}  // namespace

TEST(JwtTokenService, MatchesTokenComputedWithOpensslCli) {
  // Signature: printf '%s' "$H.$P" | openssl dgst -sha256 -binary -hmac "$SECRET", base64url.
  const std::string expected =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJpc3MiOiJ0aWNrZXRpbmciLCJzdWIiOiI0MiIsInNpZCI6NywiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAzMDB9."
      "L6020bkzcAlBqvIyRe9RLEV-jKxjVubzM3s4dd6c8Cw";
  const JwtTokenService service("known-answer-secret-0123456789abcdef");
  EXPECT_EQ(service.issue(claims(42, 7)), expected);
  const auto check = service.verify(expected, kNow);
  ASSERT_TRUE(check.claims) << problem_of(check);
  EXPECT_EQ(check.claims->user.value, 42);
}

TEST(JwtTokenService, RoundTripKeepsClaims) {
  const JwtTokenService service(kSecret);
  const AdmissionClaims in{UserId{9223372036854775807}, ScheduleId{123456}, at_seconds(1700000000),
                           at_seconds(1700000600)};
  const auto check = service.verify(service.issue(in), kNow);
  ASSERT_TRUE(check.claims) << problem_of(check);
  EXPECT_EQ(check.claims->user, in.user);
  EXPECT_EQ(check.claims->schedule, in.schedule);
  EXPECT_EQ(check.claims->issued_at, in.issued_at);
  EXPECT_EQ(check.claims->expires_at, in.expires_at);
}

TEST(JwtTokenService, TokenForAnotherUserVerifiesAsThatUser) {
  // The port reports who the token is for; comparing with the acting user is the caller's job (403).
  const JwtTokenService service(kSecret);
  const auto check = service.verify(service.issue(claims(5, 8)), kNow);
  ASSERT_TRUE(check.claims);
  EXPECT_EQ(check.claims->user.value, 5);
  EXPECT_EQ(check.claims->schedule.value, 8);
}

TEST(JwtTokenService, RejectsShortSecretWithoutEchoingIt) {
  const std::string short_secret = "only-31-bytes-of-secret-here!!!";
  ASSERT_EQ(short_secret.size(), 31u);
  try {
    JwtTokenService service(short_secret);
    FAIL() << "accepted a 31-byte secret";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find(short_secret), std::string::npos);
  }
  EXPECT_NO_THROW(JwtTokenService(std::string(32, 'k')));
  EXPECT_THROW(JwtTokenService(kSecret, ""), std::invalid_argument);
  EXPECT_THROW(JwtTokenService(kSecret, "a\"b"), std::invalid_argument);
}

TEST(JwtTokenService, IssueRejectsClaimsThatCouldNeverVerify) {
  const JwtTokenService service(kSecret);
  EXPECT_THROW(service.issue({UserId{5}, ScheduleId{7}, at_seconds(100), at_seconds(100)}), std::invalid_argument);
  EXPECT_THROW(service.issue({UserId{0}, ScheduleId{7}, at_seconds(100), at_seconds(200)}), std::invalid_argument);
  EXPECT_THROW(service.issue({UserId{5}, ScheduleId{-1}, at_seconds(100), at_seconds(200)}), std::invalid_argument);
}

TEST(JwtTokenService, TamperedPayloadIsBadSignature) {
  const JwtTokenService service(kSecret);
  const std::string token = service.issue(claims(5));
  const auto dot1 = token.find('.'), dot2 = token.rfind('.');
  // Same shape, different user: well-formed, but the old signature does not cover it.
  const std::string forged = token.substr(0, dot1) + "." + b64url(payload(R"("6")")) + token.substr(dot2);
  EXPECT_EQ(problem_of(service.verify(forged, kNow)), "bad signature");
  // Same for a later expiry.
  const std::string extended =
      token.substr(0, dot1) + "." + b64url(payload(R"("5")", "7", "1700000000", "1800000000")) + token.substr(dot2);
  EXPECT_EQ(problem_of(service.verify(extended, kNow)), "bad signature");
}

TEST(JwtTokenService, OtherSecretIsBadSignature) {
  const JwtTokenService ours(kSecret);
  const JwtTokenService theirs("another-secret-also-32-bytes-long!!");
  EXPECT_EQ(problem_of(ours.verify(theirs.issue(claims()), kNow)), "bad signature");
  EXPECT_EQ(problem_of(ours.verify(signed_token(kHeader, payload(), "x" + kSecret), kNow)), "bad signature");
  // A correctly computed token with our secret passes, so the helper itself is sound.
  EXPECT_EQ(problem_of(ours.verify(signed_token(kHeader, payload()), kNow)), "valid");
}

TEST(JwtTokenService, WrongLengthSignatureIsBadSignature) {
  const JwtTokenService service(kSecret);
  const std::string input = b64url(kHeader) + "." + b64url(payload());
  const std::string mac = ticketing::testing::hmac(EVP_sha256(), kSecret, input);
  EXPECT_EQ(problem_of(service.verify(input + "." + b64url(mac.substr(0, 31)), kNow)), "bad signature");
  EXPECT_EQ(problem_of(service.verify(input + "." + b64url(mac + "x"), kNow)), "bad signature");
  EXPECT_EQ(problem_of(service.verify(input + "." + b64url(mac), kNow)), "valid");
}

TEST(JwtTokenService, ExpiryIsExclusive) {
  const JwtTokenService service(kSecret);
  const std::string token = service.issue(claims());  // exp 1700000300
  const Timestamp exp = at_seconds(1700000300);
  EXPECT_EQ(problem_of(service.verify(token, exp - std::chrono::milliseconds{1})), "valid");
  EXPECT_EQ(problem_of(service.verify(token, exp)), "expired");
  EXPECT_EQ(problem_of(service.verify(token, exp + std::chrono::hours{1})), "expired");
}

TEST(JwtTokenService, IssuedTooFarInTheFutureIsRejected) {
  const JwtTokenService service(kSecret);
  const Timestamp now = at_seconds(1700000000);
  auto token_issued_at = [&](std::int64_t s) {
    return service.issue({UserId{5}, ScheduleId{7}, at_seconds(s), at_seconds(s + 300)});
  };
  EXPECT_EQ(problem_of(service.verify(token_issued_at(1700000060), now)), "valid");
  EXPECT_EQ(problem_of(service.verify(token_issued_at(1700000061), now)), "malformed");
}

TEST(JwtTokenService, OnlyHs256IsAccepted) {
  const JwtTokenService service(kSecret);
  const std::string body = b64url(payload());
  // alg none, unsigned: the classic downgrade.
  EXPECT_EQ(problem_of(service.verify(b64url(R"({"alg":"none","typ":"JWT"})") + "." + body + ".", kNow)),
            "algorithm not accepted");
  for (const char* header :
       {R"({"alg":"none"})", R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"hs256"})", R"({"typ":"JWT"})",
        R"({"alg":null})", R"({"alg":256})", R"({"alg":["HS256"]})", R"({"alg":"HS256 "})", R"({"alg":"RS256"})"}) {
    // Even correctly HMAC-signed with our secret: the header alone decides.
    EXPECT_EQ(problem_of(service.verify(signed_token(header, payload()), kNow)), "algorithm not accepted") << header;
  }
}

TEST(JwtTokenService, GarbageIsMalformed) {
  const JwtTokenService service(kSecret);
  const std::string good = service.issue(claims());
  const std::string head = b64url(kHeader);
  const std::string body = b64url(payload());
  const std::string sig = good.substr(good.rfind('.') + 1);
  const std::string inputs[] = {
      "",
      "a.b",
      "a.b.c.d",
      good + ".",
      "." + body + "." + sig,
      head + ".." + sig,
      head + "." + body + ".",         // alg HS256 but no signature
      "@@@." + body + "." + sig,       // non-alphabet
      head + "." + body + "=." + sig,  // padding
      head + "." + body + "." + sig + "=",
      head + "." + body + "+." + sig,  // standard base64, not url-safe
      head + "." + body + " ." + sig,
      "x." + body + "." + sig,  // impossible length (1 mod 4)
      b64url("not json") + "." + body + "." + sig,
      b64url(R"(["alg","HS256"])") + "." + body + "." + sig,
      b64url(R"({"alg":"HS256"} trailing)") + "." + body + "." + sig,
      head + "." + b64url("{oops") + "." + sig,
      std::string(3000, 'A'),
      good + std::string(3000 - good.size(), 'A'),
      std::string("\0.\0.\0", 5),
  };
  for (const auto& token : inputs) {
    EXPECT_EQ(problem_of(service.verify(token, kNow)), "malformed") << token.substr(0, 120);
  }
}

TEST(JwtTokenService, LengthCapAppliesEvenToAuthenticTokens) {
  const JwtTokenService service(kSecret);
  // JSON whitespace inflates a correctly signed token; only its size is wrong.
  auto padded_token = [](std::size_t spaces) {
    return signed_token(kHeader, R"({"iss":"ticketing",)" + std::string(spaces, ' ') +
                                     R"("sub":"5","sid":7,"iat":1700000000,"exp":1700000300})");
  };
  std::size_t spaces = 1400;
  while (padded_token(spaces + 1).size() <= JwtTokenService::kMaxTokenBytes) ++spaces;
  ASSERT_EQ(padded_token(spaces).size() <= 2048, padded_token(spaces + 1).size() > 2048);
  EXPECT_EQ(problem_of(service.verify(padded_token(spaces), kNow)), "valid");
  EXPECT_EQ(problem_of(service.verify(padded_token(spaces + 1), kNow)), "malformed");
}

TEST(JwtTokenService, NonCanonicalBase64IsMalformed) {
  const JwtTokenService service(kSecret);
  const std::string good = service.issue(claims());
  // 32 bytes → 43 chars; the last char carries 2 unused bits. 'M' ↔ 'N' style: set the lowest bit.
  std::string token = good;
  char& last = token.back();
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  last = alphabet[alphabet.find(last) | 1];
  ASSERT_NE(token, good);
  EXPECT_EQ(problem_of(service.verify(token, kNow)), "malformed");
}

TEST(JwtTokenService, SignedTokensWithBadClaimsAreMalformed) {
  const JwtTokenService service(kSecret);
  const std::string payloads[] = {
      R"([1,2,3])",
      R"("just a string")",
      payload("5"),  // sub numeric
      payload(R"("01")"),
      payload(R"("-1")"),
      payload(R"("0")"),
      payload(R"("5 ")"),
      payload(R"("9223372036854775808")"),
      payload(R"("5")", R"("7")"),  // sid string
      payload(R"("5")", "0"),
      payload(R"("5")", "-3"),
      payload(R"("5")", "7.0"),
      payload(R"("5")", "true"),
      payload(R"("5")", "7", R"("1700000000")"),
      payload(R"("5")", "7", "1700000000", "1700000000.5"),
      payload(R"("5")", "7", "1700000000", "1700000000"),  // exp not after iat
      payload(R"("5")", "7", "1700000000", "1699999999"),
      payload(R"("5")", "7", "-1", "1700000300"),
      payload(R"("5")", "7", "1700000000", "99999999999999999"),
      R"({"iss":"ticketing","sub":"5","sid":7,"iat":1700000000})",  // missing exp
      R"({"iss":"ticketing","sub":"5","sid":7,"exp":1700000300})",  // missing iat
      R"({"sub":"5","sid":7,"iat":1700000000,"exp":1700000300})",   // missing iss
      R"({"iss":"someone-else","sub":"5","sid":7,"iat":1700000000,"exp":1700000300})",
      R"({"iss":"ticketing","sub":"5","sid":7,"iat":1700000000,"exp":1700000300,"adm":true})",
  };
  for (const auto& p : payloads) {
    EXPECT_EQ(problem_of(service.verify(signed_token(kHeader, p), kNow)), "malformed") << p;
  }
  // The same helper with a sane payload verifies: the rejections above are about the claims.
  EXPECT_EQ(problem_of(service.verify(signed_token(kHeader, payload()), kNow)), "valid");
}

TEST(JwtTokenService, IssuerIsPartOfTheContract) {
  const JwtTokenService ours(kSecret);
  const JwtTokenService other_issuer(kSecret, "billing");
  EXPECT_EQ(problem_of(ours.verify(other_issuer.issue(claims()), kNow)), "malformed");
  EXPECT_EQ(problem_of(other_issuer.verify(other_issuer.issue(claims()), kNow)), "valid");
}

TEST(JwtTokenService, NoSingleCharacterEditVerifies) {
  const JwtTokenService service(kSecret);
  const std::string good = service.issue(claims());
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (char c : {'A', 'f', '_', '.', '='}) {
      if (good[i] == c) continue;
      std::string token = good;
      token[i] = c;
      EXPECT_FALSE(service.verify(token, kNow).claims) << "position " << i << " -> " << c;
    }
    EXPECT_FALSE(service.verify(good.substr(0, i), kNow).claims) << "prefix " << i;
  }
}

// A repeated claim (the DOM would keep the last `sub`: another user's admission), a repeated or
// critical header member: refused even when correctly signed.
TEST(JwtTokenService, RefusesRepeatedMembersAndCriticalExtensions) {
  const JwtTokenService service(kSecret);
  std::string twice = payload();
  twice.insert(twice.size() - 1, R"(,"sub":"6")");
  EXPECT_EQ(problem_of(service.verify(signed_token(kHeader, twice), kNow)), "malformed") << twice;
  EXPECT_NE(problem_of(service.verify(signed_token(R"({"alg":"none","alg":"HS256"})", payload()), kNow)), "valid");
  EXPECT_NE(problem_of(service.verify(signed_token(R"({"alg":"HS256","crit":["sid"]})", payload()), kNow)), "valid");
  EXPECT_EQ(problem_of(service.verify(signed_token(R"({"alg":"HS256","kid":"k1"})", payload()), kNow)), "valid");
}
