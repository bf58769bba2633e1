// JwtTokenService::verify (queue admission tokens) on arbitrary bytes. The first byte picks the mode:
//   even: the rest is the token as a client sends it (mostly stops at the signature check);
//   odd:  the rest is the claims JSON, signed here with the service's key, so the payload parser
//         behind the signature is reached too.
// Properties: verify never throws (it is noexcept in spirit: a throw escapes and is reported); a
// token that verifies has claims that issue() accepts, and the reissued token verifies to the same
// claims.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "infra/security/jws.hpp"
#include "infra/security/jwt_token_service.hpp"

using namespace ticketing;

namespace {
constexpr std::string_view kSecret = "fuzz-queue-token-secret--0123456789abcdef";
// 2026-01-01T00:00:00Z: the seed tokens are issued around it.
const domain::Timestamp kNow{std::chrono::seconds{1'767'225'600}};

bool same(const domain::AdmissionClaims& a, const domain::AdmissionClaims& b) {
  return a.user == b.user && a.schedule == b.schedule && a.issued_at == b.issued_at && a.expires_at == b.expires_at;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const infra::security::JwtTokenService service{std::string(kSecret)};
  static const infra::security::HmacSha256 mac{kSecret};
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string token = (data[0] & 1) ? infra::security::sign_compact_jws(mac, rest) : std::string(rest);

  const auto check = service.verify(token, kNow);
  if (check.claims) {
    const std::string again = service.issue(*check.claims);  // must not throw for claims it accepted
    const auto recheck = service.verify(again, kNow);
    if (!recheck.claims || !same(*recheck.claims, *check.claims)) __builtin_trap();
  }
  return 0;
}
