// E-ticket QR payloads (infra/security/ticket_payload.hpp) from arbitrary bytes: the input goes to
// verify_ticket_payload (against a fixed key), decode_ticket_fields, parse_ticket_key_document,
// parse_ticket_seed and parse_ticket_public_key. Properties: nothing throws or crashes; only input
// of at most kMaxTicketPayloadLength bytes gets past the length check; a payload that verifies
// decodes to fields that re-encode to the signed text; fields that decode re-encode to exactly the
// input (one spelling per ticket), and the signer's payload of those claims verifies to them again.
#include "infra/security/ticket_payload.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace ticketing;
using infra::security::TicketPayloadProblem;

namespace {
// RFC 8032 §7.1 test 1's seed: the seed corpus (fuzz/corpus/ticket_payload) is signed with it.
constexpr std::string_view kSeedHex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const infra::security::Ed25519TicketSigner signer(*infra::security::parse_ticket_seed(kSeedHex));
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const auto result = infra::security::verify_ticket_payload(input, signer.public_key());
  (void)infra::security::to_string(result.problem);
  if (result.problem == TicketPayloadProblem::kTooLong) {
    if (size <= infra::security::kMaxTicketPayloadLength) __builtin_trap();
  } else if (size > infra::security::kMaxTicketPayloadLength) {
    __builtin_trap();
  }
  if (result.valid()) {
    if (!result.fields || result.fields->key_id != signer.key().key_id) __builtin_trap();
    if (signer.sign(result.fields->claims) != input) __builtin_trap();  // Ed25519 is deterministic
  }

  if (const auto fields = infra::security::decode_ticket_fields(input)) {
    if (infra::security::encode_ticket_fields(fields->claims, fields->key_id) != input) __builtin_trap();
    const auto resigned = infra::security::verify_ticket_payload(signer.sign(fields->claims), signer.public_key());
    if (!resigned.valid() || resigned.fields->claims != fields->claims) __builtin_trap();
  }

  if (const auto document = infra::security::parse_ticket_key_document(input)) {
    if (document->key_id != infra::security::ticket_key_id(document->public_key)) __builtin_trap();
  }
  (void)infra::security::parse_ticket_seed(input);
  if (const auto key = infra::security::parse_ticket_public_key(input)) {
    if (infra::security::to_base64url(*key) != input) __builtin_trap();
  }
  return 0;
}
