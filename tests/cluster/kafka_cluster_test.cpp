// Confirmations through a 3-broker Kafka cluster (issue 19, label `cluster`): two worker
// instances share payment.completed's partitions in one consumer group, and a broker killed with
// SIGKILL mid-sale loses no confirmation and applies none twice. Needs the cluster's brokers
// (scripts/cluster up kafka; TICKETING_KAFKA_CLUSTER_BOOTSTRAP, set by scripts/test).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;

namespace {

const char* cluster_bootstrap() {
  const char* servers = std::getenv("TICKETING_KAFKA_CLUSTER_BOOTSTRAP");
  return servers != nullptr && *servers != '\0' ? servers : nullptr;
}

std::string cluster_script() {
  const char* root = std::getenv("TICKETING_TEST_ROOT");
  return std::string(root != nullptr ? root : "..") + "/scripts/cluster";
}

std::string db_value(const std::string& sql) {
  const auto rows = test_db()->query(sql);
  return rows.rows.empty() || !rows.rows[0][0] ? std::string("NULL") : *rows.rows[0][0];
}

// The gateway's signed callback.
int pay(std::uint16_t port, const std::string& order_no) {
  const std::string body = fmt::format(R"({{"orderNo":"{}"}})", order_no);
  return http(port, "POST", "/payment/mock-success", body,
              {{"Content-Type", "application/json"}, {"Gateway-Signature", gateway_signature(body)}})
      .status;
}

// Admits `user`, holds `seat` and creates a READY order; returns its number.
std::string ready_order(std::uint16_t port, std::int64_t schedule, std::int64_t user, const std::string& seat) {
  const auto token = admit_users(port, schedule, user, 1).at(user);
  const auto held = seat_call(port, "/tickets/hold", token, user, schedule, {seat});
  if (held.status != 200) throw std::runtime_error("hold failed: " + held.raw);
  const auto order = seat_call(port, "/payment/ready", token, user, schedule, {seat},
                               {{"Idempotency-Key", fmt::format("kc-{}-{}", user, schedule)}});
  if (order.status != 201) throw std::runtime_error("ready failed: " + order.raw);
  return std::string(json::parse(order.body).at("orderNo").as_string());
}

// Restarts the killed broker whatever the test's outcome, so later tests see three again.
struct BrokerRestart {
  ~BrokerRestart() {
    if (std::system((cluster_script() + " restart kafka-broker > /dev/null 2>&1").c_str()) != 0) {
      ADD_FAILURE() << "scripts/cluster restart kafka-broker failed";
    }
  }
};

}  // namespace

TEST(KafkaCluster, BrokerKilledMidSaleLosesNoConfirmationAndAppliesNoneTwice) {
  const char* bootstrap = cluster_bootstrap();
  if (bootstrap == nullptr) GTEST_SKIP() << "TICKETING_KAFKA_CLUSTER_BOOTSTRAP is not set (scripts/cluster up kafka)";
  // Fresh topics for this run: the service creates them with the brokers' defaults (3 replicas,
  // min.insync.replicas 2) and payment.completed's 6 partitions, keyed by schedule.
  const auto sets = with(kFastAdmission, {fmt::format("kafka.bootstrap-servers={}", bootstrap),
                                          fmt::format("kafka.topic-prefix=kc{}.", ::getpid())});
  ServerProcess api(with(sets, {"role=api"}));
  ServerProcess worker1(with(sets, {"role=worker"}));
  ServerProcess worker2(with(sets, {"role=worker"}));

  // 40 orders over 4 schedules (so over several partitions), 10 seats each.
  constexpr int kOrders = 40;
  std::vector<std::int64_t> schedules;
  for (int i = 0; i < 4; ++i) schedules.push_back(create_schedule(-60, 10));
  std::vector<std::string> orders;
  for (int i = 0; i < kOrders; ++i) {
    orders.push_back(ready_order(api.port(), schedules[i % 4], 7001 + i, fmt::format("S-{}", i / 4 + 1)));
  }
  // Half paid with three brokers, half right after one of them died (SIGKILL: no controlled
  // shutdown; its partitions move only once the controller fences it).
  for (int i = 0; i < kOrders / 2; ++i) ASSERT_EQ(pay(api.port(), orders[i]), 202);
  BrokerRestart restart_at_exit;
  ASSERT_EQ(std::system((cluster_script() + " kill kafka-broker > /dev/null 2>&1").c_str()), 0);
  for (int i = kOrders / 2; i < kOrders; ++i) ASSERT_EQ(pay(api.port(), orders[i]), 202);

  const std::string ids = fmt::format("{}", fmt::join(schedules, ","));
  const auto paid = [&] {
    return db_value(
        fmt::format("SELECT COUNT(*) FROM payment_order WHERE schedule_id IN ({}) AND status = 'PAID'", ids));
  };
  EXPECT_TRUE(wait_for([&] { return paid() == std::to_string(kOrders); }, std::chrono::seconds(120)))
      << "PAID orders: " << paid();
  // Nothing lost: every order PAID, every seat CONFIRMED once; nothing applied twice: one
  // processed-event mark and one published outbox event per payment, no refund.
  EXPECT_EQ(
      db_value(fmt::format("SELECT COUNT(*) FROM reservation WHERE schedule_id IN ({}) AND status = 'CONFIRMED'", ids)),
      std::to_string(kOrders));
  EXPECT_EQ(
      db_value(fmt::format("SELECT COUNT(*) FROM payment_order WHERE schedule_id IN ({}) AND status <> 'PAID'", ids)),
      "0");
  const std::string events =
      fmt::format("SELECT event_id FROM outbox_event WHERE type = 'PaymentCompleted' AND message_key IN ({})",
                  fmt::format("'{}'", fmt::join(schedules, "','")));
  EXPECT_EQ(db_value("SELECT COUNT(*) FROM (" + events + ") e"), std::to_string(kOrders));
  EXPECT_EQ(db_value("SELECT COUNT(*) FROM processed_event WHERE event_id IN (" + events + ")"),
            std::to_string(kOrders));
  EXPECT_EQ(
      db_value(fmt::format("SELECT COUNT(*) FROM outbox_event WHERE type <> 'PaymentCompleted' AND message_key IN "
                           "({})",
                           fmt::format("'{}'", fmt::join(schedules, "','")))),
      "0")
      << "a refund or other event for an order that was paid once";
}
