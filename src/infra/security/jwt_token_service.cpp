#include "infra/security/jwt_token_service.hpp"

#include <openssl/crypto.h>

#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "infra/security/jws.hpp"

namespace ticketing::infra::security {

namespace {

using domain::TokenCheck;
using domain::TokenProblem;

constexpr std::size_t kMaxIssuerBytes = 128;  // keeps every payload inside a fixed stack buffer
// 9999-12-31T23:59:59Z: bounds iat/exp so seconds→milliseconds cannot overflow.
constexpr std::int64_t kMaxEpochSeconds = 253402300799;
constexpr auto kMaxClockSkew = std::chrono::seconds{60};
// The only header we issue; lets verify() skip parsing it.
constexpr std::string_view kHeaderSegment = kHs256HeaderSegment;

std::int64_t epoch_seconds(domain::Timestamp t) {
  return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

TokenCheck fail(TokenProblem problem) {
  return TokenCheck{std::nullopt, problem};
}

// A null value when `json` is not valid JSON; allocates from `storage` (a stack arena in verify()).
boost::json::value parse_json(std::string_view json, boost::json::storage_ptr storage) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(json, ec, std::move(storage));
  if (ec) return nullptr;
  return value;
}

// Fixed-capacity text builder so issue() assembles the payload without touching the heap.
class StackText {
 public:
  void put(std::string_view s) {
    std::memcpy(buf_ + size_, s.data(), s.size());
    size_ += s.size();
  }
  void put(std::int64_t value) { size_ = std::to_chars(buf_ + size_, buf_ + sizeof buf_, value).ptr - buf_; }
  const unsigned char* data() const { return reinterpret_cast<const unsigned char*>(buf_); }
  std::size_t size() const { return size_; }

 private:
  // prefix ≤ 8 + 128 + 9, four int64s ≤ 80, literal keys 23: well under 320.
  char buf_[320];
  std::size_t size_ = 0;
};

std::optional<std::int64_t> int_claim(const boost::json::object& payload, std::string_view key) {
  const auto* v = payload.if_contains(key);
  if (v == nullptr || !v->is_int64()) return std::nullopt;  // doubles, bools, strings, > INT64_MAX
  return v->get_int64();
}

}  // namespace

JwtTokenService::JwtTokenService(std::string secret, std::string issuer) : issuer_(std::move(issuer)) {
  if (secret.size() < kMinSecretBytes) {
    OPENSSL_cleanse(secret.data(), secret.size());
    throw std::invalid_argument("JwtTokenService: secret must be at least 32 bytes");
  }
  // Printable ASCII without quote or backslash: the issuer then goes into JSON verbatim.
  bool issuer_ok = !issuer_.empty() && issuer_.size() <= kMaxIssuerBytes;
  for (char c : issuer_) issuer_ok = issuer_ok && c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
  if (!issuer_ok) {
    OPENSSL_cleanse(secret.data(), secret.size());
    throw std::invalid_argument("JwtTokenService: issuer must be 1-128 printable ASCII characters");
  }
  try {
    mac_ = std::make_unique<const HmacSha256>(secret);
  } catch (...) {
    OPENSSL_cleanse(secret.data(), secret.size());
    throw;
  }
  OPENSSL_cleanse(secret.data(), secret.size());  // the keyed context holds what it needs
  payload_prefix_ = R"({"iss":")" + issuer_ + R"(","sub":")";
}

JwtTokenService::~JwtTokenService() = default;

std::string JwtTokenService::issue(const domain::AdmissionClaims& claims) const {
  const std::int64_t iat = epoch_seconds(claims.issued_at);
  const std::int64_t exp = epoch_seconds(claims.expires_at);
  if (claims.user.value <= 0 || claims.schedule.value <= 0) {
    throw std::invalid_argument("JwtTokenService::issue: ids must be positive");
  }
  if (iat < 0 || exp > kMaxEpochSeconds || exp <= iat) {
    throw std::invalid_argument("JwtTokenService::issue: expiry must be after issue time (whole seconds)");
  }

  // Payload on the stack; the token string is the only heap allocation on our side.
  StackText payload;
  payload.put(payload_prefix_);
  payload.put(claims.user.value);
  payload.put(R"(","sid":)");
  payload.put(claims.schedule.value);
  payload.put(R"(,"iat":)");
  payload.put(iat);
  payload.put(R"(,"exp":)");
  payload.put(exp);
  payload.put("}");

  return sign_compact_jws(*mac_, std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
}

TokenCheck JwtTokenService::verify(std::string_view token, domain::Timestamp now) const try {
  // Checks run cheapest-first; structure and algorithm come before the signature so `alg: none`
  // is reported as such, and the clock comes last so only authentic tokens are told "expired".
  if (token.size() > kMaxTokenBytes) return fail(TokenProblem::kMalformed);
  const auto parts = split_compact_jws(token);
  if (!parts) return fail(TokenProblem::kMalformed);
  const std::string_view header_b64 = parts->header;
  const std::string_view payload_b64 = parts->payload;
  const std::string_view signature_b64 = parts->signature;

  // Everything decoded/parsed below lives in stack buffers: no heap traffic for normal tokens.
  unsigned char text[kMaxTokenBytes];
  unsigned char arena_buffer[4096];
  boost::json::monotonic_resource arena(arena_buffer, sizeof arena_buffer);
  auto as_text = [&](std::ptrdiff_t n) {
    return std::string_view{reinterpret_cast<const char*>(text), static_cast<std::size_t>(n)};
  };

  if (header_b64 != kHeaderSegment) {
    const auto n = decode_base64url(header_b64, text, sizeof text);
    if (n < 0) return fail(TokenProblem::kMalformed);
    const boost::json::value header_json = parse_json(as_text(n), &arena);
    const auto* header = header_json.if_object();
    // A repeated member (which `alg`?) or `crit` extensions (none understood here, RFC 7515 §4.1.11).
    if (header == nullptr || header->contains("crit") || has_duplicate_keys(as_text(n))) {
      return fail(TokenProblem::kMalformed);
    }
    const auto* alg = header->if_contains("alg");
    if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256") {
      return fail(TokenProblem::kWrongAlgorithm);
    }
  }
  if (signature_b64.empty()) return fail(TokenProblem::kMalformed);

  const auto n = decode_base64url(payload_b64, text, sizeof text);
  if (n < 0) return fail(TokenProblem::kMalformed);
  const boost::json::value payload_json = parse_json(as_text(n), &arena);
  const auto* payload = payload_json.if_object();
  // Exactly our five claims (the DOM folds repeated keys into one; repeats are looked for once the
  // token is known to be authentic, below).
  if (payload == nullptr || payload->size() != 5) return fail(TokenProblem::kMalformed);
  const auto* iss = payload->if_contains("iss");
  const auto* sub = payload->if_contains("sub");
  if (iss == nullptr || !iss->is_string() || iss->get_string() != issuer_) return fail(TokenProblem::kMalformed);
  if (sub == nullptr || !sub->is_string()) return fail(TokenProblem::kMalformed);
  const auto user = domain::parse_canonical_id(sub->get_string());
  const auto schedule = int_claim(*payload, "sid");
  const auto iat = int_claim(*payload, "iat");
  const auto exp = int_claim(*payload, "exp");
  if (!user || !schedule || *schedule < 1 || !iat || !exp || *iat < 0 || *exp > kMaxEpochSeconds || *exp <= *iat) {
    return fail(TokenProblem::kMalformed);
  }

  switch (check_signature(*mac_, *parts)) {
    case SignatureCheck::kValid: break;
    case SignatureCheck::kMalformed: return fail(TokenProblem::kMalformed);
    case SignatureCheck::kBad: return fail(TokenProblem::kBadSignature);
  }
  if (count_top_level_members(as_text(n)) != 5) return fail(TokenProblem::kMalformed);  // a claim repeated

  const domain::Timestamp issued_at{std::chrono::seconds{*iat}};
  const domain::Timestamp expires_at{std::chrono::seconds{*exp}};
  if (issued_at > now + kMaxClockSkew) return fail(TokenProblem::kMalformed);  // minted in the future
  if (now >= expires_at) return fail(TokenProblem::kExpired);
  return TokenCheck{
      domain::AdmissionClaims{domain::UserId{*user}, domain::ScheduleId{*schedule}, issued_at, expires_at},
      TokenProblem::kMalformed};
} catch (const std::exception&) {
  return fail(TokenProblem::kMalformed);  // e.g. bad_alloc: fail closed, never throw at the caller
}

}  // namespace ticketing::infra::security
