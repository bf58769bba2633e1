#include "infra/security/gateway_signature.hpp"

#include <openssl/crypto.h>

#include <array>
#include <charconv>
#include <stdexcept>

#include "infra/security/jws.hpp"

namespace ticketing::infra::security {

namespace {

using domain::GatewaySignatureProblem;

constexpr std::size_t kMacBytes = kHmacBytes;
constexpr std::size_t kHexBytes = 2 * kMacBytes;

std::string_view trimmed(std::string_view value) {
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return value.substr(first, value.find_last_not_of(" \t") - first + 1);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Exactly 64 hex digits (either case) into 32 bytes.
bool decode_mac_hex(std::string_view hex, std::array<unsigned char, kMacBytes>& out) {
  if (hex.size() != kHexBytes) return false;
  for (std::size_t i = 0; i < kMacBytes; ++i) {
    const int high = hex_value(hex[2 * i]);
    const int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<unsigned char>((high << 4) | low);
  }
  return true;
}

// A canonical decimal 0..kMaxTimestamp: digits only, no sign, no leading zero (except "0" itself).
std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  if (text.empty() || text.size() > 12 || (text.size() > 1 && text.front() == '0')) return std::nullopt;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > HmacGatewayVerifier::kMaxTimestamp) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

HmacGatewayVerifier::HmacGatewayVerifier(std::string secret, std::chrono::seconds tolerance) : tolerance_(tolerance) {
  const bool ok = !secret.empty() && tolerance >= std::chrono::seconds{0} && tolerance <= kMaxTolerance;
  try {
    if (!ok)
      throw std::invalid_argument("HmacGatewayVerifier: the secret must not be empty and the tolerance 0 s to 1 day");
    mac_ = std::make_unique<const HmacSha256>(secret);
  } catch (...) {
    OPENSSL_cleanse(secret.data(), secret.size());
    throw;
  }
  OPENSSL_cleanse(secret.data(), secret.size());  // the keyed context holds what it needs
}

HmacGatewayVerifier::~HmacGatewayVerifier() = default;

domain::GatewaySignatureProblem HmacGatewayVerifier::verify(const std::optional<std::string>& header,
                                                            std::string_view raw_body, domain::Timestamp now) const
    try {
  if (!header) return GatewaySignatureProblem::kMissing;
  const std::string_view value = *header;
  if (value.size() > kMaxHeaderBytes) return GatewaySignatureProblem::kMalformed;

  // The length cap bounds the number of items: at most 1024 / 67 v1 values fit.
  constexpr std::size_t kMaxCandidates = kMaxHeaderBytes / (kHexBytes + 3) + 1;
  std::array<std::array<unsigned char, kMacBytes>, kMaxCandidates> candidates;
  std::size_t candidate_count = 0;
  std::optional<std::string_view> t_text;
  std::int64_t t = 0;

  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = value.find(',', pos);
    const std::string_view item = trimmed(value.substr(pos, comma == std::string_view::npos ? comma : comma - pos));
    const std::size_t eq = item.find('=');
    if (item.empty() || eq == std::string_view::npos || eq == 0) return GatewaySignatureProblem::kMalformed;
    const std::string_view key = item.substr(0, eq);
    const std::string_view item_value = item.substr(eq + 1);
    if (key == "t") {
      const auto parsed = parse_timestamp(item_value);
      if (t_text || !parsed) return GatewaySignatureProblem::kMalformed;
      t_text = item_value;
      t = *parsed;
    } else if (key == "v1") {
      if (candidate_count == kMaxCandidates || !decode_mac_hex(item_value, candidates[candidate_count])) {
        return GatewaySignatureProblem::kMalformed;
      }
      ++candidate_count;
    }  // any other key (a future scheme, v0 test signatures...) is ignored
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (!t_text || candidate_count == 0) return GatewaySignatureProblem::kMalformed;

  unsigned char expected[kMacBytes];
  if (!mac_->sign({*t_text, ".", raw_body}, expected)) return GatewaySignatureProblem::kBadSignature;
  bool matched = false;
  for (std::size_t i = 0; i < candidate_count; ++i) {
    matched |= CRYPTO_memcmp(expected, candidates[i].data(), kMacBytes) == 0;
  }
  if (!matched) return GatewaySignatureProblem::kBadSignature;

  // 0 <= t <= 10^11 s and tolerance <= 1 day, so these millisecond bounds cannot overflow.
  using std::chrono::milliseconds;
  const std::int64_t t_ms = t * 1000;
  const std::int64_t tolerance_ms = std::chrono::duration_cast<milliseconds>(tolerance_).count();
  const std::int64_t now_ms = now.time_since_epoch().count();
  if (now_ms > t_ms + tolerance_ms || now_ms < t_ms - tolerance_ms) return GatewaySignatureProblem::kStale;
  return GatewaySignatureProblem::kNone;
} catch (...) {
  return GatewaySignatureProblem::kBadSignature;  // fail closed, never throw at the caller
}

std::string sign_gateway_payload(std::string_view secret, std::int64_t unix_seconds, std::string_view raw_body) {
  if (secret.empty()) throw std::invalid_argument("sign_gateway_payload: the secret must not be empty");
  if (unix_seconds < 0 || unix_seconds > HmacGatewayVerifier::kMaxTimestamp) {
    throw std::invalid_argument("sign_gateway_payload: unix_seconds must be 0..10^11");
  }
  const std::string t = std::to_string(unix_seconds);
  unsigned char mac[kMacBytes];
  if (!HmacSha256(secret).sign({t, ".", raw_body}, mac)) {
    throw std::runtime_error("sign_gateway_payload: HMAC failed");
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string header = "t=" + t + ",v1=";
  header.reserve(header.size() + kHexBytes);
  for (const unsigned char b : mac) {
    header += kDigits[b >> 4];
    header += kDigits[b & 0x0f];
  }
  return header;
}

}  // namespace ticketing::infra::security
