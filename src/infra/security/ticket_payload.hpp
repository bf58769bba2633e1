#pragma once
// The e-ticket QR payload (docs/tickets.md): compact, URL- and QR-safe text signed with Ed25519,
//   TKT1.<base64url(fields)>.<base64url(signature)>
// fields = "<ticketId>|<scheduleId>|<seatNo>|<holderUserId>|<issuedAt unix s>|<keyId>"; the
// signature covers "TKT1.<base64url(fields)>" (the version prefix included). Everything here is a
// pure function of its arguments, so a gate can verify offline with the published public key.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/ports/ticket_signer.hpp"
#include "domain/ticket.hpp"

namespace ticketing::infra::security {

inline constexpr std::string_view kTicketPayloadPrefix = "TKT1.";
// Far above a real payload (~150 characters): longer input is refused before any decoding.
inline constexpr std::size_t kMaxTicketPayloadLength = 512;
inline constexpr std::size_t kTicketKeyIdLength = 16;

using TicketSeed = std::array<unsigned char, 32>;
using TicketPublicKey = std::array<unsigned char, 32>;

// A 32-byte seed written as 64 hex digits or as base64 (standard or url alphabet, padded or not);
// nullopt for anything else.
std::optional<TicketSeed> parse_ticket_seed(std::string_view text);
// An Ed25519 public key as unpadded base64url (as /.well-known/ticket-key publishes it).
std::optional<TicketPublicKey> parse_ticket_public_key(std::string_view base64url);
std::string to_base64url(const TicketPublicKey& key);
// 16 lowercase hex digits: the first 8 bytes of BLAKE2b-256 of the public key.
std::string ticket_key_id(const TicketPublicKey& key);

// The signed fields without the signature ("<id>|<sid>|<seat>|<holder>|<iat>|<kid>").
std::string encode_ticket_fields(const domain::TicketClaims& claims, std::string_view key_id);
struct TicketFields {
  domain::TicketClaims claims;
  std::string key_id;
};
// Strict: canonical ids, a valid seat number, a canonical issued-at, a well-formed key id.
std::optional<TicketFields> decode_ticket_fields(std::string_view fields);

enum class TicketPayloadProblem {
  kNone,
  kTooLong,       // over kMaxTicketPayloadLength
  kMalformed,     // not TKT1.<base64url>.<base64url>, or the fields do not parse
  kUnknownKey,    // signed fields name another key id than the key given
  kBadSignature,  // not signed by the key given (or altered)
};
std::string_view to_string(TicketPayloadProblem problem) noexcept;

struct TicketVerification {
  TicketPayloadProblem problem = TicketPayloadProblem::kMalformed;
  std::optional<TicketFields> fields;  // set when the fields parsed (even if the signature failed)
  bool valid() const noexcept { return problem == TicketPayloadProblem::kNone; }
};
// Never throws; any byte string is either accepted or rejected with a reason.
TicketVerification verify_ticket_payload(std::string_view payload, const TicketPublicKey& key) noexcept;

// The JSON of GET /.well-known/ticket-key, as a gate stores it: {"alg":"Ed25519","keyId",
// "publicKey","revoked":["<ticketId>",...]}. nullopt when it is not that (alg other than Ed25519,
// a key that does not decode, a keyId that does not match the key, a revoked entry not an id).
struct TicketKeyDocumentView {
  TicketPublicKey public_key{};
  std::string key_id;
  std::vector<std::int64_t> revoked;  // ascending
  bool is_revoked(std::int64_t ticket_id) const;
};
std::optional<TicketKeyDocumentView> parse_ticket_key_document(std::string_view json);

// Holds the Ed25519 secret key (wiped on destruction) derived from the configured seed.
class Ed25519TicketSigner final : public domain::TicketSigner {
 public:
  explicit Ed25519TicketSigner(const TicketSeed& seed);  // throws std::runtime_error if libsodium fails
  ~Ed25519TicketSigner() override;
  Ed25519TicketSigner(const Ed25519TicketSigner&) = delete;
  Ed25519TicketSigner& operator=(const Ed25519TicketSigner&) = delete;

  std::string sign(const domain::TicketClaims& claims) const override;
  const domain::TicketKey& key() const override { return key_; }
  const TicketPublicKey& public_key() const noexcept { return public_key_; }

 private:
  std::array<unsigned char, 64> secret_key_{};
  TicketPublicKey public_key_{};
  domain::TicketKey key_;
};

}  // namespace ticketing::infra::security
