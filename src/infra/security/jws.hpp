#pragma once
// The pieces both JWT kinds share (queue admission tokens, access tokens): strict base64url and a
// keyed HMAC-SHA256 built once.
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ticketing::infra::security {

inline constexpr std::size_t kHmacBytes = 32;
// base64url({"alg":"HS256","typ":"JWT"}) — the only header either kind issues.
inline constexpr std::string_view kHs256HeaderSegment = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

void append_base64url(std::string& out, const unsigned char* data, std::size_t size);
constexpr std::size_t base64url_size(std::size_t bytes) {
  return (bytes * 4 + 2) / 3;
}
// The parts of a compact JWS "header.payload.signature" (exactly two dots, header and payload
// non-empty); nullopt otherwise.
struct CompactJws {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // "header.payload", what the signature covers
};
std::optional<CompactJws> split_compact_jws(std::string_view token);

// Strict unpadded base64url into `out` (capacity `cap`); returns the decoded length or -1. Rejects
// '=', any non-alphabet byte, impossible lengths and non-zero leftover bits, so every byte string has
// exactly one accepted spelling (no malleable tokens).
std::ptrdiff_t decode_base64url(std::string_view in, unsigned char* out, std::size_t cap);

// A keyed HMAC-SHA256 context built once; each signature duplicates it, which skips the algorithm
// fetch and key schedule that one-shot HMAC() redoes on every call (~2x faster on OpenSSL 3.0).
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);  // throws std::runtime_error if OpenSSL cannot set it up
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  // Thread-safe: the keyed context is only read.
  bool sign(std::string_view data, unsigned char (&out)[kHmacBytes]) const { return sign({data}, out); }
  // The MAC of the concatenation of `parts`, without building it.
  bool sign(std::initializer_list<std::string_view> parts, unsigned char (&out)[kHmacBytes]) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// "<our HS256 header>.<base64url payload>.<base64url MAC>": `payload` is the JSON claims text.
// Throws std::runtime_error if the MAC cannot be computed.
std::string sign_compact_jws(const HmacSha256& mac, std::string_view payload);

enum class SignatureCheck { kValid, kMalformed, kBad };
// The signature of `parts` against `mac`, in constant time: kMalformed when the signature segment
// is not strict base64url; any other length than a MAC's is kBad (a wrong signature, not a wrong
// format).
SignatureCheck check_signature(const HmacSha256& mac, const CompactJws& parts);

// The alg of a JWS header segment: "HS256" for our own header without decoding it; "" when the
// segment is not a JSON object with a string alg, repeats a member, or names `crit` extensions
// (we understand none, and RFC 7515 §4.1.11 says such a token is refused).
std::string header_algorithm(std::string_view header_b64);

// Whether `json` (valid or not) has an object that names a member twice. Boost.JSON's DOM keeps the
// last of them silently, so `{"sub":"1","sub":"2"}` would read as one claim: a token's header or
// claims with a repeated member are refused instead.
bool has_duplicate_keys(std::string_view json);
// The members of the top-level object of `json` as written, repeats included (0 when it is not a
// valid object). Without allocating: for claims, where the DOM's size tells the distinct ones.
std::size_t count_top_level_members(std::string_view json);

}  // namespace ticketing::infra::security
