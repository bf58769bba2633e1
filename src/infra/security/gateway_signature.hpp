#pragma once
// Signed payment-gateway callbacks: `Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`,
// the MAC taken over "<t>.<raw body>" with the shared secret (the scheme Stripe uses).
//
// Parsing: comma-separated `key=value` items, spaces/tabs around an item ignored; exactly one `t`,
// a canonical decimal 0..10^11 (no sign, no leading zeros); at least one `v1`, each exactly 64 hex
// digits (either case); several `v1` are allowed and any match is enough (secret rotation: the
// gateway signs with the old and the new secret for a while); unknown keys are ignored; a header
// over kMaxHeaderBytes, an empty item or an item without '=' is malformed. Signatures are compared
// in constant time (CRYPTO_memcmp). The signature is checked before the clock, so only authentic
// callbacks are reported kStale; stale means |now - t| > tolerance (exactly the tolerance passes).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "domain/ports/gateway_verifier.hpp"

namespace ticketing::infra::security {

class HmacSha256;  // keyed HMAC-SHA256 (OpenSSL types stay out of this header)

class HmacGatewayVerifier final : public domain::GatewayVerifier {
 public:
  static constexpr std::size_t kMaxHeaderBytes = 1024;
  static constexpr std::int64_t kMaxTimestamp = 100'000'000'000;  // 10^11 s, year ~5138
  static constexpr std::chrono::seconds kMaxTolerance{86'400};

  // Throws std::invalid_argument for an empty secret or a tolerance outside 0 s .. kMaxTolerance.
  // The secret never appears in logs or exception messages and is wiped once the MAC is keyed.
  explicit HmacGatewayVerifier(std::string secret, std::chrono::seconds tolerance = std::chrono::seconds{300});
  ~HmacGatewayVerifier() override;
  HmacGatewayVerifier(const HmacGatewayVerifier&) = delete;
  HmacGatewayVerifier& operator=(const HmacGatewayVerifier&) = delete;

  // Thread-safe; never throws (an internal failure reports kBadSignature: fail closed).
  domain::GatewaySignatureProblem verify(const std::optional<std::string>& header, std::string_view raw_body,
                                         domain::Timestamp now) const override;

 private:
  std::unique_ptr<const HmacSha256> mac_;
  std::chrono::seconds tolerance_;
};

// The full header value "t=<unix_seconds>,v1=<64 lowercase hex>" for `raw_body` (tests, docs, tools
// that play the gateway). Throws std::invalid_argument for an empty secret or unix_seconds outside
// 0..HmacGatewayVerifier::kMaxTimestamp.
std::string sign_gateway_payload(std::string_view secret, std::int64_t unix_seconds, std::string_view raw_body);

}  // namespace ticketing::infra::security
