// A fatal idempotent-producer error is recovered (issue 14, item 4): the whole service against the
// real broker; the fatal error is librdkafka's own test injection (rd_kafka_test_fatal_error) in the
// producer the outbox relay uses. Health says DEGRADED until the relay has rebuilt the producer,
// then UP again, and outbox rows written meanwhile and afterwards are published.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <regex>
#include <set>

#include "infra/events/payment_events.hpp"
#include "infra/kafka/kafka_consumer.hpp"
#include "infra/kafka/kafka_topics.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Health {
  int http_status = 0;
  std::string status;        // overall
  std::string kafka_status;  // components.kafka.status
  std::string kafka_detail;  // components.kafka.detail ("" when absent)
};

Health health(std::uint16_t port) {
  const auto response = http(port, "GET", "/actuator/health");
  Health out;
  out.http_status = response.status;
  const auto body = json::parse(response.body).as_object();
  out.status = std::string(body.at("status").as_string());
  const auto& kafka = body.at("components").at("kafka").as_object();
  out.kafka_status = std::string(kafka.at("status").as_string());
  if (kafka.contains("detail")) out.kafka_detail = std::string(kafka.at("detail").as_string());
  return out;
}

// The value of an unlabelled counter in GET /actuator/prometheus (-1 when it is missing).
double counter(std::uint16_t port, const std::string& name) {
  const auto text = http(port, "GET", "/actuator/prometheus").body;
  std::smatch match;
  if (!std::regex_search(text, match, std::regex("\n" + name + " ([0-9.e+]+)\n"))) return -1;
  return std::stod(match[1]);
}

// An outbox row as the payment repository writes them, for `topic`; returns its event id.
std::string write_outbox_row(const std::string& topic) {
  const auto event_id = infra::events::new_event_id();
  test_db()->execute(
      fmt::format("INSERT INTO outbox_event (event_id, aggregate, type, payload, topic, message_key) "
                  "VALUES ('{0}', 'test', 'RecoveryProbe', '{{\"eventId\":\"{0}\"}}', '{1}', '1')",
                  event_id, topic));
  return event_id;
}

bool published(const std::string& event_id) {
  const auto rows = test_db()->query(
      fmt::format("SELECT published_at IS NOT NULL FROM outbox_event WHERE event_id = '{}'", event_id));
  return !rows.rows.empty() && rows.rows[0][0] && *rows.rows[0][0] == "1";
}

}  // namespace

TEST(ProducerRecovery, FatalErrorIsDegradedUntilTheRelayRebuildsTheProducerThenEventsFlow) {
  prepare_test_database();
  const auto config = test_config();
  const std::string prefix =
      fmt::format("{}recovery-{}-{}.", config.kafka.topic_prefix, ::getpid(), Clock::now().time_since_epoch().count());
  const std::string topic = prefix + "probe";
  const infra::kafka::KafkaOptions kafka{config.kafka.bootstrap_servers, "it-recovery"};
  infra::kafka::ensure_topics(kafka, {{topic, 1}}, std::chrono::seconds(10));
  // A 5 s backoff: long enough to watch DEGRADED, short enough for a quick test.
  constexpr auto kBackoff = std::chrono::seconds(5);
  TestServer server({"kafka.topic-prefix=" + prefix, "kafka.producer-rebuild-backoff=5s"});
  const auto port = server.port();
  ASSERT_TRUE(wait_for([&] { return health(port).status == "UP"; }, std::chrono::seconds(20)))
      << "not UP before the fault: " << health(port).status;
  ASSERT_EQ(counter(port, "ticketing_kafka_producer_rebuilds_total"), 0);
  const auto before = write_outbox_row(topic);
  ASSERT_TRUE(wait_for([&] { return published(before); }, std::chrono::seconds(20)));

  server.app().inject_kafka_fatal_error_for_test("injected by ProducerRecovery");
  const auto injected = Clock::now();
  Health degraded;
  ASSERT_TRUE(wait_for(
      [&] {
        degraded = health(port);
        return degraded.status == "DEGRADED";
      },
      std::chrono::seconds(4)))
      << "health stayed " << degraded.status;
  EXPECT_EQ(degraded.http_status, 200) << "DEGRADED still serves";
  EXPECT_EQ(degraded.kafka_status, "DEGRADED");
  EXPECT_NE(degraded.kafka_detail.find("fatal error"), std::string::npos) << degraded.kafka_detail;
  EXPECT_EQ(counter(port, "ticketing_kafka_producer_rebuilds_total"), 0) << "rebuilt before the backoff";
  // Written while the producer is unusable: it waits in the outbox.
  const auto during = write_outbox_row(topic);

  ASSERT_TRUE(wait_for(
      [&] { return counter(port, "ticketing_kafka_producer_rebuilds_total") == 1 && health(port).status == "UP"; },
      std::chrono::seconds(30)))
      << "rebuilds " << counter(port, "ticketing_kafka_producer_rebuilds_total") << ", health " << health(port).status;
  const auto recovered_after = Clock::now() - injected;
  EXPECT_GE(recovered_after, kBackoff);
  const auto up = health(port);
  EXPECT_EQ(up.http_status, 200);
  EXPECT_EQ(up.kafka_status, "UP");
  EXPECT_EQ(up.kafka_detail, "");

  const auto after = write_outbox_row(topic);
  EXPECT_TRUE(wait_for([&] { return published(during) && published(after); }, std::chrono::seconds(20)))
      << "during: " << published(during) << ", after: " << published(after);

  // And they are on the broker, under their own event ids.
  infra::kafka::KafkaConsumer consumer(kafka, prefix + "check", {topic});
  std::set<std::string> seen;
  const bool all = wait_for(
      [&] {
        for (const auto& message : consumer.poll_batch(100, std::chrono::milliseconds(200))) {
          for (const auto& [name, value] : message.headers) {
            if (name == "eventId") seen.insert(value);
          }
        }
        return seen.count(before) && seen.count(during) && seen.count(after);
      },
      std::chrono::seconds(20));
  EXPECT_TRUE(all) << "events on " << topic << ": " << seen.size();
  consumer.close();
  std::printf(
      "[ producer recovery ] DEGRADED seen; rebuilt and UP again %.1f s after the fatal error (backoff %lld "
      "s)\n",
      std::chrono::duration<double>(recovered_after).count(), static_cast<long long>(kBackoff.count()));
}
