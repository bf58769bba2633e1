// Payment and asynchronous confirmation through the real Kafka broker (issue 5).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <cctype>
#include <cstdlib>
#include <future>
#include <thread>

#include "application/payment_service.hpp"
#include "domain/ports/clock.hpp"
#include "infra/events/payment_events.hpp"
#include "infra/kafka/confirmation_consumer.hpp"
#include "infra/kafka/kafka_consumer.hpp"
#include "infra/kafka/kafka_producer.hpp"
#include "infra/mysql/mysql_payment_repository.hpp"
#include "infra/redis/redis_client.hpp"
#include "infra/redis/redis_queue_store.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;

namespace {

constexpr const char* kGatewaySecret = "dev-gateway-secret";  // the test profile's value

struct Booking {
  std::int64_t user;
  std::int64_t schedule;
  std::string token;
  std::vector<std::string> seats;
};

HttpResponse ready(std::uint16_t port, const Booking& b, const std::string& key) {
  std::map<std::string, std::string> headers;
  if (!key.empty()) headers["Idempotency-Key"] = key;
  return seat_call(port, "/payment/ready", b.token, b.user, b.schedule, b.seats, headers);
}

// The gateway's callback, signed (Gateway-Signature) as in production.
HttpResponse pay(std::uint16_t port, const std::string& order_no) {
  const std::string body = fmt::format(R"({{"orderNo":"{}"}})", order_no);
  return http(port, "POST", "/payment/mock-success", body,
              {{"Content-Type", "application/json"}, {"Gateway-Signature", gateway_signature(body)}});
}

// The dev/test profile's curl shortcut: the plain secret in X-Gateway-Secret ("" = no header).
HttpResponse pay_with_plain_secret(std::uint16_t port, const std::string& order_no, const std::string& secret) {
  std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
  if (!secret.empty()) headers["X-Gateway-Secret"] = secret;
  return http(port, "POST", "/payment/mock-success", fmt::format(R"({{"orderNo":"{}"}})", order_no), headers);
}

std::string db_value(const std::string& sql);

// GET /payment/{orderNo} as the order's owner (only the owner may read it).
HttpResponse get_order(std::uint16_t port, const std::string& order_no) {
  const auto owner = db_value("SELECT user_id FROM payment_order WHERE order_no = '" + order_no + "'");
  return http(port, "GET", "/payment/" + order_no, "", as_user(owner == "NULL" ? 1 : std::stoll(owner)));
}

std::string order_status(std::uint16_t port, const std::string& order_no) {
  const auto r = get_order(port, order_no);
  if (r.status != 200) return "HTTP " + std::to_string(r.status);
  return std::string(json::parse(r.body).at("status").as_string());
}

// Holds `seats` for a newly admitted user and creates a READY order; returns the order number.
std::string hold_and_ready(std::uint16_t port, Booking& booking) {
  booking.token = admit_users(port, booking.schedule, booking.user, 1).at(booking.user);
  const auto held = seat_call(port, "/tickets/hold", booking.token, booking.user, booking.schedule, booking.seats);
  if (held.status != 200) throw std::runtime_error("hold failed: " + held.raw);
  const auto order =
      ready(port, booking, "key-" + std::to_string(booking.user) + "-" + std::to_string(booking.schedule));
  if (order.status != 201) throw std::runtime_error("ready failed: " + order.raw);
  return std::string(json::parse(order.body).at("orderNo").as_string());
}

std::string db_value(const std::string& sql) {
  auto db = test_db();
  const auto rows = db->query(sql);
  return rows.rows.empty() || !rows.rows[0][0] ? std::string("NULL") : *rows.rows[0][0];
}

std::string services_script() {
  const char* root = std::getenv("TICKETING_TEST_ROOT");
  return std::string(root ? root : "..") + "/scripts/services";
}

}  // namespace

// Acceptance 1: enter → admitted → hold 2 → ready → mock-success → PAID, SOLD, CONFIRMED.
TEST(PaymentFlow, EndToEndOrderBecomesPaidAndSeatsSold) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  Booking booking{1, schedule, "", {"S-2", "S-10"}};
  const auto order_no = hold_and_ready(server.port(), booking);
  EXPECT_EQ(order_status(server.port(), order_no), "READY");
  // An order's seats are listed in seat-number order (bytes), not in the order they were held.
  const auto listed = json::parse(get_order(server.port(), order_no).body).at("seatNos").as_array();
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].as_string(), "S-10");
  EXPECT_EQ(listed[1].as_string(), "S-2");
  const auto paid = pay(server.port(), order_no);
  ASSERT_EQ(paid.status, 202) << paid.raw;
  EXPECT_EQ(json::parse(paid.body).at("status").as_string(), "CONFIRMING");

  ASSERT_TRUE(wait_for([&] { return order_status(server.port(), order_no) == "PAID"; }, std::chrono::seconds(20)));
  const auto order = json::parse(get_order(server.port(), order_no).body).as_object();
  EXPECT_EQ(order.at("amount").to_number<double>(), 200.0);
  const auto map = json::parse(http(server.port(), "GET", fmt::format("/schedules/{}/seats", schedule)).body);
  int sold = 0;
  for (const auto& seat : map.at("seats").as_array()) sold += seat.at("status") == "SOLD" ? 1 : 0;
  EXPECT_EQ(sold, 2);
  const auto mine = json::parse(http(server.port(), "GET", "/me/reservations", "", as_user(1)).body).as_array();
  int confirmed = 0;
  for (const auto& r : mine) {
    if (r.at("scheduleId").as_int64() == schedule && r.at("status") == "CONFIRMED") ++confirmed;
  }
  EXPECT_EQ(confirmed, 2);
  // The purchase freed the queue slot and revoked the token.
  EXPECT_EQ(http(server.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(1)).status,
            404);
  EXPECT_EQ(seat_call(server.port(), "/tickets/hold", booking.token, 1, schedule, {"S-3"}).status, 401);
  // A second gateway call changes nothing and says so.
  const auto again = pay(server.port(), order_no);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body).at("status").as_string(), "PAID");
}

// GET /payment/{orderNo}?waitMs=: one call that answers when the CONFIRMING order is settled
// (the board of this instance's settlements), instead of the client polling.
TEST(PaymentFlow, AWaitingReadAnswersWhenTheOrderIsSettled) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  Booking booking{11, schedule, "", {"S-10", "S-2"}};
  const auto order_no = hold_and_ready(server.port(), booking);
  const auto path = "/payment/" + order_no + "?waitMs=10000";
  // READY: answered at once, as without waitMs (only a CONFIRMING order is waited for).
  const auto ready_now = http(server.port(), "GET", path, "", as_user(11));
  ASSERT_EQ(ready_now.status, 200) << ready_now.raw;
  EXPECT_EQ(json::parse(ready_now.body).at("status").as_string(), "READY");
  // Nobody else reads it, waiting or not; nor does anyone without a token; bad values are 400.
  EXPECT_EQ(http(server.port(), "GET", path, "", as_user(12)).status, 404);
  EXPECT_EQ(http(server.port(), "GET", path).status, 401);
  for (const char* bad : {"-1", "10001", "1.5", "abc", "", "99999999999999999999"}) {
    const auto r = http(server.port(), "GET", "/payment/" + order_no + "?waitMs=" + bad, "", as_user(11));
    EXPECT_EQ(r.status, 400) << bad << ": " << r.raw;
    EXPECT_NE(r.body.find("waitMs"), std::string::npos) << r.body;
  }

  ASSERT_EQ(pay(server.port(), order_no).status, 202);
  // The order this instance has just made CONFIRMING (which a waiting read starts from, without
  // reading the database) is still nobody else's, waiting or not.
  EXPECT_EQ(http(server.port(), "GET", path, "", as_user(12)).status, 404);
  EXPECT_EQ(http(server.port(), "GET", path).status, 401);
  // At most a few waiting calls (the first confirmation may wait for the consumer to join its
  // group); each one answers PAID or, after its 10 s, what it has.
  std::string status;
  std::string waited_body;
  int calls = 0;
  for (; calls < 3 && status != "PAID"; ++calls) {
    const auto r = http(server.port(), "GET", path, "", as_user(11));
    ASSERT_EQ(r.status, 200) << r.raw;
    const auto order = json::parse(r.body).as_object();
    status = std::string(order.at("status").as_string());
    EXPECT_TRUE(status == "PAID" || status == "CONFIRMING") << r.body;
    EXPECT_EQ(order.at("seatNos").as_array().size(), 2u);
    waited_body = r.body;
  }
  EXPECT_EQ(status, "PAID");
  EXPECT_EQ(db_value("SELECT status FROM payment_order WHERE order_no = '" + order_no + "'"), "PAID");
  // A settled order is answered at once; so is a waitMs of 0, from the database: the same answer,
  // byte for byte, as the waiting read's.
  EXPECT_EQ(order_status(server.port(), order_no), "PAID");
  const auto zero = http(server.port(), "GET", "/payment/" + order_no + "?waitMs=0", "", as_user(11));
  EXPECT_EQ(json::parse(zero.body).at("status").as_string(), "PAID");
  EXPECT_EQ(zero.body, waited_body);
}

// The same ready request sent several times at once (a client retrying on a timeout): every copy
// gets the one order, byte for byte — none is refused because the seats are "in payment" already.
TEST(PaymentFlow, ParallelDuplicatesOfOneReadyGetTheSameOrder) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  Booking booking{3, schedule, "", {"S-1", "S-2"}};
  booking.token = admit_users(server.port(), schedule, 3, 1).at(3);
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", booking.token, 3, schedule, booking.seats).status, 200);
  const std::string key = "parallel-" + std::to_string(schedule);
  constexpr int kCopies = 10;
  std::vector<std::future<HttpResponse>> copies;
  for (int i = 0; i < kCopies; ++i) {
    copies.push_back(std::async(std::launch::async, [&] { return ready(server.port(), booking, key); }));
  }
  std::vector<HttpResponse> answers;
  for (auto& copy : copies) answers.push_back(copy.get());
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.status, 201) << answer.raw;
    EXPECT_EQ(answer.body, answers.front().body);
  }
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM payment_order WHERE schedule_id = {}", schedule)), "1");
}

namespace {

// READY orders of users first..first+count-1, one seat each (S-1, S-2, ...); their numbers.
std::vector<std::string> ready_orders(std::uint16_t port, std::int64_t schedule, std::int64_t first, int count) {
  std::vector<std::string> orders;
  for (int i = 0; i < count; ++i) {
    Booking booking{first + i, schedule, "", {fmt::format("S-{}", i + 1)}};
    orders.push_back(hold_and_ready(port, booking));
  }
  return orders;
}

// A transaction of its own that holds `order_no`'s row locked until it rolls back.
std::unique_ptr<infra::mysql::MysqlConnection> lock_order_row(const std::string& order_no) {
  auto locker = test_db();
  locker->execute("START TRANSACTION");
  locker->query(fmt::format("SELECT id FROM payment_order WHERE order_no = '{}' FOR UPDATE", order_no));
  return locker;
}

// True once a callback's locking read of orders is waiting in the database (within 10 s).
bool a_callback_waits_for_an_order_lock() {
  return wait_for(
      [] {
        return db_value(
                   "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Execute' AND "
                   "INFO LIKE '%order_no IN%FOR UPDATE%'") != "0";
      },
      std::chrono::seconds(10));
}

}  // namespace

// Callbacks that arrive while another one has the money paths' only connection are recorded
// together, in one transaction, and each is answered as if it had come alone: recorded, a repeat
// (already recorded), an expired order (cancelled, refund requested) and an unknown one (404).
TEST(PaymentFlow, CallbacksThatArriveTogetherAreRecordedInOneTransactionEachAsIfAlone) {
  const auto schedule = create_schedule(-60, 10);
  // One connection; the late callbacks' unit waits for it while the first is blocked.
  TestServer server(with(kFastAdmission, {"db.payment-pool-size=1", "db.pool-wait-timeout=30s"}));
  const auto orders = ready_orders(server.port(), schedule, 40, 6);
  test_db()->execute(fmt::format(
      "UPDATE payment_order SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE order_no = '{}'", orders[5]));

  // The first callback takes the only connection and waits there for its order, locked here.
  auto locker = lock_order_row(orders[0]);
  auto first = std::async(std::launch::async, [&] { return pay(server.port(), orders[0]); });
  ASSERT_TRUE(a_callback_waits_for_an_order_lock());
  const std::vector<std::string> late{
      orders[1], orders[2], orders[3], orders[4], orders[5], orders[1], "ORD-20260101-000000000000"};
  std::vector<std::future<HttpResponse>> answers;
  for (const auto& order_no : late) {
    answers.push_back(std::async(std::launch::async, [&, order_no] { return pay(server.port(), order_no); }));
  }
  ASSERT_TRUE(wait_for(
      [&] {
        return metric(http(server.port(), "GET", "/actuator/prometheus").body,
                      R"(ticketing_payment_calls_waiting{call="callback"})") == static_cast<double>(late.size());
      },
      std::chrono::seconds(10)));
  locker->execute("ROLLBACK");

  const auto first_answer = first.get();
  EXPECT_EQ(first_answer.status, 202) << first_answer.raw;
  std::vector<HttpResponse> got;
  for (auto& answer : answers) got.push_back(answer.get());
  const auto status_of = [](const HttpResponse& r) {
    return std::string(json::parse(r.body).at("status").as_string());
  };
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(got[i].status == 202 || got[i].status == 200, true) << got[i].raw;
    EXPECT_EQ(status_of(got[i]), "CONFIRMING") << got[i].raw;
  }
  EXPECT_EQ(got[4].status, 202) << got[4].raw;
  EXPECT_EQ(status_of(got[4]), "CANCELLED");
  // orders[1] twice: recorded once (202), the other call told it already was (200).
  EXPECT_EQ(got[0].status + got[5].status, 402) << got[0].raw << got[5].raw;
  EXPECT_EQ(got[6].status, 404) << got[6].raw;

  const auto count = [&](const std::string& type, const std::string& order_no) {
    return db_value(
        fmt::format("SELECT COUNT(*) FROM outbox_event WHERE type = '{}' AND payload LIKE '%{}%'", type, order_no));
  };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(count("PaymentCompleted", orders[i]), "1") << orders[i];
  EXPECT_EQ(count("PaymentCompleted", orders[5]), "0");
  EXPECT_EQ(count("PaymentRefundRequested", orders[5]), "1");
  // The late ones were written by one transaction (the repeat by one after it): 8 callbacks in 3.
  const auto scrape = http(server.port(), "GET", "/actuator/prometheus").body;
  EXPECT_EQ(metric(scrape, R"(ticketing_payment_calls_total{call="callback"})"), 8.0);
  EXPECT_EQ(metric(scrape, R"(ticketing_payment_call_transactions_total{call="callback"})"), 3.0);
  // Their events carry that transaction's one time.
  EXPECT_EQ(
      db_value(fmt::format("SELECT COUNT(DISTINCT created_at) FROM outbox_event WHERE payload LIKE '%{}%' OR "
                           "payload LIKE '%{}%' OR payload LIKE '%{}%' OR payload LIKE '%{}%' OR payload LIKE '%{}%'",
                           orders[1], orders[2], orders[3], orders[4], orders[5])),
      "1");
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(wait_for([&] { return order_status(server.port(), orders[i]) == "PAID"; }, std::chrono::seconds(20)))
        << orders[i];
  }
}

// The callback locks its order's seat rows as well as the order. A hold that takes over a seat of
// an order whose expiry comes as it is paid locks the seat's row first and then reads the order's
// status unlocked: with the row locked by the callback, the hold waits for it and finds the order
// CONFIRMING — it never finds it READY and past its expiry while the callback is making it
// CONFIRMING, and takes the seat of an order paid in time (which the confirmation would then
// cancel and refund).
TEST(PaymentFlow, ACallbackLocksItsOrdersSeatRowsAsWellAsTheOrder) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto orders = ready_orders(server.port(), schedule, 70, 1);
  // A transaction of its own keeps the order's seat row locked, as a hold's takeover does (the
  // order's row itself stays free: a subquery is not locked by the outer FOR UPDATE).
  auto locker = test_db();
  locker->execute("START TRANSACTION");
  const auto locked = locker->query(fmt::format(
      "SELECT id FROM reservation WHERE payment_order_id = (SELECT id FROM payment_order WHERE order_no = '{}') "
      "FOR UPDATE",
      orders[0]));
  ASSERT_EQ(locked.rows.size(), 1u);
  // The callback's read waits for that row's lock (three tries of 2 s), writes nothing and is
  // answered 503, to be retried by the gateway.
  const auto refused = pay(server.port(), orders[0]);
  EXPECT_EQ(refused.status, 503) << "the callback did not wait for its order's seat row: " << refused.raw;
  EXPECT_EQ(db_value(fmt::format("SELECT status FROM payment_order WHERE order_no = '{}'", orders[0])), "READY");
  locker->execute("ROLLBACK");
  const auto answer = pay(server.port(), orders[0]);
  ASSERT_EQ(answer.status, 202) << answer.raw;
  EXPECT_EQ(json::parse(answer.body).at("status").as_string(), "CONFIRMING") << answer.raw;
  EXPECT_TRUE(wait_for([&] { return order_status(server.port(), orders[0]) == "PAID"; }, std::chrono::seconds(20)));
}

// An order another transaction keeps locked fails the batch's locking read after a short wait;
// the callbacks recorded with it then go one by one, so only that order's callback waits and
// fails (503, to be retried). Before, the read waited for the connection's read timeout, which
// dropped the connection and failed every callback of the batch.
TEST(PaymentFlow, AnOrderKeptLockedDoesNotFailTheCallbacksRecordedWithIt) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(with(kFastAdmission, {"db.payment-pool-size=1", "db.pool-wait-timeout=60s"}));
  const auto orders = ready_orders(server.port(), schedule, 50, 4);
  auto first_locker = lock_order_row(orders[1]);
  auto stuck_locker = lock_order_row(orders[0]);
  // orders[1]'s callback has the only connection, waiting for its order; the others queue.
  auto first = std::async(std::launch::async, [&] { return pay(server.port(), orders[1]); });
  ASSERT_TRUE(a_callback_waits_for_an_order_lock());
  std::vector<std::future<HttpResponse>> late;
  for (const int i : {0, 2, 3}) {
    late.push_back(std::async(std::launch::async, [&, i] { return pay(server.port(), orders[i]); }));
  }
  ASSERT_TRUE(wait_for(
      [&] {
        return metric(http(server.port(), "GET", "/actuator/prometheus").body,
                      R"(ticketing_payment_calls_waiting{call="callback"})") == 3.0;
      },
      std::chrono::seconds(10)));
  first_locker->execute("ROLLBACK");
  EXPECT_EQ(first.get().status, 202);
  // orders[2] and orders[3] are recorded while orders[0] is still locked.
  for (const std::size_t i : {1U, 2U}) {
    ASSERT_EQ(late[i].wait_for(std::chrono::seconds(30)), std::future_status::ready);
    const auto answer = late[i].get();
    EXPECT_EQ(answer.status, 202) << answer.raw;
  }
  stuck_locker->execute("ROLLBACK");
  const auto stuck = late[0].get();
  EXPECT_TRUE(stuck.status == 503 || stuck.status == 202) << stuck.raw;
  if (stuck.status == 503) {
    EXPECT_FALSE(stuck.header("retry-after").empty());
    const auto again = pay(server.port(), orders[0]);  // the gateway retries
    EXPECT_EQ(again.status, 202) << again.raw;
  }
}

// DESIGN.md §5: acting on someone else's hold is 403, in an order or not; nothing is written.
TEST(PaymentFlow, ReadyOnSomeoneElsesHoldIsForbidden) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto tokens = admit_users(server.port(), schedule, 2, 2);
  Booking mine{2, schedule, tokens.at(2), {"S-3", "S-1"}};
  Booking theirs{3, schedule, tokens.at(3), {"S-1"}};
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", mine.token, 2, schedule, mine.seats).status, 200);
  const std::string key = "steal-" + std::to_string(schedule);

  const auto held = ready(server.port(), theirs, key);
  EXPECT_EQ(held.status, 403) << held.raw;
  EXPECT_EQ(json::parse(held.body).at("code").as_string(), "FORBIDDEN");
  ASSERT_EQ(ready(server.port(), mine, "mine-" + std::to_string(schedule)).status, 201);
  const auto in_payment = ready(server.port(), theirs, key + "-2");
  EXPECT_EQ(in_payment.status, 403) << in_payment.raw;
  Booking unheld = theirs;
  unheld.seats = {"S-9"};
  EXPECT_EQ(ready(server.port(), unheld, key + "-3").status, 409) << "a seat nobody holds is not held";
  EXPECT_EQ(
      db_value(fmt::format("SELECT COUNT(*) FROM payment_order WHERE schedule_id = {} AND user_id = 3", schedule)),
      "0");
}

// Acceptance 6: Idempotency-Key rules and bad input; the gateway secret.
TEST(PaymentFlow, IdempotencyKeyReplaysRefusesReuseAndIsRequired) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  Booking booking{2, schedule, "", {"S-1", "S-2"}};
  booking.token = admit_users(server.port(), schedule, 2, 1).at(2);
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", booking.token, 2, schedule, booking.seats).status, 200);
  // Keys are per user and the test database outlives runs: make them unique to this schedule.
  const std::string key_a = "order-A-" + std::to_string(schedule);
  const std::string key_b = "order-B-" + std::to_string(schedule);
  const std::string key_c = "order-C-" + std::to_string(schedule);

  const auto first = ready(server.port(), booking, key_a);
  ASSERT_EQ(first.status, 201) << first.raw;
  const auto replay = ready(server.port(), booking, key_a);
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, first.body) << "replay must be byte for byte";
  Booking reordered = booking;
  reordered.seats = {"S-2", "S-1"};
  EXPECT_EQ(ready(server.port(), reordered, key_a).body, first.body) << "same seats in another order";

  Booking other = booking;
  other.seats = {"S-1"};
  const auto reused = ready(server.port(), other, key_a);
  EXPECT_EQ(reused.status, 422);
  EXPECT_EQ(json::parse(reused.body).at("code").as_string(), "IDEMPOTENCY_KEY_REUSED");
  // Keys are compared byte for byte (V10): one differing only in case, or with a space, is
  // another key — a new request, whose seat is in payment (not 422, not 400).
  std::string key_a_upper = key_a;
  for (auto& c : key_a_upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto other_case = ready(server.port(), other, key_a_upper);
  EXPECT_EQ(other_case.status, 409) << other_case.raw;
  EXPECT_EQ(json::parse(other_case.body).at("code").as_string(), "SEAT_IN_PAYMENT");
  EXPECT_EQ(ready(server.port(), other, "order A " + std::to_string(schedule)).status, 409);
  const auto in_payment = ready(server.port(), booking, key_b);
  EXPECT_EQ(in_payment.status, 409);
  EXPECT_EQ(json::parse(in_payment.body).at("code").as_string(), "SEAT_IN_PAYMENT");
  const auto no_key = ready(server.port(), booking, "");
  EXPECT_EQ(no_key.status, 400);
  EXPECT_EQ(ready(server.port(), booking, std::string(256, 'k')).status, 400);
  // Two keys (which one names the request?): 400, nothing written.
  const auto two_keys = seat_call(server.port(), "/payment/ready", booking.token, 2, schedule, booking.seats,
                                  {{"Idempotency-Key", key_c}, {"idempotency-key", key_b}});
  EXPECT_EQ(two_keys.status, 400) << two_keys.raw;
  // Releasing a seat that is in a READY order is refused.
  const auto release = seat_call(server.port(), "/tickets/release", booking.token, 2, schedule, {"S-1"});
  EXPECT_EQ(release.status, 409);
  EXPECT_EQ(json::parse(release.body).at("code").as_string(), "SEAT_IN_PAYMENT");

  // Another request with a key is still being written (its order INSERT not committed) when a
  // request under the same key, whose seats are refused, arrives: which answer is right (a replay,
  // 422, or the seats' 409) is known only after the first one, so it is 409 IDEMPOTENCY_IN_PROGRESS
  // with Retry-After — never the seats' refusal. Once the first is committed: 422.
  {
    const std::string key_d = "order-D-" + std::to_string(schedule);
    auto writer = test_db();
    writer->query("START TRANSACTION");
    writer->query(fmt::format(
        "INSERT INTO payment_order (order_no, user_id, schedule_id, amount, status, idempotency_key, "
        "request_fingerprint, expires_at, created_at, updated_at) VALUES ('ORD-inflight-{0}', 2, {0}, 1, 'CANCELLED', "
        "'{1}', 'another request', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
        schedule, key_d));
    const auto in_flight = ready(server.port(), other, key_d);
    EXPECT_EQ(in_flight.status, 409) << in_flight.raw;
    EXPECT_EQ(json::parse(in_flight.body).at("code").as_string(), "IDEMPOTENCY_IN_PROGRESS") << in_flight.raw;
    EXPECT_EQ(in_flight.header("retry-after"), "1") << in_flight.raw;
    writer->query("COMMIT");
    const auto after = ready(server.port(), other, key_d);
    EXPECT_EQ(after.status, 422) << after.raw;
    writer->query(fmt::format("DELETE FROM payment_order WHERE order_no = 'ORD-inflight-{}'", schedule));
  }

  const auto before = db_value(fmt::format("SELECT COUNT(*) FROM payment_order WHERE schedule_id = {}", schedule));
  EXPECT_EQ(before, "1");
  // Seats not held → 409, no order; bad bodies → 400, no order; no token → 401.
  Booking unheld = booking;
  unheld.seats = {"S-5"};
  EXPECT_EQ(ready(server.port(), unheld, key_c).status, 409);
  Booking unknown = booking;
  unknown.seats = {"S-1", "S-99"};
  const auto no_such_seat = ready(server.port(), unknown, key_c);
  EXPECT_EQ(no_such_seat.status, 404) << no_such_seat.raw;
  EXPECT_NE(no_such_seat.body.find("S-99"), std::string::npos);
  EXPECT_EQ(
      seat_call(server.port(), "/payment/ready", booking.token, 2, schedule, {}, {{"Idempotency-Key", "x"}}).status,
      400);
  EXPECT_EQ(seat_call(server.port(), "/payment/ready", "", 2, schedule, {"S-1"}, {{"Idempotency-Key", "y"}}).status,
            401);
  EXPECT_EQ(seat_call(server.port(), "/payment/ready", "", 2, schedule, {"S-1"}).status, 401)
      << "the token comes before the Idempotency-Key";
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM payment_order WHERE schedule_id = {}", schedule)), "1");

  const std::string order_no(json::parse(first.body).at("orderNo").as_string());
  EXPECT_EQ(pay_with_plain_secret(server.port(), order_no, "").status, 401);
  EXPECT_EQ(pay_with_plain_secret(server.port(), order_no, "wrong-secret").status, 401);
  const std::string body = fmt::format(R"({{"orderNo":"{}"}})", order_no);
  const auto forged = http(
      server.port(), "POST", "/payment/mock-success", body,
      {{"Content-Type", "application/json"}, {"Gateway-Signature", gateway_signature(R"({"orderNo":"ORD-other"})")}});
  EXPECT_EQ(forged.status, 401) << "a signature over another body";
  // Two signatures, a good one first: which one vouches for the body? Refused, like two secrets.
  const auto two_signatures = http(server.port(), "POST", "/payment/mock-success", body,
                                   {{"Content-Type", "application/json"},
                                    {"Gateway-Signature", gateway_signature(body)},
                                    {"gateway-signature", gateway_signature(R"({"orderNo":"ORD-other"})")}});
  EXPECT_EQ(two_signatures.status, 401) << two_signatures.raw;
  EXPECT_EQ(order_status(server.port(), order_no), "READY") << "a refused callback wrote something";
  EXPECT_EQ(pay(server.port(), "ORD-does-not-exist").status, 404);
  EXPECT_EQ(http(server.port(), "GET", "/payment/bad%20no", "", as_user(1)).status, 400);
  EXPECT_EQ(http(server.port(), "GET", "/payment/ORD-unknown", "", as_user(1)).status, 404);
  EXPECT_EQ(http(server.port(), "GET", "/payment/" + order_no).status, 401) << "no access token";
}

// A READY order's seats go to nobody else before the order expires, although the holds alone
// (hold.ttl) would have lapsed long before: `ready` extended them. Once the order expired they are
// free again, and a payment reported after that is recorded with a refund request.
TEST(PaymentFlow, ReadyOrderKeepsItsSeatsUntilItExpiresThenALatePaymentIsRefunded) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(with(kFastAdmission, {"hold.ttl=1s", "payment.order-ttl=4s", "hold.expiry-interval=200ms"}));
  Booking late{3, schedule, "", {"S-4"}};
  late.token = admit_users(server.port(), schedule, 3, 1).at(3);
  const auto held = seat_call(server.port(), "/tickets/hold", late.token, 3, schedule, late.seats);
  ASSERT_EQ(held.status, 200) << held.raw;
  const auto ready_response = ready(server.port(), late, fmt::format("late-{}", schedule));
  ASSERT_EQ(ready_response.status, 201) << ready_response.raw;
  const auto ready_body = json::parse(ready_response.body).as_object();
  const std::string order_no(ready_body.at("orderNo").as_string());
  const auto order_expires = *domain::parse_sql_datetime(
      db_value(fmt::format("SELECT expires_at FROM payment_order WHERE order_no = '{}'", order_no)));
  const auto hold_expires = *domain::parse_sql_datetime(db_value(fmt::format(
      "SELECT expires_at FROM reservation WHERE schedule_id = {} AND seat_no = 'S-4' AND active = 1", schedule)));
  EXPECT_GE(hold_expires, order_expires) << "ready did not extend the hold to the order's expiry";

  // Until the order expires, user 4 cannot have the seat (the 1 s hold alone lapsed long ago).
  const auto token4 = admit_users(server.port(), schedule, 4, 1).at(4);
  int refused = 0;
  while (domain::SystemClock().now() < order_expires - std::chrono::milliseconds(500)) {
    const auto taken = seat_call(server.port(), "/tickets/hold", token4, 4, schedule, {"S-4"});
    ASSERT_EQ(taken.status, 409) << "the seat of a READY order was given away: " << taken.raw;
    ++refused;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // pacing the attempts, not waiting on state
  }
  EXPECT_GT(refused, 10);
  EXPECT_EQ(order_status(server.port(), order_no), "READY");
  // Afterwards the order is cancelled and the seat is anyone's.
  ASSERT_TRUE(
      wait_for([&] { return seat_call(server.port(), "/tickets/hold", token4, 4, schedule, {"S-4"}).status == 200; },
               std::chrono::seconds(10), std::chrono::milliseconds(100)));
  EXPECT_GE(domain::SystemClock().now(), order_expires) << "the seat was given away before the order expired";
  ASSERT_TRUE(wait_for([&] { return order_status(server.port(), order_no) == "CANCELLED"; }, std::chrono::seconds(10)));
  EXPECT_EQ(json::parse(get_order(server.port(), order_no).body).at("failReason").as_string(), "ORDER_EXPIRED");

  // The gateway reports the payment late: recorded once (202) with a refund request, never PAID.
  const auto paid = pay(server.port(), order_no);
  EXPECT_EQ(paid.status, 202) << paid.raw;
  EXPECT_EQ(json::parse(paid.body).at("status").as_string(), "CANCELLED");
  const auto repeat = pay(server.port(), order_no);
  EXPECT_EQ(repeat.status, 200) << repeat.raw;
  EXPECT_TRUE(wait_for(
      [&] {
        return db_value(fmt::format("SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentRefundRequested' AND "
                                    "published_at IS NOT NULL AND payload LIKE '%{}%'",
                                    order_no)) == "1";
      },
      std::chrono::seconds(20)));
  // User 4's hold was not touched by the cancellation (with a 1 s TTL it may have expired since).
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM reservation WHERE schedule_id = {} AND user_id = 4 "
                                 "AND status IN ('HELD', 'EXPIRED') AND payment_order_id IS NULL",
                                 schedule)),
            "1");
}

// The gateway reports a payment for an order the expiry already cancelled: that first report is
// recorded (refund requested) and answered 202; the repeat writes nothing and is answered 200.
TEST(PaymentFlow, PaymentForACancelledOrderIsRecordedOnceWith202) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(with(kFastAdmission, {"hold.ttl=1s", "payment.order-ttl=1s", "hold.expiry-interval=200ms"}));
  Booking booking{5, schedule, "", {"S-6"}};
  const auto order_no = hold_and_ready(server.port(), booking);
  ASSERT_TRUE(wait_for([&] { return order_status(server.port(), order_no) == "CANCELLED"; }, std::chrono::seconds(20)));
  const auto first = pay(server.port(), order_no);
  EXPECT_EQ(first.status, 202) << first.raw;
  EXPECT_EQ(json::parse(first.body).at("status").as_string(), "CANCELLED");
  const auto refunds = fmt::format(
      "SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentRefundRequested' AND payload LIKE '%{}%'", order_no);
  EXPECT_EQ(db_value(refunds), "1");
  const auto repeat = pay(server.port(), order_no);
  EXPECT_EQ(repeat.status, 200) << repeat.raw;
  EXPECT_EQ(db_value(refunds), "1") << "the repeat wrote a second refund request";
}

// Pays `order_no` and waits until it is PAID. Its buyer gave up the slot that bought it and was
// admitted again (`newer_token`): that newer slot stays — ADMITTED, and its token holds `seat`.
void pay_and_expect_the_newer_slot_kept(std::uint16_t port, std::int64_t schedule, std::int64_t user,
                                        const std::string& order_no, const std::string& newer_token,
                                        const std::string& seat) {
  ASSERT_EQ(pay(port, order_no).status, 202);
  ASSERT_TRUE(wait_for([&] { return order_status(port, order_no) == "PAID"; }, std::chrono::seconds(20)));
  const auto status = http(port, "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(user));
  ASSERT_EQ(status.status, 200) << status.raw;
  EXPECT_EQ(json::parse(status.body).at("status").as_string(), "ADMITTED");
  EXPECT_EQ(seat_call(port, "/tickets/hold", newer_token, user, schedule, {seat}).status, 200);
}

// A confirmation frees the slot that bought, not a newer one: the buyer gave up that slot (left the
// queue) and was admitted again before the confirmation came; the new slot and its token stay.
TEST(PaymentFlow, ConfirmationFreesTheBuyingSlotNotANewerOne) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  Booking buyer{9, schedule, "", {"S-5"}};
  const auto order_no = hold_and_ready(server.port(), buyer);
  ASSERT_EQ(http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", schedule), "", as_user(9)).status, 204);
  const auto new_token = admit_users(server.port(), schedule, 9, 1).at(9);
  pay_and_expect_the_newer_slot_kept(server.port(), schedule, 9, order_no, new_token, "S-6");
  // Once a purchase made with the new slot completes, that slot goes.
  const auto second =
      ready(server.port(), Booking{9, schedule, new_token, {"S-6"}}, fmt::format("second-purchase-{}", schedule));
  ASSERT_EQ(second.status, 201) << second.raw;
  const std::string second_no(json::parse(second.body).at("orderNo").as_string());
  ASSERT_EQ(pay(server.port(), second_no).status, 202);
  ASSERT_TRUE(wait_for([&] { return order_status(server.port(), second_no) == "PAID"; }, std::chrono::seconds(20)));
  EXPECT_TRUE(wait_for(
      [&] {
        return http(server.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(9))
                   .status == 404;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(seat_call(server.port(), "/tickets/hold", new_token, 9, schedule, {"S-7"}).status, 401);
}

// The same after quick give-ups: slots given up and taken again within one second before the
// purchase, and one more after it; the purchase's confirmation still ends only its own slot.
TEST(PaymentFlow, ConfirmationFreesTheBuyingSlotNotANewerOneAfterQuickReadmissions) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto leave = [&] {
    return http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", schedule), "", as_user(9)).status;
  };
  for (int i = 0; i < 2; ++i) {
    admit_users(server.port(), schedule, 9, 1);
    ASSERT_EQ(leave(), 204);
  }
  Booking buyer{9, schedule, "", {"S-5"}};
  const auto order_no = hold_and_ready(server.port(), buyer);
  ASSERT_EQ(leave(), 204);
  const auto new_token = admit_users(server.port(), schedule, 9, 1).at(9);
  pay_and_expect_the_newer_slot_kept(server.port(), schedule, 9, order_no, new_token, "S-6");
  EXPECT_EQ(seat_call(server.port(), "/tickets/hold", buyer.token, 9, schedule, {"S-7"}).status, 401);
}

// DESIGN.md §7.6: with the broker unreachable the PaymentCompleted event never leaves the outbox
// (and for the second order it is deleted outright); the reconciler still settles both CONFIRMING
// orders from the database within payment.reconcile-after: PAID when the holds are live, CANCELLED
// with a refund request when they are not.
TEST(PaymentFlow, StuckConfirmingOrdersAreSettledByTheReconciler) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(with(kFastAdmission, {"kafka.bootstrap-servers=127.0.0.1:" + std::to_string(free_port()),
                                          "payment.reconcile-after=10s", "payment.reconcile-interval=500ms"}));
  Booking paid{11, schedule, "", {"S-1", "S-2"}};
  Booking lost{12, schedule, "", {"S-3"}};
  const auto paid_no = hold_and_ready(server.port(), paid);
  const auto lost_no = hold_and_ready(server.port(), lost);
  ASSERT_EQ(pay(server.port(), paid_no).status, 202);
  ASSERT_EQ(pay(server.port(), lost_no).status, 202);
  const auto recorded = std::chrono::steady_clock::now();
  EXPECT_EQ(order_status(server.port(), paid_no), "CONFIRMING");
  // The second order's event is gone, and so are its holds (as if expired while it waited). The
  // DELETE may wait for the relay's round (it locks the rows it tries to publish, up to 6 s).
  auto db = test_db();
  db->execute(fmt::format("DELETE FROM outbox_event WHERE type = 'PaymentCompleted' AND payload LIKE '%{}%'", lost_no));
  db->execute(
      fmt::format("UPDATE reservation SET status = 'EXPIRED', active = NULL WHERE payment_order_id = "
                  "(SELECT id FROM payment_order WHERE order_no = '{}')",
                  lost_no));
  ASSERT_EQ(order_status(server.port(), lost_no), "CONFIRMING") << "settled before the test could break it";

  ASSERT_TRUE(wait_for(
      [&] {
        return order_status(server.port(), paid_no) == "PAID" && order_status(server.port(), lost_no) == "CANCELLED";
      },
      std::chrono::seconds(15), std::chrono::milliseconds(100)))
      << paid_no << " " << order_status(server.port(), paid_no) << ", " << lost_no << " "
      << order_status(server.port(), lost_no);
  EXPECT_LT(std::chrono::steady_clock::now() - recorded, std::chrono::seconds(10) + std::chrono::milliseconds(1500))
      << "not settled within payment.reconcile-after";
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM reservation WHERE schedule_id = {} AND user_id = 11 "
                                 "AND status = 'CONFIRMED'",
                                 schedule)),
            "2");
  EXPECT_EQ(json::parse(get_order(server.port(), lost_no).body).at("failReason").as_string(), "HOLD_EXPIRED");
  EXPECT_EQ(
      db_value(fmt::format(
          "SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentRefundRequested' AND payload LIKE '%{}%'", lost_no)),
      "1");
  EXPECT_EQ(
      db_value(fmt::format(
          "SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentRefundRequested' AND payload LIKE '%{}%'", paid_no)),
      "0");
}

// A paid order waiting for its confirmation (here: the broker is unreachable) keeps its seats past
// the holds' and the order's expiry, without the callback extending anything: the expiry job skips
// them and nobody else can hold them; the reconciler then settles it PAID (DESIGN.md §5 Orders).
TEST(PaymentFlow, ConfirmingOrderKeepsItsSeatsUntilSettledWithoutExtendingThem) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(with(kFastAdmission, {"kafka.bootstrap-servers=127.0.0.1:" + std::to_string(free_port()),
                                          "hold.ttl=1s", "payment.order-ttl=2s", "hold.expiry-interval=200ms",
                                          "payment.reconcile-after=8s", "payment.reconcile-interval=500ms"}));
  Booking buyer{21, schedule, "", {"S-1"}};
  const auto order_no = hold_and_ready(server.port(), buyer);
  const std::string hold_expiry_sql = fmt::format(
      "SELECT expires_at FROM reservation WHERE schedule_id = {} AND seat_no = 'S-1' AND active = 1", schedule);
  const auto hold_expires_before = db_value(hold_expiry_sql);
  ASSERT_EQ(pay(server.port(), order_no).status, 202);
  EXPECT_EQ(db_value(hold_expiry_sql), hold_expires_before) << "the callback extended the hold";
  // A witness hold made once the order has expired: when the expiry job has expired it, the job has
  // run past the paid order's hold and order expiry too.
  const auto order_expires = *domain::parse_sql_datetime(
      db_value(fmt::format("SELECT expires_at FROM payment_order WHERE order_no = '{}'", order_no)));
  ASSERT_TRUE(wait_for([&] { return domain::SystemClock().now() > order_expires; }, std::chrono::seconds(10),
                       std::chrono::milliseconds(50)));
  Booking witness{22, schedule, "", {"S-2"}};
  witness.token = admit_users(server.port(), schedule, witness.user, 1).at(witness.user);
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", witness.token, witness.user, schedule, witness.seats).status,
            200);
  ASSERT_TRUE(wait_for(
      [&] {
        return db_value(fmt::format("SELECT COUNT(*) FROM reservation WHERE schedule_id = {} AND seat_no = 'S-2' "
                                    "AND status = 'EXPIRED'",
                                    schedule)) == "1";
      },
      std::chrono::seconds(10), std::chrono::milliseconds(100)));
  ASSERT_EQ(order_status(server.port(), order_no), "CONFIRMING") << "settled before the test could look";
  EXPECT_EQ(db_value(fmt::format("SELECT status FROM reservation WHERE schedule_id = {} AND seat_no = 'S-1' AND "
                                 "active = 1",
                                 schedule)),
            "HELD");
  const auto other = seat_call(server.port(), "/tickets/hold", witness.token, witness.user, schedule, {"S-1"});
  EXPECT_EQ(other.status, 409) << "the seat of a CONFIRMING order was given away: " << other.raw;
  ASSERT_TRUE(wait_for([&] { return order_status(server.port(), order_no) == "PAID"; }, std::chrono::seconds(15),
                       std::chrono::milliseconds(100)));
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM reservation WHERE schedule_id = {} AND user_id = 21 AND "
                                 "status = 'CONFIRMED'",
                                 schedule)),
            "1");
  EXPECT_EQ(
      db_value(fmt::format(
          "SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentRefundRequested' AND payload LIKE '%{}%'", order_no)),
      "0");
}

// The largest order there can be (50 seats with 16-character numbers, each at the highest price an
// operator may set) is created, replayed and paid: its idempotency fingerprint is longer than the
// 512 characters the column first had, and its amount did not fit DECIMAL(12,2) (V17) — `ready`
// said 500 for each.
TEST(PaymentFlow, LargestOrderIsCreatedAndReplayed) {
  const auto schedule = create_schedule(-60, 0);
  std::vector<std::string> seats;
  std::string values;
  for (int i = 1; i <= 50; ++i) {
    seats.push_back(fmt::format("LONGSEATNAME-{:03}", i));
    values += fmt::format("{}({}, '{}', 'L', 9999999999.99)", i == 1 ? "" : ",", schedule, seats.back());
  }
  test_db()->execute("INSERT INTO seat (schedule_id, seat_no, section, price) VALUES " + values);
  TestServer server(with(kFastAdmission, {"hold.max-seats-per-user=50"}));
  Booking big{13, schedule, "", seats};
  big.token = admit_users(server.port(), schedule, 13, 1).at(13);
  const auto held = seat_call(server.port(), "/tickets/hold", big.token, 13, schedule, seats);
  ASSERT_EQ(held.status, 200) << held.raw;
  const auto key = fmt::format("big-{}", schedule);
  const auto first = ready(server.port(), big, key);
  ASSERT_EQ(first.status, 201) << first.raw;
  EXPECT_NE(first.body.find(R"("amount":499999999999.50)"), std::string::npos) << first.body;
  const auto again = ready(server.port(), big, key);
  EXPECT_EQ(again.status, 201) << again.raw;
  EXPECT_EQ(again.body, first.body);
  // Paid and confirmed: the event carries the amount and matches its order.
  const std::string order_no(json::parse(first.body).at("orderNo").as_string());
  ASSERT_EQ(pay(server.port(), order_no).status, 202);
  EXPECT_TRUE(wait_for([&] { return order_status(server.port(), order_no) == "PAID"; }, std::chrono::seconds(20)));
  EXPECT_EQ(db_value("SELECT amount FROM payment_order WHERE order_no = '" + order_no + "'"), "499999999999.50");
}

// An order paid after its expiresAt, before the expiry job cancelled it, is not confirmed: it ends
// CANCELLED (ORDER_EXPIRED) with a refund request, and its seats are free for others at once
// (found by review: the late payment went through, and the buyer could pass the seat limit).
TEST(PaymentFlow, PaymentAfterTheOrderExpiredIsRefundedEvenBeforeTheExpiryJob) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(with(kFastAdmission, {"hold.ttl=1s", "payment.order-ttl=2s", "hold.expiry-interval=1h"}));
  Booking late{14, schedule, "", {"S-8"}};
  const auto order_no = hold_and_ready(server.port(), late);
  const auto expires = *domain::parse_sql_datetime(
      db_value(fmt::format("SELECT expires_at FROM payment_order WHERE order_no = '{}'", order_no)));
  ASSERT_TRUE(wait_for([&] { return domain::SystemClock().now() > expires; }, std::chrono::seconds(5)));
  EXPECT_EQ(order_status(server.port(), order_no), "READY") << "the expiry job ran after all";
  const auto paid = pay(server.port(), order_no);
  ASSERT_EQ(paid.status, 202) << paid.raw;
  EXPECT_EQ(json::parse(paid.body).at("status").as_string(), "CANCELLED");
  EXPECT_EQ(json::parse(get_order(server.port(), order_no).body).at("failReason").as_string(), "ORDER_EXPIRED");
  EXPECT_EQ(
      db_value(fmt::format(
          "SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentRefundRequested' AND payload LIKE '%{}%'", order_no)),
      "1");
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentCompleted' AND "
                                 "payload LIKE '%{}%'",
                                 order_no)),
            "0");
  // The seat is anyone's now.
  const auto token = admit_users(server.port(), schedule, 15, 1).at(15);
  EXPECT_TRUE(
      wait_for([&] { return seat_call(server.port(), "/tickets/hold", token, 15, schedule, {"S-8"}).status == 200; },
               std::chrono::seconds(5), std::chrono::milliseconds(100)));
}

// A sold seat keeps its Redis lock for good, so a 409 names it next to seats held now, long after
// hold.ttl (before, its lock lapsed and only the held seat was named).
// ready keeps the seats' Redis locks as long as the order, as it does their holds — a lock Redis
// lost is taken again — so past hold.ttl the fast path still refuses them, and a 409 names them
// next to a seat someone else holds (Redis alone would have named only that one).
TEST(PaymentFlow, ReadyKeepsTheSeatLocksAsLongAsTheOrder) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(with(kFastAdmission, {"hold.ttl=2s", "payment.order-ttl=30s", "hold.expiry-interval=1h"}));
  RedisInspector redis;
  const auto lock = [&](const char* seat) { return fmt::format("seat:lock:{{{}}}:{}", schedule, seat); };
  Booking buyer{13, schedule, "", {"S-1", "S-2"}};
  buyer.token = admit_users(server.port(), schedule, 13, 1).at(13);
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", buyer.token, 13, schedule, buyer.seats).status, 200);
  ASSERT_EQ(redis.integer({"DEL", lock("S-2")}), 1);
  const auto order = ready(server.port(), buyer, fmt::format("locks-{}", schedule));
  ASSERT_EQ(order.status, 201) << order.raw;
  for (const char* seat : {"S-1", "S-2"}) {
    EXPECT_EQ(redis.string({"GET", lock(seat)}).value_or(""), "13") << seat;
    EXPECT_GT(redis.integer({"PTTL", lock(seat)}), 20'000) << seat << " lasts only as long as its hold";
  }
  const auto tokens = admit_users(server.port(), schedule, 14, 2);
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", tokens.at(14), 14, schedule, {"S-3"}).status, 200);
  ASSERT_TRUE(wait_for([&] { return redis.integer({"EXISTS", lock("S-3")}) == 0; }, std::chrono::seconds(5)));
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", tokens.at(14), 14, schedule, {"S-3"}).status, 200);
  const auto refused = seat_call(server.port(), "/tickets/hold", tokens.at(15), 15, schedule, {"S-3", "S-1"});
  ASSERT_EQ(refused.status, 409) << refused.raw;
  EXPECT_EQ(conflicting_seats(refused), (std::vector<std::string>{"S-3", "S-1"}));
}

TEST(PaymentFlow, SoldSeatIsNamedInConflictsForGood) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  Booking buyer{6, schedule, "", {"S-1"}};
  const auto order_no = hold_and_ready(server.port(), buyer);
  ASSERT_EQ(pay(server.port(), order_no).status, 202);
  ASSERT_TRUE(wait_for([&] { return order_status(server.port(), order_no) == "PAID"; }, std::chrono::seconds(20)));
  RedisInspector redis;
  const auto lock = fmt::format("seat:lock:{{{}}}:S-1", schedule);
  EXPECT_TRUE(wait_for(
      [&] {
        return redis.integer({"PTTL", lock}) == -1;
      },
      std::chrono::seconds(10)))
      << "the sold seat's lock still expires: PTTL " << redis.integer({"PTTL", lock});
  EXPECT_EQ(redis.string({"GET", lock}).value_or(""), "6");

  const auto tokens = admit_users(server.port(), schedule, 7, 2);
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", tokens.at(7), 7, schedule, {"S-2"}).status, 200);
  const auto refused = seat_call(server.port(), "/tickets/hold", tokens.at(8), 8, schedule, {"S-1", "S-3", "S-2"});
  ASSERT_EQ(refused.status, 409) << refused.raw;
  EXPECT_EQ(conflicting_seats(refused), (std::vector<std::string>{"S-1", "S-2"}));
}

// Acceptance 4a: the broker is down when the gateway calls; the order is paid once it is back.
TEST(PaymentFlow, BrokerDownAtPaymentTimeStillEndsPaid) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  Booking booking{5, schedule, "", {"S-6"}};
  const auto order_no = hold_and_ready(server.port(), booking);
  ASSERT_EQ(std::system((services_script() + " stop kafka > /dev/null 2>&1").c_str()), 0);
  const auto paid = pay(server.port(), order_no);
  EXPECT_EQ(paid.status, 202) << paid.raw;
  EXPECT_EQ(order_status(server.port(), order_no), "CONFIRMING");
  ASSERT_EQ(std::system((services_script() + " start kafka > /dev/null 2>&1").c_str()), 0);
  EXPECT_TRUE(wait_for([&] { return order_status(server.port(), order_no) == "PAID"; }, std::chrono::seconds(60)));
}

// Acceptance 4b: the service dies (kill -9) after the outbox write, before publishing.
TEST(PaymentFlow, KilledBeforePublishIsPublishedAndConfirmedOnceAfterRestart) {
  const auto schedule = create_schedule(-60, 10);
  std::string order_no;
  {
    ServerProcess first(kFastAdmission);
    Booking booking{6, schedule, "", {"S-7", "S-8"}};
    order_no = hold_and_ready(first.port(), booking);
    // With the broker away the relay cannot publish: the payment is only in the outbox when we kill.
    ASSERT_EQ(std::system((services_script() + " stop kafka > /dev/null 2>&1").c_str()), 0);
    ASSERT_EQ(pay(first.port(), order_no).status, 202);
    first.kill();
  }
  const std::string outbox_where = fmt::format("type = 'PaymentCompleted' AND payload LIKE '%{}%'", order_no);
  EXPECT_EQ(db_value("SELECT COUNT(*) FROM outbox_event WHERE published_at IS NULL AND " + outbox_where), "1");
  ASSERT_EQ(std::system((services_script() + " start kafka > /dev/null 2>&1").c_str()), 0);
  ServerProcess second(kFastAdmission);
  EXPECT_TRUE(wait_for([&] { return order_status(second.port(), order_no) == "PAID"; }, std::chrono::seconds(60)));
  EXPECT_EQ(db_value("SELECT COUNT(*) FROM outbox_event WHERE published_at IS NOT NULL AND " + outbox_where), "1");
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM reservation WHERE schedule_id = {} AND status = 'CONFIRMED'",
                                 schedule)),
            "2");
  EXPECT_EQ(
      db_value(fmt::format("SELECT COUNT(*) FROM payment_order WHERE schedule_id = {} AND status = 'PAID'", schedule)),
      "1");
}
