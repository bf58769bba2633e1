#include "infra/security/jwt_access_token_service.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <stdexcept>

#include "infra/security/jws.hpp"

namespace ticketing::infra::security {
namespace {

using domain::AccessTokenCheck;
using domain::TokenProblem;

constexpr std::int64_t kMaxEpochSeconds = 253402300799;  // 9999-12-31T23:59:59Z
constexpr auto kMaxClockSkew = std::chrono::seconds{60};
constexpr std::string_view kAudience = "access";
constexpr std::size_t kMaxSessionLength = 64;

bool valid_session(std::string_view session) {
  if (session.empty() || session.size() > kMaxSessionLength) return false;
  for (char c : session) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

bool valid_issuer(std::string_view issuer) {
  if (issuer.empty() || issuer.size() > 128) return false;
  for (char c : issuer) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

std::int64_t epoch_seconds(domain::Timestamp t) {
  return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

AccessTokenCheck fail(TokenProblem problem) {
  return AccessTokenCheck{std::nullopt, problem};
}

std::optional<std::int64_t> int_claim(const boost::json::object& payload, std::string_view key) {
  const auto* v = payload.if_contains(key);
  if (v == nullptr || !v->is_int64()) return std::nullopt;
  return v->get_int64();
}

std::optional<std::string_view> string_claim(const boost::json::object& payload, std::string_view key) {
  const auto* v = payload.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

// The claims as written in the payload.
struct RawClaims {
  std::string iss, aud, sub, role, fam;
  std::int64_t iat = 0;
  std::int64_t exp = 0;
};

// Reads `"<chars without quote or backslash>"` at `pos`.
bool scan_string(std::string_view text, std::size_t& pos, std::string& out) {
  if (pos >= text.size() || text[pos] != '"') return false;
  const auto end = text.find_first_of("\"\\", pos + 1);
  if (end == std::string_view::npos || text[end] != '"') return false;
  out.assign(text.substr(pos + 1, end - pos - 1));
  pos = end + 1;
  return true;
}

bool scan_literal(std::string_view text, std::size_t& pos, std::string_view literal) {
  if (text.substr(pos, literal.size()) != literal) return false;
  pos += literal.size();
  return true;
}

// A canonical non-negative decimal (no sign, no leading zero).
bool scan_integer(std::string_view text, std::size_t& pos, std::int64_t& out) {
  if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') return false;
  const auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), out);
  if (ec != std::errc{} || (text[pos] == '0' && end - (text.data() + pos) > 1)) return false;
  pos = static_cast<std::size_t>(end - text.data());
  return true;
}

// Exactly {"iss":"…","aud":"…","sub":"…","role":"…","fam":"…","iat":N,"exp":N} as issue() writes it.
std::optional<RawClaims> scan_issued_payload(std::string_view text) {
  RawClaims c;
  std::size_t pos = 0;
  const bool ok =
      scan_literal(text, pos, R"({"iss":)") && scan_string(text, pos, c.iss) && scan_literal(text, pos, R"(,"aud":)") &&
      scan_string(text, pos, c.aud) && scan_literal(text, pos, R"(,"sub":)") && scan_string(text, pos, c.sub) &&
      scan_literal(text, pos, R"(,"role":)") && scan_string(text, pos, c.role) &&
      scan_literal(text, pos, R"(,"fam":)") && scan_string(text, pos, c.fam) && scan_literal(text, pos, R"(,"iat":)") &&
      scan_integer(text, pos, c.iat) && scan_literal(text, pos, R"(,"exp":)") && scan_integer(text, pos, c.exp) &&
      scan_literal(text, pos, "}") && pos == text.size();
  if (!ok) return std::nullopt;
  return c;
}

// Any other spelling: a JSON object with exactly these seven claims, of these types.
std::optional<RawClaims> parse_payload(std::string_view text) {
  unsigned char arena_buffer[4096];
  boost::json::monotonic_resource arena(arena_buffer, sizeof arena_buffer);
  boost::system::error_code ec;
  const boost::json::value json = boost::json::parse(text, ec, &arena);
  const auto* payload = ec ? nullptr : json.if_object();
  if (payload == nullptr || payload->size() != 7 || count_top_level_members(text) != 7) return std::nullopt;
  const auto iss = string_claim(*payload, "iss");
  const auto aud = string_claim(*payload, "aud");
  const auto sub = string_claim(*payload, "sub");
  const auto role = string_claim(*payload, "role");
  const auto fam = string_claim(*payload, "fam");
  const auto iat = int_claim(*payload, "iat");
  const auto exp = int_claim(*payload, "exp");
  if (!iss || !aud || !sub || !role || !fam || !iat || !exp) return std::nullopt;
  return RawClaims{
      std::string(*iss), std::string(*aud), std::string(*sub), std::string(*role), std::string(*fam), *iat, *exp};
}

}  // namespace

JwtAccessTokenService::JwtAccessTokenService(std::string secret, std::string issuer) : issuer_(std::move(issuer)) {
  const bool secret_ok = secret.size() >= kMinSecretBytes;
  if (secret_ok && valid_issuer(issuer_)) mac_ = std::make_unique<const HmacSha256>(secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!secret_ok) throw std::invalid_argument("access token secret must be at least 32 bytes");
  if (!mac_) throw std::invalid_argument("access token issuer must be 1-128 printable ASCII characters");
}

JwtAccessTokenService::~JwtAccessTokenService() = default;

std::string JwtAccessTokenService::issue(const domain::AccessClaims& claims) const {
  const std::int64_t iat = epoch_seconds(claims.issued_at);
  const std::int64_t exp = epoch_seconds(claims.expires_at);
  if (claims.user.value <= 0) throw std::invalid_argument("access token: user id must be positive");
  if (!valid_session(claims.session)) throw std::invalid_argument("access token: bad session id");
  if (iat < 0 || exp > kMaxEpochSeconds || exp <= iat) {
    throw std::invalid_argument("access token: expiry must be after issue time (whole seconds)");
  }
  const std::string payload =
      fmt::format(R"({{"iss":"{}","aud":"{}","sub":"{}","role":"{}","fam":"{}","iat":{},"exp":{}}})", issuer_,
                  kAudience, claims.user.value, domain::to_string(claims.role), claims.session, iat, exp);
  return sign_compact_jws(*mac_, payload);
}

AccessTokenCheck JwtAccessTokenService::verify(std::string_view token, domain::Timestamp now) const try {
  // Cheapest checks first; the algorithm before the signature so `alg: none` is named as such, and
  // the clock last so only authentic tokens are told "expired".
  if (token.size() > kMaxTokenBytes) return fail(TokenProblem::kMalformed);
  const auto parts = split_compact_jws(token);
  if (!parts) return fail(TokenProblem::kMalformed);
  const std::string_view header_b64 = parts->header;
  const std::string_view payload_b64 = parts->payload;
  const std::string_view signature_b64 = parts->signature;
  if (header_b64 != kHs256HeaderSegment) {
    const std::string alg = header_algorithm(header_b64);
    if (alg.empty()) return fail(TokenProblem::kMalformed);
    if (alg != "HS256") return fail(TokenProblem::kWrongAlgorithm);
  }
  if (signature_b64.empty()) return fail(TokenProblem::kMalformed);

  switch (check_signature(*mac_, *parts)) {
    case SignatureCheck::kValid: break;
    case SignatureCheck::kMalformed: return fail(TokenProblem::kMalformed);
    case SignatureCheck::kBad: return fail(TokenProblem::kBadSignature);
  }
  unsigned char text[kMaxTokenBytes];

  // Authentic from here on; the payload is still checked strictly (a key shared by mistake with
  // another kind of token must not turn its tokens into access tokens).
  const auto n = decode_base64url(payload_b64, text, sizeof text);
  if (n < 0) return fail(TokenProblem::kMalformed);
  const std::string_view payload_text(reinterpret_cast<const char*>(text), static_cast<std::size_t>(n));
  // Our own tokens are read by a scanner of exactly the text issue() writes; anything else (another
  // key order, spacing, escapes) goes through the JSON parser with the same strict rules.
  auto claims = scan_issued_payload(payload_text);
  if (!claims) claims = parse_payload(payload_text);
  if (!claims || claims->iss != issuer_ || claims->aud != kAudience || !valid_session(claims->fam) || claims->iat < 0 ||
      claims->exp > kMaxEpochSeconds || claims->exp <= claims->iat) {
    return fail(TokenProblem::kMalformed);
  }
  const auto user = domain::parse_canonical_id(claims->sub);
  const auto role = domain::role_from(claims->role);
  if (!user || !role) return fail(TokenProblem::kMalformed);
  const auto* iat = &claims->iat;
  const auto* exp = &claims->exp;

  const domain::Timestamp issued_at{std::chrono::seconds{*iat}};
  const domain::Timestamp expires_at{std::chrono::seconds{*exp}};
  if (issued_at > now + kMaxClockSkew) return fail(TokenProblem::kMalformed);
  if (now >= expires_at) return fail(TokenProblem::kExpired);
  return AccessTokenCheck{
      domain::AccessClaims{domain::UserId{*user}, *role, std::move(claims->fam), issued_at, expires_at},
      TokenProblem::kMalformed};
} catch (const std::exception&) {
  return fail(TokenProblem::kMalformed);
}

}  // namespace ticketing::infra::security
