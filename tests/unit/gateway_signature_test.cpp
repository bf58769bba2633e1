// Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">.
#include "infra/security/gateway_signature.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <string>

#include "domain/ports/gateway_verifier.hpp"

using ticketing::domain::GatewaySignatureProblem;
using ticketing::domain::Timestamp;
using ticketing::infra::security::HmacGatewayVerifier;
using ticketing::infra::security::sign_gateway_payload;

namespace {

const std::string kSecret = "whsec_test_0123456789abcdef0123456789abcdef";
const std::string kBody = R"({"orderNo":"ORD-20261124-9f3a1c0e5b7d","status":"PAID","amount":"120000.00"})";
constexpr std::int64_t kT = 1'795'000'000;  // 2026-11-18

Timestamp at(std::int64_t unix_seconds, std::int64_t extra_ms = 0) {
  return Timestamp{std::chrono::milliseconds{unix_seconds * 1000 + extra_ms}};
}

std::optional<std::string> header(std::string value) {
  return std::optional<std::string>(std::move(value));
}

// An independent HMAC (OpenSSL's one-shot HMAC()) so the test does not only check the code against itself.
std::string reference_hex(const std::string& secret, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kDigits[mac[i] >> 4];
    hex += kDigits[mac[i] & 0x0f];
  }
  return hex;
}

std::string v1_of(const std::string& signed_header) {
  return signed_header.substr(signed_header.find("v1=") + 3);
}

}  // namespace

TEST(GatewaySignature, SignProducesTheDocumentedHeader) {
  const auto value = sign_gateway_payload(kSecret, kT, kBody);
  EXPECT_EQ(value, "t=1795000000,v1=" + reference_hex(kSecret, "1795000000." + kBody));
  EXPECT_EQ(v1_of(value).size(), 64u);
}

TEST(GatewaySignature, ValidSignatureIsAccepted) {
  const HmacGatewayVerifier verifier(kSecret);
  EXPECT_EQ(verifier.verify(header(sign_gateway_payload(kSecret, kT, kBody)), kBody, at(kT)),
            GatewaySignatureProblem::kNone);
  EXPECT_EQ(verifier.verify(header(sign_gateway_payload(kSecret, kT, "")), "", at(kT, 1500)),
            GatewaySignatureProblem::kNone);
}

TEST(GatewaySignature, OneChangedBodyByteIsABadSignature) {
  const HmacGatewayVerifier verifier(kSecret);
  const auto signed_header = header(sign_gateway_payload(kSecret, kT, kBody));
  for (std::size_t i : {std::size_t{0}, kBody.size() / 2, kBody.size() - 1}) {
    std::string tampered = kBody;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_EQ(verifier.verify(signed_header, tampered, at(kT)), GatewaySignatureProblem::kBadSignature) << i;
  }
  EXPECT_EQ(verifier.verify(signed_header, kBody + " ", at(kT)), GatewaySignatureProblem::kBadSignature);
}

TEST(GatewaySignature, TheTimestampIsPartOfTheSignedMessage) {
  const HmacGatewayVerifier verifier(kSecret);
  const auto v1 = v1_of(sign_gateway_payload(kSecret, kT, kBody));
  EXPECT_EQ(verifier.verify(header("t=" + std::to_string(kT + 1) + ",v1=" + v1), kBody, at(kT)),
            GatewaySignatureProblem::kBadSignature);
}

TEST(GatewaySignature, WrongSecretIsABadSignature) {
  const HmacGatewayVerifier verifier(kSecret);
  EXPECT_EQ(verifier.verify(header(sign_gateway_payload("another secret", kT, kBody)), kBody, at(kT)),
            GatewaySignatureProblem::kBadSignature);
}

TEST(GatewaySignature, OutsideTheWindowEitherWayIsStale) {
  const HmacGatewayVerifier verifier(kSecret);  // 300 s
  const auto signed_header = header(sign_gateway_payload(kSecret, kT, kBody));
  EXPECT_EQ(verifier.verify(signed_header, kBody, at(kT + 301)), GatewaySignatureProblem::kStale);  // replayed later
  EXPECT_EQ(verifier.verify(signed_header, kBody, at(kT - 301)), GatewaySignatureProblem::kStale);  // from the future
  EXPECT_EQ(verifier.verify(signed_header, kBody, at(kT + 86'400)), GatewaySignatureProblem::kStale);
  EXPECT_EQ(verifier.verify(signed_header, kBody, at(0)), GatewaySignatureProblem::kStale);
}

TEST(GatewaySignature, ExactlyAtTheBoundaryIsAccepted) {
  const HmacGatewayVerifier verifier(kSecret);
  const auto signed_header = header(sign_gateway_payload(kSecret, kT, kBody));
  EXPECT_EQ(verifier.verify(signed_header, kBody, at(kT + 300)), GatewaySignatureProblem::kNone);
  EXPECT_EQ(verifier.verify(signed_header, kBody, at(kT - 300)), GatewaySignatureProblem::kNone);
  EXPECT_EQ(verifier.verify(signed_header, kBody, at(kT + 300, 1)), GatewaySignatureProblem::kStale);
  EXPECT_EQ(verifier.verify(signed_header, kBody, at(kT - 300, -1)), GatewaySignatureProblem::kStale);

  const HmacGatewayVerifier strict(kSecret, std::chrono::seconds{0});
  EXPECT_EQ(strict.verify(signed_header, kBody, at(kT)), GatewaySignatureProblem::kNone);
  EXPECT_EQ(strict.verify(signed_header, kBody, at(kT, 1)), GatewaySignatureProblem::kStale);
}

TEST(GatewaySignature, StaleIsOnlyReportedForAuthenticCallbacks) {
  const HmacGatewayVerifier verifier(kSecret);
  EXPECT_EQ(verifier.verify(header(sign_gateway_payload("another secret", kT, kBody)), kBody, at(kT + 3600)),
            GatewaySignatureProblem::kBadSignature);
}

TEST(GatewaySignature, MissingHeader) {
  const HmacGatewayVerifier verifier(kSecret);
  EXPECT_EQ(verifier.verify(std::nullopt, kBody, at(kT)), GatewaySignatureProblem::kMissing);
}

TEST(GatewaySignature, GarbageHeadersAreMalformed) {
  const HmacGatewayVerifier verifier(kSecret);
  const std::string v1 = v1_of(sign_gateway_payload(kSecret, kT, kBody));
  const std::string t = "t=" + std::to_string(kT);
  const std::string cases[] = {
      "",
      " ",
      ",",
      "garbage",
      "t=abc,v1=" + v1,
      t,           // no v1
      "v1=" + v1,  // no t
      t + ",v1=",  // empty v1
      "t=1,v1=",
      t + ",v1=zz",
      t + ",v1=" + v1.substr(1),         // 63 hex digits
      t + ",v1=" + v1 + "0",             // 65
      t + ",v1=" + v1.substr(2) + "zz",  // 64 chars, not all hex
      t + ",v1=" + v1 + ",v1=xyz",       // one valid, one malformed
      "t=,v1=" + v1,
      "t=-1,v1=" + v1,
      "t=+" + std::to_string(kT) + ",v1=" + v1,
      "t=0" + std::to_string(kT) + ",v1=" + v1,  // not canonical
      "t=1795000000.5,v1=" + v1,
      "t=100000000001,v1=" + v1,             // over 10^11
      "t=99999999999999999999999,v1=" + v1,  // over int64
      t + "," + t + ",v1=" + v1,             // two t
      t + ",v1=" + v1 + ",",                 // empty item
      t + ",,v1=" + v1,
      t + ",v1" + v1,           // no '='
      "=1," + t + ",v1=" + v1,  // empty key
      t + ";v1=" + v1,
      "t = " + std::to_string(kT) + ",v1=" + v1,       // whitespace inside an item
      t + ",v1=" + v1 + "," + std::string(1100, 'x'),  // over the length cap
  };
  for (const auto& value : cases) {
    EXPECT_EQ(verifier.verify(header(value), kBody, at(kT)), GatewaySignatureProblem::kMalformed)
        << "'" << value << "'";
  }
}

TEST(GatewaySignature, TheLengthCapAppliesEvenToOtherwiseValidHeaders) {
  const HmacGatewayVerifier verifier(kSecret);
  const auto valid = sign_gateway_payload(kSecret, kT, kBody);
  std::string padded = valid + ",x=";
  padded += std::string(HmacGatewayVerifier::kMaxHeaderBytes - padded.size(), 'a');
  ASSERT_EQ(padded.size(), HmacGatewayVerifier::kMaxHeaderBytes);
  EXPECT_EQ(verifier.verify(header(padded), kBody, at(kT)), GatewaySignatureProblem::kNone);
  EXPECT_EQ(verifier.verify(header(padded + "a"), kBody, at(kT)), GatewaySignatureProblem::kMalformed);
}

TEST(GatewaySignature, AnyOfSeveralV1ValuesMayMatch) {
  // Secret rotation: the gateway signs with the old and the new secret.
  const HmacGatewayVerifier verifier(kSecret);
  const std::string t = "t=" + std::to_string(kT);
  const std::string good = v1_of(sign_gateway_payload(kSecret, kT, kBody));
  const std::string other = v1_of(sign_gateway_payload("old secret", kT, kBody));
  EXPECT_EQ(verifier.verify(header(t + ",v1=" + other + ",v1=" + good), kBody, at(kT)), GatewaySignatureProblem::kNone);
  EXPECT_EQ(verifier.verify(header("v1=" + good + "," + t + ",v1=" + other), kBody, at(kT)),
            GatewaySignatureProblem::kNone);
  EXPECT_EQ(verifier.verify(header(t + ",v1=" + other + ",v1=" + other), kBody, at(kT)),
            GatewaySignatureProblem::kBadSignature);
}

TEST(GatewaySignature, UppercaseHexWhitespaceAndUnknownKeysAreAccepted) {
  const HmacGatewayVerifier verifier(kSecret);
  std::string upper = v1_of(sign_gateway_payload(kSecret, kT, kBody));
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  const std::string t = std::to_string(kT);
  EXPECT_EQ(verifier.verify(header("t=" + t + ",v1=" + upper), kBody, at(kT)), GatewaySignatureProblem::kNone);
  EXPECT_EQ(verifier.verify(header(" t=" + t + " ,\tv1=" + upper + " "), kBody, at(kT)),
            GatewaySignatureProblem::kNone);
  EXPECT_EQ(verifier.verify(header("v0=legacy,t=" + t + ",scheme=hmac,v1=" + upper), kBody, at(kT)),
            GatewaySignatureProblem::kNone);
}

TEST(GatewaySignature, ConstructionAndSigningRefuseBadArguments) {
  EXPECT_THROW(HmacGatewayVerifier(""), std::invalid_argument);
  EXPECT_THROW(HmacGatewayVerifier(kSecret, std::chrono::seconds{-1}), std::invalid_argument);
  EXPECT_THROW(HmacGatewayVerifier(kSecret, std::chrono::hours{25}), std::invalid_argument);
  EXPECT_THROW(sign_gateway_payload("", kT, kBody), std::invalid_argument);
  EXPECT_THROW(sign_gateway_payload(kSecret, -1, kBody), std::invalid_argument);
  EXPECT_THROW(sign_gateway_payload(kSecret, HmacGatewayVerifier::kMaxTimestamp + 1, kBody), std::invalid_argument);
  EXPECT_NO_THROW(sign_gateway_payload(kSecret, 0, kBody));
}

TEST(GatewaySignature, ProblemsHaveNames) {
  EXPECT_EQ(to_string(GatewaySignatureProblem::kNone), "none");
  EXPECT_EQ(to_string(GatewaySignatureProblem::kMissing), "missing");
  EXPECT_EQ(to_string(GatewaySignatureProblem::kMalformed), "malformed");
  EXPECT_EQ(to_string(GatewaySignatureProblem::kStale), "stale");
  EXPECT_EQ(to_string(GatewaySignatureProblem::kBadSignature), "bad signature");
}
