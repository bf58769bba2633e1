// The reservation-confirm consumer against the real broker and database (issue 5 acceptance 2, 5):
// duplicate delivery, a crash between the database commit and the offset commit, poison messages.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <thread>

#include "application/payment_service.hpp"
#include "application/seat_events.hpp"
#include "domain/ports/clock.hpp"
#include "infra/events/payment_events.hpp"
#include "infra/kafka/confirmation_consumer.hpp"
#include "infra/kafka/kafka_consumer.hpp"
#include "infra/kafka/kafka_producer.hpp"
#include "infra/kafka/kafka_topics.hpp"
#include "infra/mysql/mysql_payment_repository.hpp"
#include "infra/redis/redis_client.hpp"
#include "infra/redis/redis_queue_store.hpp"
#include "infra/redis/redis_seat_lock_store.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;

namespace {

class ConsumerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = test_config();
    // Topics and group of this test alone.
    topics_ = infra::events::EventTopics::with_prefix(
        fmt::format("itest-{}-{}.", getpid(), std::chrono::steady_clock::now().time_since_epoch().count()));
    kafka_ = {config_.kafka.bootstrap_servers, "consumer-test"};
    // The DLQ topic takes smaller messages than the payment topic (100,000 bytes): a poison message
    // between the two limits cannot be copied to it whole.
    infra::kafka::ensure_topics(
        kafka_,
        {{topics_.payment_completed, 3, {}}, {topics_.payment_completed_dlq, 1, {{"max.message.bytes", "100000"}}}},
        std::chrono::seconds(10));
    pool_ = std::make_unique<infra::mysql::MysqlPool>(test_db_endpoint(),
                                                      infra::mysql::PoolOptions{4, 64, std::chrono::seconds(5)});
    repository_ = std::make_unique<infra::mysql::MysqlPaymentRepository>(*pool_, topics_);
    redis_ = std::make_unique<infra::redis::RedisClient>(std::vector<boost::asio::io_context*>{&io_},
                                                         infra::redis::parse_redis_url(config_.redis.url));
    queue_ = std::make_unique<infra::redis::RedisQueueStore>(*redis_, domain::QueuePolicy{});
    locks_ = std::make_unique<infra::redis::RedisSeatLockStore>(*redis_);
    handler_ = std::make_unique<application::ConfirmationHandler>(*repository_, *queue_, *locks_, clock_, seat_events_,
                                                                  counters_);
    producer_ = std::make_unique<infra::kafka::KafkaProducer>(kafka_);
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    redis_->close_all();
    work_.reset();
    io_.stop();
    io_thread_.join();
  }

  std::unique_ptr<infra::kafka::ConfirmationConsumer> consumer(bool commit_offsets) {
    infra::kafka::ConfirmationConsumerSettings settings{topics_, 50, 3, std::chrono::milliseconds(20), commit_offsets};
    return std::make_unique<infra::kafka::ConfirmationConsumer>(
        kafka_, *producer_, io_, [this](const domain::PaymentCompleted& e) { return handler_->handle(e); }, settings,
        [this](const std::vector<domain::PaymentCompleted>& events) { return handler_->handle_batch(events); });
  }

  std::vector<std::optional<domain::ConfirmOutcome>> confirm_batch(
      const std::vector<domain::PaymentCompleted>& events) {
    return boost::asio::co_spawn(io_, repository_->confirm_payments(events, clock_.now()), boost::asio::use_future)
        .get();
  }

  // An order in CONFIRMING with two live holds, as record_payment leaves it; returns its event.
  domain::PaymentCompleted confirming_order(std::int64_t user) {
    ensure_users(user);
    const auto schedule = create_schedule(-60, 2);
    auto db = test_db();
    const std::string order_no = fmt::format("ORD-TEST-{}-{}", schedule, user);
    const auto order = db->execute(fmt::format(
        "INSERT INTO payment_order (order_no, user_id, schedule_id, amount, status, idempotency_key, expires_at, "
        "paid_at) VALUES ('{}', {}, {}, 200.00, 'CONFIRMING', 'k-{}', UTC_TIMESTAMP(3) + INTERVAL 10 MINUTE, "
        "UTC_TIMESTAMP(3))",
        order_no, user, schedule, schedule));
    db->execute(fmt::format(
        "INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active, payment_order_id) VALUES "
        "({0}, {1}, 'S-1', 'HELD', UTC_TIMESTAMP(3) + INTERVAL 1 DAY, 1, {2}), "
        "({0}, {1}, 'S-2', 'HELD', UTC_TIMESTAMP(3) + INTERVAL 1 DAY, 1, {2})",
        user, schedule, order.last_insert_id));
    return domain::PaymentCompleted{
        infra::events::new_event_id(), order_no,    domain::UserId{user}, domain::ScheduleId{schedule}, {"S-1", "S-2"},
        domain::Money{20000},          clock_.now()};
  }

  void produce(const std::string& value, const std::string& key = "1") {
    ASSERT_TRUE(producer_->produce_one_and_wait({topics_.payment_completed, key, value, {}}, std::chrono::seconds(10)));
  }

  // The DLQ topic's messages, read until `count` have come (or 20 s passed).
  std::vector<infra::kafka::IncomingMessage> dead_letters(std::size_t count) {
    infra::kafka::KafkaConsumer dlq(kafka_, topics_.payment_completed_dlq + ".reader", {topics_.payment_completed_dlq});
    std::vector<infra::kafka::IncomingMessage> dead;
    wait_for(
        [&] {
          for (auto& m : dlq.poll_batch(10, std::chrono::milliseconds(200))) dead.push_back(std::move(m));
          return dead.size() >= count;
        },
        std::chrono::seconds(20));
    dlq.close();
    return dead;
  }

  std::string value(const std::string& sql) {
    auto db = test_db();
    const auto rows = db->query(sql);
    return rows.rows.empty() || !rows.rows[0][0] ? "NULL" : *rows.rows[0][0];
  }

  std::string order_status(const domain::PaymentCompleted& e) {
    return value(fmt::format("SELECT status FROM payment_order WHERE order_no = '{}'", e.order_no));
  }

  infra::config::AppConfig config_;
  infra::events::EventTopics topics_;
  infra::kafka::KafkaOptions kafka_;
  domain::SystemClock clock_;
  application::PaymentCounters counters_;
  application::NoSeatEvents seat_events_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread io_thread_;
  std::unique_ptr<infra::mysql::MysqlPool> pool_;
  std::unique_ptr<infra::mysql::MysqlPaymentRepository> repository_;
  std::unique_ptr<infra::redis::RedisClient> redis_;
  std::unique_ptr<infra::redis::RedisQueueStore> queue_;
  std::unique_ptr<infra::redis::RedisSeatLockStore> locks_;
  std::unique_ptr<application::ConfirmationHandler> handler_;
  std::unique_ptr<infra::kafka::KafkaProducer> producer_;
};

}  // namespace

// Acceptance 2: the same event twice → one confirmation, no error loop.
TEST_F(ConsumerFixture, DuplicateEventConfirmsOnce) {
  const auto event = confirming_order(11);
  const auto json = infra::events::encode_payment_completed(event);
  produce(json);
  produce(json);
  auto c = consumer(true);
  c->start();
  ASSERT_TRUE(wait_for([&] { return c->counters().consumed.load() >= 2; }, std::chrono::seconds(20)));
  EXPECT_EQ(order_status(event), "PAID");
  EXPECT_EQ(counters_.confirmed.load(), 1u);
  EXPECT_EQ(counters_.duplicates.load(), 1u);
  EXPECT_EQ(c->counters().dead_lettered.load(), 0u);
  EXPECT_EQ(value(fmt::format("SELECT COUNT(*) FROM processed_event WHERE event_id = '{}'", event.event_id)), "1");
  // The consumer keeps going: a later event is handled too.
  const auto next = confirming_order(12);
  produce(infra::events::encode_payment_completed(next));
  EXPECT_TRUE(wait_for([&] { return order_status(next) == "PAID"; }, std::chrono::seconds(20)));
  c->stop();
}

// The sold lock is set after the confirmation commits, by the real script: the buyer's own lock
// stops expiring; a lock gone meanwhile (an operator's refund unlocked it) is not taken again, and
// another user's (a hold after that refund) is left with its expiry.
TEST_F(ConsumerFixture, TheSoldLockKeepsOnlyTheBuyersOwnLock) {
  const auto event = confirming_order(14);
  RedisInspector redis;
  const auto key = [&](const char* seat) { return infra::redis::RedisSeatLockStore::key(event.schedule, seat); };
  redis.string({"SET", key("S-1"), std::to_string(event.user.value), "PX", "60000"});
  redis.string({"SET", key("S-2"), "999", "PX", "60000"});
  const auto outcome = boost::asio::co_spawn(io_, handler_->handle(event), boost::asio::use_future).get();
  ASSERT_EQ(outcome.kind, domain::ConfirmOutcome::Kind::kConfirmed);
  EXPECT_EQ(redis.string({"GET", key("S-1")}).value_or(""), std::to_string(event.user.value));
  EXPECT_EQ(redis.integer({"PTTL", key("S-1")}), -1) << "the buyer's lock still expires";
  EXPECT_EQ(redis.string({"GET", key("S-2")}).value_or(""), "999") << "another user's lock was taken";
  EXPECT_GT(redis.integer({"PTTL", key("S-2")}), 0);

  const auto later = confirming_order(15);
  const auto later_outcome = boost::asio::co_spawn(io_, handler_->handle(later), boost::asio::use_future).get();
  ASSERT_EQ(later_outcome.kind, domain::ConfirmOutcome::Kind::kConfirmed);
  EXPECT_EQ(redis.integer({"EXISTS", infra::redis::RedisSeatLockStore::key(later.schedule, "S-1")}), 0)
      << "a lock gone before the confirmation was set again";
}

// Acceptance 5: a consumer dies after the database commit but before the offset commit.
TEST_F(ConsumerFixture, RedeliveryAfterACrashBeforeTheOffsetCommitHasNoSecondEffect) {
  const auto event = confirming_order(13);
  produce(infra::events::encode_payment_completed(event));
  {
    auto crashing = consumer(/*commit_offsets=*/false);
    crashing->start();
    ASSERT_TRUE(wait_for([&] { return order_status(event) == "PAID"; }, std::chrono::seconds(20)));
    crashing->stop();
  }
  const auto confirmed_at = value(fmt::format(
      "SELECT MAX(updated_at) FROM reservation WHERE user_id = 13 AND schedule_id = {}", event.schedule.value));
  auto restarted = consumer(true);
  restarted->start();
  ASSERT_TRUE(wait_for([&] { return counters_.duplicates.load() >= 1; }, std::chrono::seconds(20)))
      << "the uncommitted event was not delivered again";
  restarted->stop();
  EXPECT_EQ(counters_.confirmed.load(), 1u);
  EXPECT_EQ(order_status(event), "PAID");
  EXPECT_EQ(value(fmt::format("SELECT MAX(updated_at) FROM reservation WHERE user_id = 13 AND schedule_id = {}",
                              event.schedule.value)),
            confirmed_at)
      << "the redelivery wrote again";
}

// Acceptance 5: malformed and failing messages go to the DLQ with the error; the consumer moves on.
TEST_F(ConsumerFixture, PoisonMessagesGoToTheDlqAndTheConsumerMovesOn) {
  const auto good = confirming_order(14);
  produce("this is not json");
  domain::PaymentCompleted unknown = good;
  unknown.event_id = infra::events::new_event_id();
  unknown.order_no = "ORD-NO-SUCH-ORDER";
  produce(infra::events::encode_payment_completed(unknown));  // valid, but no attempt can settle it
  // Not the order's payment (forged or corrupted): settles nothing — the order must not be
  // cancelled and refunded for it (the old rule compared only the number of seats) — and is
  // refused at once, not only after attempts.
  domain::PaymentCompleted forged = good;
  forged.event_id = infra::events::new_event_id();
  forged.amount = domain::Money{good.amount.cents + 100};
  forged.seat_nos.push_back("ZZ-999");
  produce(infra::events::encode_payment_completed(forged));
  // An order number with trailing spaces finds its order under the column's PAD SPACE collation;
  // it is not an order number, so it is unparsable.
  domain::PaymentCompleted padded = good;
  padded.event_id = infra::events::new_event_id();
  padded.order_no += "  ";
  produce(infra::events::encode_payment_completed(padded));
  produce(infra::events::encode_payment_completed(good));
  auto c = consumer(true);
  c->start();
  ASSERT_TRUE(wait_for([&] { return order_status(good) == "PAID"; }, std::chrono::seconds(30)));
  EXPECT_TRUE(wait_for([&] { return c->counters().dead_lettered.load() == 4; }, std::chrono::seconds(10)));
  c->stop();
  EXPECT_EQ(c->counters().retries.load(), 0u) << "a message no attempt can settle was tried again";
  EXPECT_EQ(value(fmt::format("SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentRefundRequested' AND "
                              "JSON_VALUE(payload, '$.orderNo') = '{}'",
                              good.order_no)),
            "0");

  const auto dead = dead_letters(4);
  ASSERT_EQ(dead.size(), 4u);
  auto error_of = [](const infra::kafka::IncomingMessage& m) {
    for (const auto& [name, value] : m.headers) {
      if (name == "error") return value;
    }
    return std::string();
  };
  // By payload: the unparsable ones are dead-lettered as they are read, before the others are tried.
  std::map<std::string, std::string> error_by_payload;
  for (const auto& m : dead) error_by_payload[m.value] = error_of(m);
  EXPECT_TRUE(error_by_payload["this is not json"].starts_with("unparsable: not JSON: "))
      << error_by_payload["this is not json"];
  EXPECT_EQ(error_by_payload[infra::events::encode_payment_completed(unknown)],
            "refused: PaymentCompleted for unknown order ORD-NO-SUCH-ORDER");
  EXPECT_EQ(error_by_payload[infra::events::encode_payment_completed(forged)],
            "refused: PaymentCompleted " + forged.event_id + " is not the payment of order " + good.order_no +
                ": another amount");
  EXPECT_EQ(error_by_payload[infra::events::encode_payment_completed(padded)],
            "unparsable: orderNo is not an order number");
}

// A poison message too large for the DLQ topic (it fit the payment topic; the copy cannot) does not
// stop the consumer: its beginning goes to the DLQ, marked with its size, and the events behind it
// are settled. (Retrying the whole copy forever held every schedule's confirmations back.)
TEST_F(ConsumerFixture, APoisonMessageTooLargeForTheDlqIsCutAndTheConsumerMovesOn) {
  const auto good = confirming_order(15);
  const std::string huge(150'000, '\xff');
  produce(huge);
  produce(infra::events::encode_payment_completed(good));
  auto c = consumer(true);
  c->start();
  ASSERT_TRUE(wait_for([&] { return order_status(good) == "PAID"; }, std::chrono::seconds(30)))
      << "the consumer is stuck behind the large poison message";
  EXPECT_TRUE(wait_for([&] { return c->counters().dead_lettered.load() == 1; }, std::chrono::seconds(10)));
  c->stop();

  const auto dead = dead_letters(1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, huge.substr(0, 4096));
  std::string truncated_from;
  for (const auto& [name, value] : dead[0].headers) {
    if (name == "truncated-from-bytes") truncated_from = value;
  }
  EXPECT_EQ(truncated_from, "150000");
}

// The consumer's fast path: one transaction settles a whole batch, with every outcome the one-by-one
// path would give.
TEST_F(ConsumerFixture, BatchSettlesEachEventAsTheOneByOnePathWould) {
  std::vector<domain::PaymentCompleted> events;
  for (int i = 0; i < 5; ++i) events.push_back(confirming_order(21 + i));  // [0..4] confirm
  const auto already_processed = confirming_order(26);
  ASSERT_EQ(confirm_batch({already_processed}).at(0)->kind, domain::ConfirmOutcome::Kind::kConfirmed);
  events.push_back(already_processed);  // [5] duplicate (processed before)
  events.push_back(events[0]);          // [6] duplicate (twice in this batch)
  auto expired = confirming_order(27);
  {
    auto db = test_db();
    db->execute(
        fmt::format("UPDATE reservation r JOIN payment_order o ON o.id = r.payment_order_id "
                    "SET r.status = 'EXPIRED', r.active = NULL WHERE o.order_no = '{}' AND r.seat_no = 'S-2'",
                    expired.order_no));
  }
  events.push_back(expired);  // [7] a hold lapsed: cancelled with a refund
  auto unknown = events[1];
  unknown.event_id = infra::events::new_event_id();
  unknown.order_no = "ORD-NO-SUCH-ORDER";
  events.push_back(unknown);  // [8] not settled by the batch
  auto second_event = events[2];
  second_event.event_id = infra::events::new_event_id();
  events.push_back(second_event);  // [9] another event of an order in this batch: left to one by one

  const auto outcomes = confirm_batch(events);
  ASSERT_EQ(outcomes.size(), events.size());
  using Kind = domain::ConfirmOutcome::Kind;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(outcomes[i]) << i;
    EXPECT_EQ(outcomes[i]->kind, Kind::kConfirmed) << i;
    EXPECT_EQ(outcomes[i]->order.status, domain::OrderStatus::kPaid) << i;
    EXPECT_EQ(order_status(events[i]), "PAID") << i;
    EXPECT_EQ(value(fmt::format("SELECT COUNT(*) FROM reservation r JOIN payment_order o ON o.id = r.payment_order_id "
                                "WHERE o.order_no = '{}' AND r.status = 'CONFIRMED' AND r.active = 1",
                                events[i].order_no)),
              "2")
        << i;
  }
  ASSERT_TRUE(outcomes[5] && outcomes[6]);
  EXPECT_EQ(outcomes[5]->kind, Kind::kDuplicate);
  EXPECT_EQ(outcomes[6]->kind, Kind::kDuplicate);
  ASSERT_TRUE(outcomes[7]);
  EXPECT_EQ(outcomes[7]->kind, Kind::kCancelled);
  EXPECT_EQ(order_status(expired), "CANCELLED");
  EXPECT_EQ(value(fmt::format("SELECT fail_reason FROM payment_order WHERE order_no = '{}'", expired.order_no)),
            "HOLD_EXPIRED");
  EXPECT_EQ(value(fmt::format(
                "SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentRefundRequested' AND payload LIKE '%{}%'",
                expired.order_no)),
            "1");
  EXPECT_EQ(value(fmt::format("SELECT COUNT(*) FROM reservation r JOIN payment_order o ON o.id = r.payment_order_id "
                              "WHERE o.order_no = '{}' AND r.active = 1",
                              expired.order_no)),
            "0");
  EXPECT_FALSE(outcomes[8]) << "an unknown order is left to the one-by-one path (which dead-letters it)";
  EXPECT_FALSE(outcomes[9]);
  EXPECT_EQ(value(fmt::format("SELECT COUNT(*) FROM processed_event WHERE event_id IN ('{}', '{}')", unknown.event_id,
                              second_event.event_id)),
            "0")
      << "events the batch did not settle must not be remembered as processed";

  // Settled one by one afterwards: the second event of a PAID order changes nothing.
  const auto again =
      boost::asio::co_spawn(io_, repository_->confirm_payment(second_event, clock_.now()), boost::asio::use_future)
          .get();
  EXPECT_EQ(again.kind, Kind::kIgnored);
  EXPECT_EQ(order_status(second_event), "PAID");
}

// Through the broker: a backlog is confirmed in batches, all of it exactly once.
TEST_F(ConsumerFixture, BacklogIsConfirmedInBatchesExactlyOnce) {
  constexpr int kOrders = 60;
  std::vector<domain::PaymentCompleted> events;
  for (int i = 0; i < kOrders; ++i) events.push_back(confirming_order(31 + i));
  for (const auto& event : events) produce(infra::events::encode_payment_completed(event));
  produce(infra::events::encode_payment_completed(events[7]));  // one duplicate in the backlog
  auto c = consumer(true);
  c->start();
  ASSERT_TRUE(wait_for([&] { return c->counters().consumed.load() >= kOrders + 1; }, std::chrono::seconds(30)));
  c->stop();
  EXPECT_EQ(counters_.confirmed.load(), static_cast<std::uint64_t>(kOrders));
  EXPECT_EQ(counters_.duplicates.load(), 1u);
  EXPECT_EQ(c->counters().dead_lettered.load(), 0u);
  std::string ids;
  for (const auto& event : events) ids += (ids.empty() ? "'" : ",'") + event.event_id + "'";
  EXPECT_EQ(value("SELECT COUNT(*) FROM processed_event WHERE event_id IN (" + ids + ")"), std::to_string(kOrders));
  std::string orders;
  for (const auto& event : events) orders += (orders.empty() ? "'" : ",'") + event.order_no + "'";
  EXPECT_EQ(value("SELECT COUNT(*) FROM payment_order WHERE status = 'PAID' AND order_no IN (" + orders + ")"),
            std::to_string(kOrders));
  // Batches of at most 50: most events went through the one-transaction path.
  EXPECT_GE(c->counters().batched.load(), static_cast<std::uint64_t>(kOrders / 2));
}
