#pragma once
// Authenticity of the payment gateway's callbacks (DESIGN: signed gateway callbacks). The gateway
// sends `Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`; a callback
// is accepted only when some v1 matches under the shared secret and t is within the tolerance of now.
#include <optional>
#include <string>
#include <string_view>

#include "domain/time.hpp"

namespace ticketing::domain {

enum class GatewaySignatureProblem {
  kNone,          // authentic and fresh
  kMissing,       // no Gateway-Signature header
  kMalformed,     // not t=...,v1=... as specified (or too long)
  kStale,         // correctly signed, but t is too far from now (either way): a replay or a bad clock
  kBadSignature,  // no v1 matches the body under the shared secret
};
std::string_view to_string(GatewaySignatureProblem problem) noexcept;

class GatewayVerifier {
 public:
  virtual ~GatewayVerifier() = default;
  // header: the Gateway-Signature value (nullopt when absent); raw_body exactly as received.
  // Thread-safe; never throws.
  virtual GatewaySignatureProblem verify(const std::optional<std::string>& header, std::string_view raw_body,
                                         Timestamp now) const = 0;
};

}  // namespace ticketing::domain
