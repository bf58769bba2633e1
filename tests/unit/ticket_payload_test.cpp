// E-ticket QR payloads: TKT1.<base64url(fields)>.<base64url(Ed25519 signature)> (docs/tickets.md).
#include "infra/security/ticket_payload.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "application/ticket_service.hpp"
#include "infra/security/jws.hpp"
#include "run_task.hpp"

using namespace ticketing;
using infra::security::Ed25519TicketSigner;
using infra::security::TicketPayloadProblem;
using infra::security::verify_ticket_payload;

namespace {

// RFC 8032 §7.1, test 1: the seed and the public key it must give.
constexpr std::string_view kRfcSeedHex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view kRfcPublicKeyHex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kOtherSeedHex = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

const domain::TicketClaims kClaims{domain::TicketId{123456}, domain::ScheduleId{42}, "A-12", domain::UserId{7},
                                   1'795'000'000};

Ed25519TicketSigner signer_of(std::string_view seed_hex) {
  return Ed25519TicketSigner(*infra::security::parse_ticket_seed(seed_hex));
}

std::string hex(const infra::security::TicketPublicKey& key) {
  char out[65];
  sodium_bin2hex(out, sizeof out, key.data(), key.size());
  return out;
}

std::string b64url(std::string_view text) {
  std::string out;
  infra::security::append_base64url(out, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  return out;
}

}  // namespace

TEST(TicketPayload, SeedGivesTheRfc8032KeyAndAKeyIdOfIt) {
  const auto signer = signer_of(kRfcSeedHex);
  EXPECT_EQ(hex(signer.public_key()), kRfcPublicKeyHex);
  EXPECT_EQ(signer.key().algorithm, "Ed25519");
  EXPECT_EQ(signer.key().key_id.size(), 16u);
  EXPECT_EQ(signer.key().key_id, infra::security::ticket_key_id(signer.public_key()));
  EXPECT_NE(signer.key().key_id, signer_of(kOtherSeedHex).key().key_id);
  EXPECT_EQ(infra::security::parse_ticket_public_key(signer.key().public_key), signer.public_key());
}

TEST(TicketPayload, SeedIsReadFromHexOrBase64AndNothingElse) {
  const auto from_hex = infra::security::parse_ticket_seed(kRfcSeedHex);
  ASSERT_TRUE(from_hex);
  // The same 32 bytes in base64 (standard, padded) and base64url (unpadded).
  EXPECT_EQ(infra::security::parse_ticket_seed("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="), from_hex);
  EXPECT_EQ(infra::security::parse_ticket_seed("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"), from_hex);
  EXPECT_EQ(infra::security::parse_ticket_seed("9D61B19DEFFD5A60BA844AF492EC2CC44449C5697B326919703BAC031CAE7F60"),
            from_hex);
  for (const std::string_view bad :
       {"", "abc", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6",
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6g",
        "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A==", "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZ"}) {
    EXPECT_FALSE(infra::security::parse_ticket_seed(bad)) << bad;
  }
}

TEST(TicketPayload, SignedPayloadVerifiesToItsClaimsAndIsCompactAndUrlSafe) {
  const auto signer = signer_of(kRfcSeedHex);
  const auto payload = signer.sign(kClaims);
  EXPECT_TRUE(payload.starts_with("TKT1.")) << payload;
  EXPECT_LT(payload.size(), 160u) << payload;
  for (char c : payload) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') << payload;
  }
  EXPECT_EQ(signer.sign(kClaims), payload) << "Ed25519 is deterministic: the payload is stable";

  const auto result = verify_ticket_payload(payload, signer.public_key());
  ASSERT_TRUE(result.valid()) << infra::security::to_string(result.problem);
  ASSERT_TRUE(result.fields);
  EXPECT_EQ(result.fields->claims, kClaims);
  EXPECT_EQ(result.fields->key_id, signer.key().key_id);

  // Independently of verify_ticket_payload: libsodium accepts the signature over "TKT1.<fields>".
  const auto dot = payload.rfind('.');
  unsigned char signature[crypto_sign_BYTES];
  ASSERT_EQ(infra::security::decode_base64url(std::string_view(payload).substr(dot + 1), signature, sizeof signature),
            crypto_sign_BYTES);
  EXPECT_EQ(crypto_sign_verify_detached(signature, reinterpret_cast<const unsigned char*>(payload.data()), dot,
                                        signer.public_key().data()),
            0);
  EXPECT_EQ(std::string_view(payload).substr(0, dot),
            "TKT1." + b64url("123456|42|A-12|7|1795000000|" + signer.key().key_id));
}

TEST(TicketPayload, EveryFlippedByteIsRejected) {
  const auto signer = signer_of(kRfcSeedHex);
  const auto payload = signer.sign(kClaims);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    for (const unsigned char flip : {0x01, 0x20, 0x80}) {
      std::string altered = payload;
      altered[i] = static_cast<char>(static_cast<unsigned char>(altered[i]) ^ flip);
      EXPECT_FALSE(verify_ticket_payload(altered, signer.public_key()).valid()) << "byte " << i << " ^ " << int(flip);
    }
  }
}

TEST(TicketPayload, AnotherKeyIsRefused) {
  const auto signer = signer_of(kRfcSeedHex);
  const auto other = signer_of(kOtherSeedHex);
  EXPECT_EQ(verify_ticket_payload(signer.sign(kClaims), other.public_key()).problem, TicketPayloadProblem::kUnknownKey);

  // A forger who writes the gate's key id into fields signed with their own key still fails.
  const std::string fields = "TKT1." + b64url("123456|42|A-12|7|1795000000|" + signer.key().key_id);
  const auto forged = other.sign(kClaims);  // a valid signature format, by the wrong key
  const std::string spliced = fields + forged.substr(forged.rfind('.'));
  const auto result = verify_ticket_payload(spliced, signer.public_key());
  EXPECT_EQ(result.problem, TicketPayloadProblem::kBadSignature);
  ASSERT_TRUE(result.fields);  // the fields read, the signature did not verify
}

TEST(TicketPayload, TruncatedGarbageAndOversizeAreRejectedCleanly) {
  const auto signer = signer_of(kRfcSeedHex);
  const auto key = signer.public_key();
  const auto payload = signer.sign(kClaims);
  for (std::size_t n = 0; n < payload.size(); ++n) {
    EXPECT_FALSE(verify_ticket_payload(payload.substr(0, n), key).valid()) << n;
  }
  const auto dot = payload.rfind('.');
  const std::string fields_part = payload.substr(0, dot);
  for (const std::string& bad :
       {std::string("TKT1"), std::string("TKT1."), std::string("TKT1.."), std::string("TKT2") + payload.substr(4),
        payload + ".", payload + "A", payload + "=", fields_part + ".!!!!", std::string("TKT1.@@@@.") + "AAAA",
        "TKT1." + b64url("1|2|A-1|3|4") + payload.substr(dot),                                // a field missing
        "TKT1." + b64url("1|2|A-1|3|4|" + signer.key().key_id + "|x") + payload.substr(dot),  // one too many
        "TKT1." + b64url("01|2|A-1|3|4|" + signer.key().key_id) + payload.substr(dot),        // leading zero
        "TKT1." + b64url("1|2|A 1|3|4|" + signer.key().key_id) + payload.substr(dot),         // bad seat
        "TKT1." + b64url("1|2|A-1|-3|4|" + signer.key().key_id) + payload.substr(dot),        // negative id
        "TKT1." + b64url("1|2|A-1|3|99999999999999999999|" + signer.key().key_id) + payload.substr(dot),
        "TKT1." + b64url(std::string("1|2|A-1\0|3|4|", 13) + signer.key().key_id) + payload.substr(dot),
        std::string(1, '\0'), std::string("\xff\xfe\x00TKT1.", 8)}) {
    const auto result = verify_ticket_payload(bad, key);
    EXPECT_EQ(result.problem, TicketPayloadProblem::kMalformed) << bad;
  }
  EXPECT_EQ(verify_ticket_payload(std::string(10'000, 'A'), key).problem, TicketPayloadProblem::kTooLong);
  EXPECT_EQ(verify_ticket_payload("TKT1." + std::string(600, 'A') + ".AAAA", key).problem,
            TicketPayloadProblem::kTooLong);
}

TEST(TicketPayload, KeyDocumentParsesAndChecksItsKeyId) {
  const auto signer = signer_of(kRfcSeedHex);
  const std::string good = R"({"alg":"Ed25519","keyId":")" + signer.key().key_id + R"(","publicKey":")" +
                           signer.key().public_key + R"(","revoked":["9","3"]})";
  const auto document = infra::security::parse_ticket_key_document(good);
  ASSERT_TRUE(document);
  EXPECT_EQ(document->public_key, signer.public_key());
  EXPECT_TRUE(document->is_revoked(3));
  EXPECT_TRUE(document->is_revoked(9));
  EXPECT_FALSE(document->is_revoked(4));
  const std::string wrong_id =
      R"({"alg":"Ed25519","keyId":"0000000000000000","publicKey":")" + signer.key().public_key + R"(","revoked":[]})";
  EXPECT_FALSE(infra::security::parse_ticket_key_document(wrong_id));
  EXPECT_FALSE(infra::security::parse_ticket_key_document("{"));
  EXPECT_FALSE(infra::security::parse_ticket_key_document(R"({"alg":"HS256"})"));
  std::string bad_entry = good;
  bad_entry.replace(bad_entry.find(R"("9")"), 3, "9");
  EXPECT_FALSE(infra::security::parse_ticket_key_document(bad_entry)) << "ids are strings";
}

namespace {

class FakeTickets final : public domain::TicketRepository {
 public:
  std::vector<domain::TicketRecord> records;
  std::vector<domain::TicketId> revoked;
  domain::Timestamp asked_shows_after{};
  Task<std::vector<domain::TicketRecord>> tickets_of(domain::UserId user, int) override {
    std::vector<domain::TicketRecord> mine;
    for (const auto& r : records)
      if (r.holder == user) mine.push_back(r);
    co_return mine;
  }
  Task<std::vector<domain::TicketId>> revoked_tickets(domain::Timestamp shows_after, int) override {
    asked_shows_after = shows_after;
    co_return revoked;
  }
};

class FixedClock final : public domain::Clock {
 public:
  domain::Timestamp now() const override { return domain::Timestamp{std::chrono::seconds{1'795'000'000}}; }
};

domain::TicketRecord record(std::int64_t id, std::int64_t user, domain::TicketStatus status) {
  domain::TicketRecord r;
  r.id = domain::TicketId{id};
  r.holder = domain::UserId{user};
  r.schedule = domain::ScheduleId{5};
  r.seat_no = "S-" + std::to_string(id);
  r.status = status;
  r.confirmed_at = domain::Timestamp{std::chrono::milliseconds{1'794'000'000'250}};
  return r;
}

}  // namespace

TEST(TicketService, ValidTicketsCarryAVerifyingPayloadRevokedOnesNone) {
  const auto signer = signer_of(kRfcSeedHex);
  FakeTickets repository;
  repository.records = {record(1, 7, domain::TicketStatus::kValid), record(2, 7, domain::TicketStatus::kRevoked),
                        record(3, 8, domain::TicketStatus::kValid)};
  repository.revoked = {domain::TicketId{2}};
  FixedClock clock;
  application::TicketService service(repository, signer, clock);

  const auto mine = ticketing::testing::run_task(service.tickets_of(domain::UserId{7}));
  ASSERT_EQ(mine.size(), 2u);
  ASSERT_TRUE(mine[0].qr_payload);
  const auto verified = verify_ticket_payload(*mine[0].qr_payload, signer.public_key());
  ASSERT_TRUE(verified.valid());
  EXPECT_EQ(verified.fields->claims, (domain::TicketClaims{domain::TicketId{1}, domain::ScheduleId{5}, "S-1",
                                                           domain::UserId{7}, 1'794'000'000}));
  EXPECT_FALSE(mine[1].qr_payload);

  const auto document = ticketing::testing::run_task(service.key_document());
  EXPECT_EQ(document.key.key_id, signer.key().key_id);
  ASSERT_EQ(document.revoked.size(), 1u);
  EXPECT_EQ(document.revoked[0].value, 2);
  EXPECT_EQ(repository.asked_shows_after, clock.now() - application::TicketService::kRevokedAfterShow);
}
