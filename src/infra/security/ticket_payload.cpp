#include "infra/security/ticket_payload.hpp"

#include <sodium.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <stdexcept>

#include "domain/catalog.hpp"
#include "infra/security/jws.hpp"

namespace ticketing::infra::security {

namespace {

constexpr char kFieldSeparator = '|';
constexpr std::size_t kFieldCount = 6;
// The fields' own limit: 3 ids and a time of at most 19 digits, a 16-character seat, the key id.
constexpr std::size_t kMaxFieldsLength = 4 * 19 + 16 + kTicketKeyIdLength + kFieldCount - 1;

bool sodium_ready() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_key_id(std::string_view text) {
  if (text.size() != kTicketKeyIdLength) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "0" or a canonical id: issued-at is a unix time, which may be 0 in principle.
std::optional<std::int64_t> parse_unix_seconds(std::string_view text) {
  if (text == "0") return 0;
  return domain::parse_canonical_id(text);
}

}  // namespace

std::optional<TicketSeed> parse_ticket_seed(std::string_view text) {
  TicketSeed seed{};
  if (text.size() == 2 * seed.size()) {
    bool hex = true;
    for (std::size_t i = 0; i < seed.size() && hex; ++i) {
      const int high = hex_value(text[2 * i]);
      const int low = hex_value(text[2 * i + 1]);
      hex = high >= 0 && low >= 0;
      seed[i] = static_cast<unsigned char>(high * 16 + low);
    }
    if (hex) return seed;
  }
  // base64 in either alphabet, with or without its one '=' of padding.
  std::string normalized(text);
  if (normalized.size() % 4 == 0 && !normalized.empty() && normalized.back() == '=') normalized.pop_back();
  for (char& c : normalized) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  if (normalized.size() != base64url_size(seed.size())) return std::nullopt;
  if (decode_base64url(normalized, seed.data(), seed.size()) != static_cast<std::ptrdiff_t>(seed.size())) {
    return std::nullopt;
  }
  return seed;
}

std::optional<TicketPublicKey> parse_ticket_public_key(std::string_view base64url) {
  TicketPublicKey key{};
  if (base64url.size() != base64url_size(key.size())) return std::nullopt;
  if (decode_base64url(base64url, key.data(), key.size()) != static_cast<std::ptrdiff_t>(key.size())) {
    return std::nullopt;
  }
  return key;
}

std::string to_base64url(const TicketPublicKey& key) {
  std::string out;
  append_base64url(out, key.data(), key.size());
  return out;
}

std::string ticket_key_id(const TicketPublicKey& key) {
  (void)sodium_ready();  // picks libsodium's implementations; BLAKE2b itself cannot fail
  unsigned char digest[32];
  crypto_generichash(digest, sizeof digest, key.data(), key.size(), nullptr, 0);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < kTicketKeyIdLength / 2; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 15];
  }
  return id;
}

std::string encode_ticket_fields(const domain::TicketClaims& claims, std::string_view key_id) {
  std::string fields;
  fields += std::to_string(claims.ticket.value);
  fields += kFieldSeparator;
  fields += std::to_string(claims.schedule.value);
  fields += kFieldSeparator;
  fields += claims.seat_no;
  fields += kFieldSeparator;
  fields += std::to_string(claims.holder.value);
  fields += kFieldSeparator;
  fields += std::to_string(claims.issued_at);
  fields += kFieldSeparator;
  fields += key_id;
  return fields;
}

std::optional<TicketFields> decode_ticket_fields(std::string_view fields) {
  if (fields.size() > kMaxFieldsLength) return std::nullopt;
  std::string_view parts[kFieldCount];
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const auto end = fields.find(kFieldSeparator, start);
    if (count == kFieldCount) return std::nullopt;  // a seventh field
    parts[count++] = fields.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (count != kFieldCount) return std::nullopt;
  const auto ticket = domain::parse_canonical_id(parts[0]);
  const auto schedule = domain::parse_canonical_id(parts[1]);
  const auto holder = domain::parse_canonical_id(parts[3]);
  const auto issued_at = parse_unix_seconds(parts[4]);
  if (!ticket || !schedule || !holder || !issued_at || !domain::is_valid_seat_no(parts[2]) || !is_key_id(parts[5])) {
    return std::nullopt;
  }
  return TicketFields{domain::TicketClaims{domain::TicketId{*ticket}, domain::ScheduleId{*schedule},
                                           std::string(parts[2]), domain::UserId{*holder}, *issued_at},
                      std::string(parts[5])};
}

std::string_view to_string(TicketPayloadProblem problem) noexcept {
  switch (problem) {
    case TicketPayloadProblem::kNone: return "valid";
    case TicketPayloadProblem::kTooLong: return "payload too long";
    case TicketPayloadProblem::kMalformed: return "malformed payload";
    case TicketPayloadProblem::kUnknownKey: return "signed with another key (key id differs)";
    case TicketPayloadProblem::kBadSignature: return "bad signature";
  }
  return "malformed payload";
}

TicketVerification verify_ticket_payload(std::string_view payload, const TicketPublicKey& key) noexcept {
  TicketVerification result;
  if (payload.size() > kMaxTicketPayloadLength) {
    result.problem = TicketPayloadProblem::kTooLong;
    return result;
  }
  if (!payload.starts_with(kTicketPayloadPrefix)) return result;
  const auto dot = payload.find('.', kTicketPayloadPrefix.size());
  if (dot == std::string_view::npos) return result;
  const std::string_view fields_b64 = payload.substr(kTicketPayloadPrefix.size(), dot - kTicketPayloadPrefix.size());
  const std::string_view signature_b64 = payload.substr(dot + 1);
  const std::string_view signed_part = payload.substr(0, dot);

  unsigned char fields_text[kMaxTicketPayloadLength];
  const auto fields_size = decode_base64url(fields_b64, fields_text, sizeof fields_text);
  unsigned char signature[crypto_sign_BYTES];
  if (fields_size <= 0 ||
      decode_base64url(signature_b64, signature, sizeof signature) != static_cast<std::ptrdiff_t>(sizeof signature)) {
    return result;
  }
  try {
    result.fields = decode_ticket_fields(
        std::string_view(reinterpret_cast<const char*>(fields_text), static_cast<std::size_t>(fields_size)));
  } catch (...) {  // std::string allocation; treated as unreadable rather than escaping a noexcept
    result.fields.reset();
  }
  if (!result.fields) return result;
  if (!sodium_ready()) {
    result.problem = TicketPayloadProblem::kBadSignature;
    return result;
  }
  // The key id is checked against the key's own (not trusted from the payload) before the signature,
  // for a clearer reason when a gate holds another key; the signature decides either way.
  bool same_key = false;
  try {
    same_key = result.fields->key_id == ticket_key_id(key);
  } catch (...) {
  }
  if (!same_key) {
    result.problem = TicketPayloadProblem::kUnknownKey;
    return result;
  }
  const int verified = crypto_sign_verify_detached(
      signature, reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), key.data());
  result.problem = verified == 0 ? TicketPayloadProblem::kNone : TicketPayloadProblem::kBadSignature;
  return result;
}

bool TicketKeyDocumentView::is_revoked(std::int64_t ticket_id) const {
  return std::binary_search(revoked.begin(), revoked.end(), ticket_id);
}

std::optional<TicketKeyDocumentView> parse_ticket_key_document(std::string_view json) {
  boost::system::error_code error;
  const auto value = boost::json::parse(json, error);
  if (error || !value.is_object()) return std::nullopt;
  const auto& object = value.get_object();
  const auto* alg = object.if_contains("alg");
  const auto* key_id = object.if_contains("keyId");
  const auto* public_key = object.if_contains("publicKey");
  const auto* revoked = object.if_contains("revoked");
  if (!alg || !alg->is_string() || alg->get_string() != "Ed25519" || !key_id || !key_id->is_string() || !public_key ||
      !public_key->is_string() || (revoked && !revoked->is_array())) {
    return std::nullopt;
  }
  TicketKeyDocumentView view;
  const auto key = parse_ticket_public_key(public_key->get_string());
  if (!key || ticket_key_id(*key) != key_id->get_string()) return std::nullopt;
  view.public_key = *key;
  view.key_id = std::string(key_id->get_string());
  if (revoked) {
    for (const auto& entry : revoked->get_array()) {
      const auto id = entry.is_string() ? domain::parse_canonical_id(entry.get_string()) : std::nullopt;
      if (!id) return std::nullopt;
      view.revoked.push_back(*id);
    }
  }
  std::sort(view.revoked.begin(), view.revoked.end());
  return view;
}

Ed25519TicketSigner::Ed25519TicketSigner(const TicketSeed& seed) {
  if (!sodium_ready() || crypto_sign_seed_keypair(public_key_.data(), secret_key_.data(), seed.data()) != 0) {
    throw std::runtime_error("ticket signing key: libsodium could not derive the Ed25519 key pair");
  }
  key_ = domain::TicketKey{"Ed25519", ticket_key_id(public_key_), to_base64url(public_key_)};
}

Ed25519TicketSigner::~Ed25519TicketSigner() {
  sodium_memzero(secret_key_.data(), secret_key_.size());
}

std::string Ed25519TicketSigner::sign(const domain::TicketClaims& claims) const {
  const std::string fields = encode_ticket_fields(claims, key_.key_id);
  std::string payload(kTicketPayloadPrefix);
  append_base64url(payload, reinterpret_cast<const unsigned char*>(fields.data()), fields.size());
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
                       secret_key_.data());
  payload += '.';
  append_base64url(payload, signature, sizeof signature);
  return payload;
}

}  // namespace ticketing::infra::security
