#include "infra/security/jws.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "support/json_sax.hpp"

namespace ticketing::infra::security {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr auto kDecode = make_decode_table();

}  // namespace

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

struct HmacSha256::State {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* keyed = nullptr;
  std::uint64_t id = 0;  // never reused, unlike the address
  ~State() {
    EVP_MAC_CTX_free(keyed);
    EVP_MAC_free(mac);
  }
};

namespace {

std::atomic<std::uint64_t> next_hmac_id{1};

// Each thread keeps its own copy of a few keyed contexts and re-initialises it per signature
// (EVP_MAC_init without a key keeps the key): no allocation per signature, unlike a fresh dup.
class ThreadContexts {
 public:
  ~ThreadContexts() {
    for (auto& entry : entries_) EVP_MAC_CTX_free(entry.ctx);
  }
  EVP_MAC_CTX* get(std::uint64_t id, const EVP_MAC_CTX* keyed) {
    for (auto& entry : entries_) {
      if (entry.id == id) return entry.ctx;
    }
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed);
    if (ctx == nullptr) return nullptr;
    if (entries_.size() == kMaxEntries) {  // an old key (tests make many): drop the oldest
      EVP_MAC_CTX_free(entries_.front().ctx);
      entries_.erase(entries_.begin());
    }
    entries_.push_back({id, ctx});
    return ctx;
  }

 private:
  static constexpr std::size_t kMaxEntries = 8;
  struct Entry {
    std::uint64_t id;
    EVP_MAC_CTX* ctx;
  };
  std::vector<Entry> entries_;
};

}  // namespace

HmacSha256::HmacSha256(std::string_view key) : state_(std::make_unique<State>()) {
  state_->id = next_hmac_id.fetch_add(1, std::memory_order_relaxed);
  state_->mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  if (state_->mac != nullptr) state_->keyed = EVP_MAC_CTX_new(state_->mac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (state_->keyed == nullptr ||
      EVP_MAC_init(state_->keyed, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
    throw std::runtime_error("cannot set up HMAC-SHA256");
  }
}

HmacSha256::~HmacSha256() = default;

bool HmacSha256::sign(std::initializer_list<std::string_view> parts, unsigned char (&out)[kHmacBytes]) const {
  thread_local ThreadContexts contexts;
  EVP_MAC_CTX* ctx = contexts.get(state_->id, state_->keyed);
  bool ok = ctx != nullptr && EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1;
  for (const auto part : parts) {
    ok = ok &&
         (part.empty() || EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) == 1);
  }
  std::size_t len = 0;
  ok = ok && EVP_MAC_final(ctx, out, &len, kHmacBytes) == 1 && len == kHmacBytes;
  return ok;
}

std::optional<CompactJws> split_compact_jws(std::string_view token) {
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) return std::nullopt;
  CompactJws parts{token.substr(0, dot1), token.substr(dot1 + 1, dot2 - dot1 - 1), token.substr(dot2 + 1),
                   token.substr(0, dot2)};
  if (parts.header.empty() || parts.payload.empty()) return std::nullopt;
  return parts;
}

std::string sign_compact_jws(const HmacSha256& mac, std::string_view payload) {
  std::string token;
  token.reserve(kHs256HeaderSegment.size() + 2 + base64url_size(payload.size()) + base64url_size(kHmacBytes));
  token += kHs256HeaderSegment;
  token += '.';
  append_base64url(token, reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
  unsigned char signature[kHmacBytes];
  if (!mac.sign(token, signature)) throw std::runtime_error("JWS: HMAC-SHA256 failed");
  token += '.';
  append_base64url(token, signature, kHmacBytes);
  return token;
}

SignatureCheck check_signature(const HmacSha256& mac, const CompactJws& parts) {
  unsigned char given[2048];
  const auto given_len = decode_base64url(parts.signature, given, sizeof given);
  if (given_len < 0) return SignatureCheck::kMalformed;
  unsigned char expected[kHmacBytes];
  if (given_len != static_cast<std::ptrdiff_t>(kHmacBytes) || !mac.sign(parts.signing_input, expected) ||
      CRYPTO_memcmp(expected, given, kHmacBytes) != 0) {
    return SignatureCheck::kBad;
  }
  return SignatureCheck::kValid;
}

std::size_t count_top_level_members(std::string_view json) {
  boost::json::basic_parser<support::JsonTopLevelKeyCounter> parser(boost::json::parse_options{});
  boost::system::error_code ec;
  parser.write_some(false, json.data(), json.size(), ec);
  return ec ? 0 : parser.handler().count;
}

bool has_duplicate_keys(std::string_view json) {
  boost::json::basic_parser<support::JsonDuplicateKeyFinder> parser(boost::json::parse_options{});
  boost::system::error_code ec;
  parser.write_some(false, json.data(), json.size(), ec);
  return parser.handler().found;
}

std::string header_algorithm(std::string_view header_b64) {
  if (header_b64 == kHs256HeaderSegment) return "HS256";
  unsigned char text[1024];
  const auto n = decode_base64url(header_b64, text, sizeof text);
  if (n < 0) return "";
  const std::string_view header_text(reinterpret_cast<const char*>(text), static_cast<std::size_t>(n));
  boost::system::error_code ec;
  const auto value = boost::json::parse(header_text, ec);
  if (ec || !value.is_object() || has_duplicate_keys(header_text)) return "";
  if (value.as_object().contains("crit")) return "";
  const auto* alg = value.as_object().if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return "";
  return std::string(alg->get_string());
}

}  // namespace ticketing::infra::security
