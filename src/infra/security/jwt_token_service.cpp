#include "infra/security/jwt_token_service.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace ticketing::infra::security {

namespace {

using domain::TokenCheck;
using domain::TokenProblem;

constexpr std::size_t kMacBytes = 32;
constexpr std::size_t kMaxIssuerBytes = 128;  // keeps every payload inside a fixed stack buffer
// 9999-12-31T23:59:59Z: bounds iat/exp so seconds→milliseconds cannot overflow.
constexpr std::int64_t kMaxEpochSeconds = 253402300799;
constexpr auto kMaxClockSkew = std::chrono::seconds{60};
// base64url({"alg":"HS256","typ":"JWT"}) — the only header we issue; lets verify() skip parsing it.
constexpr std::string_view kHeaderSegment = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr auto kDecode = make_decode_table();

void append_base64url(std::string& out, const unsigned char* data, std::size_t size) {
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const std::uint32_t n = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const std::size_t rest = size - i; rest > 0) {
    std::uint32_t n = std::uint32_t{data[i]} << 16;
    if (rest == 2) n |= std::uint32_t{data[i + 1]} << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    if (rest == 2) out += kAlphabet[(n >> 6) & 63];
  }
}

constexpr std::size_t encoded_size(std::size_t bytes) {
  return (bytes * 4 + 2) / 3;
}

// Strict unpadded base64url into `out` (capacity `cap`); returns the decoded length or -1. Rejects
// '=', any non-alphabet byte, impossible lengths and non-zero leftover bits, so every byte string has
// exactly one accepted spelling (no malleable tokens).
std::ptrdiff_t decode_base64url(std::string_view in, unsigned char* out, std::size_t cap) {
  if (in.size() % 4 == 1) return -1;
  const std::size_t size = in.size() / 4 * 3 + (in.size() % 4 == 0 ? 0 : in.size() % 4 - 1);
  if (size > cap) return -1;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t n = 0;
  for (char c : in) {
    const int v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) return -1;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<unsigned char>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return -1;  // leftover bits must be zero (RFC 4648 §3.5)
  return static_cast<std::ptrdiff_t>(n);
}

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

// A keyed HMAC-SHA256 context built once; each signature duplicates it, which skips the algorithm
// fetch and key schedule that one-shot HMAC() redoes on every call (~2x faster on OpenSSL 3.0).
class JwtTokenService::Mac {
 public:
  explicit Mac(std::string_view key) {
    mac_ = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    if (mac_ != nullptr) keyed_ = EVP_MAC_CTX_new(mac_);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (keyed_ == nullptr ||
        EVP_MAC_init(keyed_, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
      release();
      throw std::runtime_error("JwtTokenService: cannot set up HMAC-SHA256");
    }
  }
  ~Mac() { release(); }
  Mac(const Mac&) = delete;
  Mac& operator=(const Mac&) = delete;

  // Thread-safe: the keyed context is only read (EVP_MAC_CTX_dup takes it const).
  bool sign(std::string_view data, unsigned char (&out)[kMacBytes]) const {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed_);
    std::size_t len = 0;
    const bool ok =
        ctx != nullptr &&
        EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
        EVP_MAC_final(ctx, out, &len, kMacBytes) == 1 && len == kMacBytes;
    EVP_MAC_CTX_free(ctx);
    return ok;
  }

 private:
  void release() {
    EVP_MAC_CTX_free(keyed_);
    EVP_MAC_free(mac_);
    keyed_ = nullptr;
    mac_ = nullptr;
  }

  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* keyed_ = nullptr;
};

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
    mac_ = std::make_unique<const Mac>(secret);
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

  std::string token;
  token.reserve(kHeaderSegment.size() + 1 + encoded_size(payload.size()) + 1 + encoded_size(kMacBytes));
  token += kHeaderSegment;
  token += '.';
  append_base64url(token, payload.data(), payload.size());
  unsigned char mac[kMacBytes];
  if (!mac_->sign(token, mac)) throw std::runtime_error("JwtTokenService::issue: HMAC failed");
  token += '.';
  append_base64url(token, mac, kMacBytes);
  return token;
}

TokenCheck JwtTokenService::verify(std::string_view token, domain::Timestamp now) const try {
  // Checks run cheapest-first; structure and algorithm come before the signature so `alg: none`
  // is reported as such, and the clock comes last so only authentic tokens are told "expired".
  if (token.size() > kMaxTokenBytes) return fail(TokenProblem::kMalformed);
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail(TokenProblem::kMalformed);
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty()) return fail(TokenProblem::kMalformed);

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
    if (header == nullptr) return fail(TokenProblem::kMalformed);
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
  // Exactly our five claims (the DOM folds duplicate keys, so size + presence pins the key set).
  if (payload == nullptr || payload->size() != 5) return fail(TokenProblem::kMalformed);
  const auto* iss = payload->if_contains("iss");
  const auto* sub = payload->if_contains("sub");
  if (iss == nullptr || !iss->is_string() || iss->get_string() != issuer_)
    return fail(TokenProblem::kMalformed);
  if (sub == nullptr || !sub->is_string()) return fail(TokenProblem::kMalformed);
  const auto user = domain::parse_canonical_id(sub->get_string());
  const auto schedule = int_claim(*payload, "sid");
  const auto iat = int_claim(*payload, "iat");
  const auto exp = int_claim(*payload, "exp");
  if (!user || !schedule || *schedule < 1 || !iat || !exp || *iat < 0 || *exp > kMaxEpochSeconds ||
      *exp <= *iat) {
    return fail(TokenProblem::kMalformed);
  }

  // Claims are extracted, so `text` is free again; any decodable length is accepted here so a
  // wrong-length signature is reported as a bad signature.
  const auto given_len = decode_base64url(signature_b64, text, sizeof text);
  if (given_len < 0) return fail(TokenProblem::kMalformed);
  unsigned char expected[kMacBytes];
  if (given_len != static_cast<std::ptrdiff_t>(kMacBytes) || !mac_->sign(token.substr(0, dot2), expected) ||
      CRYPTO_memcmp(expected, text, kMacBytes) != 0) {
    return fail(TokenProblem::kBadSignature);
  }

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
