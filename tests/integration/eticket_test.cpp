// E-tickets end to end through the real binary (issue 15 item 4, DESIGN.md §13, docs/tickets.md):
// a purchase that reaches PAID gives one ticket per seat whose QR payload verifies against the
// published key (checked here with libsodium directly, and with `ticketing ticket verify`); a
// refunded seat's ticket is revoked and listed at /.well-known/ticket-key.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <set>

#include "infra/security/random.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;

namespace {

struct CommandResult {
  int exit_code = -1;
  std::string out;
};

// `ticketing <args>` with no configuration in reach of the command's options; stdout captured.
CommandResult run_binary(const std::string& args) {
  const std::string command = fmt::format("{} {} 2>&1", TICKETING_BINARY, args);
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.out += buffer.data();
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string write_temp(const std::string& text) {
  const std::string path = "/tmp/ticketing-eticket-test-" + infra::security::random_hex(6) + ".json";
  std::ofstream(path) << text;
  return path;
}

std::string order_status(std::uint16_t port, std::int64_t user, const std::string& order_no) {
  const auto r = http(port, "GET", "/payment/" + order_no, "", as_user(user));
  if (r.status != 200) return "HTTP " + std::to_string(r.status);
  return std::string(json::parse(r.body).at("status").as_string());
}

// Admits `user`, holds `seats`, creates the order and pays it (signed gateway callback); returns
// the order number once the payment is recorded.
std::string buy(std::uint16_t port, std::int64_t user, std::int64_t schedule, const std::vector<std::string>& seats) {
  const auto token = admit_users(port, schedule, user, 1).at(user);
  const auto held = seat_call(port, "/tickets/hold", token, user, schedule, seats);
  if (held.status != 200) throw std::runtime_error("hold failed: " + held.raw);
  const auto ready = seat_call(port, "/payment/ready", token, user, schedule, seats,
                               {{"Idempotency-Key", fmt::format("tix-{}-{}", user, schedule)}});
  if (ready.status != 201) throw std::runtime_error("ready failed: " + ready.raw);
  const std::string order_no(json::parse(ready.body).at("orderNo").as_string());
  const std::string body = fmt::format(R"({{"orderNo":"{}"}})", order_no);
  const auto paid = http(port, "POST", "/payment/mock-success", body,
                         {{"Content-Type", "application/json"}, {"Gateway-Signature", gateway_signature(body)}});
  if (paid.status != 202) throw std::runtime_error("payment failed: " + paid.raw);
  return order_no;
}

// The caller's tickets of one schedule (the test database keeps other runs' tickets).
std::vector<json::object> tickets_of(std::uint16_t port, std::int64_t user, std::int64_t schedule) {
  const auto r = http(port, "GET", "/me/tickets", "", as_user(user));
  if (r.status != 200) throw std::runtime_error("GET /me/tickets: " + r.raw);
  const auto body = json::parse(r.body);
  std::vector<json::object> out;
  for (const auto& t : body.at("tickets").as_array()) {
    if (t.at("scheduleId").as_int64() == schedule) out.push_back(t.as_object());
  }
  return out;
}

std::set<std::string> revoked_ids(const json::object& key_document) {
  std::set<std::string> ids;
  for (const auto& id : key_document.at("revoked").as_array()) ids.insert(std::string(id.as_string()));
  return ids;
}

std::vector<unsigned char> from_base64url(std::string_view text) {
  std::vector<unsigned char> out(text.size());
  std::size_t size = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &size, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    throw std::runtime_error("not base64url: " + std::string(text));
  }
  out.resize(size);
  return out;
}

// The gate's check, written with libsodium alone: "TKT1.<fields>.<signature>", the signature over
// "TKT1.<fields>" by the published key. Returns the decoded fields ("" when it does not verify).
std::string verify_with_libsodium(const std::string& payload, const std::string& public_key_b64) {
  const auto key = from_base64url(public_key_b64);
  const auto dot = payload.rfind('.');
  if (key.size() != crypto_sign_PUBLICKEYBYTES || !payload.starts_with("TKT1.") || dot <= 5) return "";
  const auto signature = from_base64url(std::string_view(payload).substr(dot + 1));
  if (signature.size() != crypto_sign_BYTES) return "";
  if (crypto_sign_verify_detached(signature.data(), reinterpret_cast<const unsigned char*>(payload.data()), dot,
                                  key.data()) != 0) {
    return "";
  }
  const auto fields = from_base64url(std::string_view(payload).substr(5, dot - 5));
  return std::string(fields.begin(), fields.end());
}

}  // namespace

TEST(ETickets, PaidSeatsBecomeSignedTicketsThatOnlyTheirHolderSeesAndARefundRevokes) {
  ASSERT_GE(sodium_init(), 0);
  const auto schedule = create_schedule(-60, 10);
  constexpr std::int64_t kBuyer = 1501;
  constexpr std::int64_t kOtherUser = 1502;
  ServerProcess server(kFastAdmission);
  const auto port = server.port();

  const auto order_no = buy(port, kBuyer, schedule, {"S-1", "S-2"});
  ASSERT_TRUE(wait_for([&] { return order_status(port, kBuyer, order_no) == "PAID"; }, std::chrono::seconds(20)))
      << order_status(port, kBuyer, order_no);
  const auto other_order_no = buy(port, kOtherUser, schedule, {"S-3"});
  ASSERT_TRUE(
      wait_for([&] { return order_status(port, kOtherUser, other_order_no) == "PAID"; }, std::chrono::seconds(20)));

  // No token, a bad token: 401 before anything is read.
  const auto anonymous = http(port, "GET", "/me/tickets");
  EXPECT_EQ(anonymous.status, 401) << anonymous.raw;
  EXPECT_EQ(json::parse(anonymous.body).at("code").as_string(), "UNAUTHENTICATED");
  EXPECT_NE(anonymous.header("www-authenticate").find("Bearer"), std::string::npos);
  EXPECT_EQ(http(port, "GET", "/me/tickets", "", {{"Authorization", "Bearer not.a.token"}}).status, 401);

  // One VALID ticket per seat, with the order, the concert, the seat and its price.
  auto tickets = tickets_of(port, kBuyer, schedule);
  ASSERT_EQ(tickets.size(), 2u);
  std::map<std::string, json::object> by_seat;
  for (const auto& t : tickets) by_seat[std::string(t.at("seatNo").as_string())] = t;
  ASSERT_EQ(by_seat.size(), 2u);
  ASSERT_TRUE(by_seat.count("S-1") && by_seat.count("S-2"));
  for (const auto& [seat, t] : by_seat) {
    EXPECT_EQ(t.at("status").as_string(), "VALID");
    EXPECT_EQ(t.at("orderNo").as_string(), order_no);
    EXPECT_EQ(t.at("concertTitle").as_string(), "Integration tests");
    EXPECT_EQ(t.at("section").as_string(), "S");
    EXPECT_EQ(t.at("price").to_number<double>(), 100.0);
    EXPECT_TRUE(t.at("showAt").as_string().ends_with("Z"));
    EXPECT_TRUE(t.at("qrPayload").is_string());
  }
  const auto mine = http(port, "GET", "/me/tickets", "", as_user(kBuyer));
  EXPECT_NE(mine.header("cache-control").find("no-store"), std::string::npos);

  // Someone else sees only their own.
  const auto other_tickets = tickets_of(port, kOtherUser, schedule);
  ASSERT_EQ(other_tickets.size(), 1u);
  EXPECT_EQ(other_tickets[0].at("seatNo").as_string(), "S-3");
  const std::string other_id(other_tickets[0].at("ticketId").as_string());
  const std::string other_payload(other_tickets[0].at("qrPayload").as_string());
  const auto others = http(port, "GET", "/me/tickets", "", as_user(kOtherUser));
  ASSERT_EQ(others.status, 200);
  for (const auto& [seat, t] : by_seat) {
    EXPECT_EQ(others.body.find(std::string(t.at("qrPayload").as_string())), std::string::npos);
  }

  // The key document, anonymous and cacheable for a minute.
  const auto key_response = http(port, "GET", "/.well-known/ticket-key");
  ASSERT_EQ(key_response.status, 200) << key_response.raw;
  EXPECT_NE(key_response.header("cache-control").find("max-age=60"), std::string::npos);
  const auto key_document = json::parse(key_response.body).as_object();
  EXPECT_EQ(key_document.at("alg").as_string(), "Ed25519");
  const std::string public_key(key_document.at("publicKey").as_string());
  const std::string key_id(key_document.at("keyId").as_string());

  // Every payload verifies with the published key and says which ticket, seat and holder it is.
  for (const auto& [seat, t] : by_seat) {
    const std::string payload(t.at("qrPayload").as_string());
    const auto fields = verify_with_libsodium(payload, public_key);
    EXPECT_TRUE(fields.starts_with(
        fmt::format("{}|{}|{}|{}|", std::string(t.at("ticketId").as_string()), schedule, seat, kBuyer)))
        << fields;
    EXPECT_TRUE(fields.ends_with("|" + key_id)) << fields;
    std::string tampered = payload;
    tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
    EXPECT_EQ(verify_with_libsodium(tampered, public_key), "");
  }

  // The gate's command, offline: with the key, with the key document as a file; a tampered payload fails.
  const std::string s1_payload(by_seat["S-1"].at("qrPayload").as_string());
  const std::string s2_payload(by_seat["S-2"].at("qrPayload").as_string());
  const auto verified = run_binary(fmt::format("ticket verify {} --key {}", s1_payload, public_key));
  EXPECT_EQ(verified.exit_code, 0) << verified.out;
  EXPECT_NE(verified.out.find("VALID"), std::string::npos) << verified.out;
  EXPECT_NE(verified.out.find("seatNo:     S-1"), std::string::npos) << verified.out;
  EXPECT_NE(verified.out.find(fmt::format("scheduleId: {}", schedule)), std::string::npos) << verified.out;
  const auto document_file = write_temp(key_response.body);
  EXPECT_EQ(run_binary(fmt::format("ticket verify {} --key-file {}", s2_payload, document_file)).exit_code, 0);
  std::string tampered = s1_payload;
  tampered[tampered.size() - 10] = tampered[tampered.size() - 10] == 'A' ? 'B' : 'A';
  const auto refused = run_binary(fmt::format("ticket verify {} --key {}", tampered, public_key));
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("INVALID"), std::string::npos) << refused.out;

  // Neither ticket is revoked yet.
  const std::string s1_id(by_seat["S-1"].at("ticketId").as_string());
  const std::string s2_id(by_seat["S-2"].at("ticketId").as_string());
  EXPECT_FALSE(revoked_ids(key_document).count(s1_id));
  EXPECT_FALSE(revoked_ids(key_document).count(s2_id));

  // The buyer's order refunded, as the operator console's refund will do it (§14: the order
  // cancelled, its seats back on sale; no HTTP path refunds a PAID order yet): both its tickets turn
  // REVOKED and are listed; the other user's ticket stays valid and unlisted.
  auto db = test_db();
  db->execute(
      "UPDATE reservation r JOIN payment_order o ON o.id = r.payment_order_id "
      "SET r.status = 'CANCELLED', r.active = NULL, o.status = 'CANCELLED', o.fail_reason = 'REFUNDED' "
      "WHERE o.order_no = ?",
      {order_no});
  const auto after_response = http(port, "GET", "/.well-known/ticket-key");
  const auto after = json::parse(after_response.body).as_object();
  EXPECT_TRUE(revoked_ids(after).count(s1_id)) << after_response.body;
  EXPECT_TRUE(revoked_ids(after).count(s2_id)) << after_response.body;
  EXPECT_FALSE(revoked_ids(after).count(other_id)) << after_response.body;
  tickets = tickets_of(port, kBuyer, schedule);
  ASSERT_EQ(tickets.size(), 2u);
  for (const auto& t : tickets) {
    EXPECT_EQ(t.at("status").as_string(), "REVOKED");
    EXPECT_TRUE(t.at("qrPayload").is_null());
  }
  EXPECT_EQ(tickets_of(port, kOtherUser, schedule).at(0).at("status").as_string(), "VALID");
  // The gate with the revocation list refuses the refunded ticket although its signature is good.
  const auto revoked_file = write_temp(after_response.body);
  const auto revoked =
      run_binary(fmt::format("ticket verify {} --key {} --revoked-file {}", s1_payload, public_key, revoked_file));
  EXPECT_EQ(revoked.exit_code, 1) << revoked.out;
  EXPECT_NE(revoked.out.find("REVOKED"), std::string::npos) << revoked.out;
  EXPECT_EQ(
      run_binary(fmt::format("ticket verify {} --key {} --revoked-file {}", other_payload, public_key, revoked_file))
          .exit_code,
      0);

  // The list is bounded: once the show is more than a day past, its revoked tickets drop off.
  db->execute("UPDATE schedule SET show_at = UTC_TIMESTAMP(3) - INTERVAL 2 DAY WHERE id = ?", {schedule});
  EXPECT_FALSE(revoked_ids(json::parse(http(port, "GET", "/.well-known/ticket-key").body).as_object()).count(s1_id));
  std::remove(document_file.c_str());
  std::remove(revoked_file.c_str());
}

// The refund path that is reachable today: a payment for an order that had already expired is
// CANCELLED with a refund (DESIGN.md §7). Its seats were never confirmed, so it issued no ticket
// and has none to revoke.
TEST(ETickets, AnOrderRefundedBeforeConfirmationIssuesNoTicket) {
  const auto schedule = create_schedule(-60, 4);
  constexpr std::int64_t kBuyer = 1503;
  ServerProcess server(with(kFastAdmission, {"payment.order-ttl=1s"}));
  const auto port = server.port();
  const auto token = admit_users(port, schedule, kBuyer, 1).at(kBuyer);
  ASSERT_EQ(seat_call(port, "/tickets/hold", token, kBuyer, schedule, {"S-1"}).status, 200);
  const auto ready = seat_call(port, "/payment/ready", token, kBuyer, schedule, {"S-1"},
                               {{"Idempotency-Key", fmt::format("tix-late-{}", schedule)}});
  ASSERT_EQ(ready.status, 201) << ready.raw;
  const std::string order_no(json::parse(ready.body).at("orderNo").as_string());
  // Pay only once the order has expired (its expiresAt has passed by the server's clock).
  ASSERT_TRUE(wait_for([&] { return order_status(port, kBuyer, order_no) == "CANCELLED"; }, std::chrono::seconds(20)));
  const std::string body = fmt::format(R"({{"orderNo":"{}"}})", order_no);
  const auto paid = http(port, "POST", "/payment/mock-success", body,
                         {{"Content-Type", "application/json"}, {"Gateway-Signature", gateway_signature(body)}});
  ASSERT_EQ(paid.status, 202) << paid.raw;  // recorded, with a refund request
  EXPECT_EQ(json::parse(paid.body).at("status").as_string(), "CANCELLED");

  EXPECT_TRUE(tickets_of(port, kBuyer, schedule).empty());
  auto db = test_db();
  const auto rows = db->query("SELECT id FROM reservation WHERE schedule_id = ?", {schedule});
  ASSERT_FALSE(rows.rows.empty());
  const auto revoked = revoked_ids(json::parse(http(port, "GET", "/.well-known/ticket-key").body).as_object());
  for (const auto& row : rows.rows) EXPECT_FALSE(revoked.count(*row[0])) << "never a ticket: " << *row[0];
}
