#pragma once
// The `reservation-confirm` consumer of topic payment.completed (DESIGN.md §7 step 4), on its own
// thread. Each batch is decoded and handed to the batch handler (one database transaction for the
// whole batch, idempotent by event id); what it leaves, or the whole batch when it fails, goes to
// the per-event handler (one transaction per event). Offsets are committed only after every message
// of the batch is settled. A message that cannot be decoded, or fails `max_attempts` times for a
// reason other than an outage, goes to payment.completed.dlq with the error in a header, and the
// consumer moves on. Outages (database down) are retried with backoff, never sent to the DLQ.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "domain/payment.hpp"
#include "domain/ports/dead_letter_store.hpp"
#include "domain/ports/payment_repository.hpp"
#include "infra/events/payment_events.hpp"
#include "infra/kafka/kafka_consumer.hpp"
#include "infra/kafka/kafka_options.hpp"
#include "infra/kafka/kafka_producer.hpp"

namespace ticketing::infra::kafka {

struct ConfirmationConsumerSettings {
  events::EventTopics topics;  // topic names and the consumer group
  std::size_t batch = 200;
  int max_attempts = 5;
  std::chrono::milliseconds retry_backoff{200};
  // Tests turn this off to stand for a crash between the database commit and the offset commit.
  bool commit_offsets = true;
};

struct ConsumerCounters {
  std::atomic<std::uint64_t> consumed{0};
  std::atomic<std::uint64_t> batched{0};  // settled by the batch handler (the rest one by one)
  std::atomic<std::uint64_t> dead_lettered{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::int64_t> lag{0};  // last known KafkaConsumer::lag() of payment.completed
};

class ConfirmationConsumer {
 public:
  using Handler = std::function<Task<domain::ConfirmOutcome>(const domain::PaymentCompleted&)>;
  // Keeps a copy of each dead-lettered message where operators can list and replay it.
  using DeadLetterRecorder = std::function<Task<void>(const domain::DeadLetter&)>;
  // Settles a whole batch at once (one transaction); true for each event it settled. Whatever it
  // did not settle, or the whole batch when it throws, goes through `handler` one by one.
  using BatchHandler = std::function<Task<std::vector<bool>>(const std::vector<domain::PaymentCompleted>&)>;

  // `handler` runs on `context` (an I/O thread, so it may use the database pool and Redis).
  ConfirmationConsumer(KafkaOptions options, MessageProducer& dlq_producer, boost::asio::io_context& context,
                       Handler handler, ConfirmationConsumerSettings settings = {}, BatchHandler batch_handler = {});
  ~ConfirmationConsumer();
  // Set while wiring, before start().
  void set_dead_letter_recorder(DeadLetterRecorder recorder) { recorder_ = std::move(recorder); }
  void start();
  void stop();  // joins; unprocessed messages are delivered again later
  ConsumerCounters& counters() noexcept { return counters_; }

 private:
  void run();
  struct Letter {
    const IncomingMessage* message;
    std::string error;
  };
  using Attempts = std::map<std::pair<int, std::int64_t>, int>;
  // Records the letters in the dead-letter table and sends them to the DLQ topic, all together;
  // returns the messages whose DLQ send failed (retried).
  std::vector<const IncomingMessage*> dead_letter(const std::vector<Letter>& letters);
  // A failure that may pass: retried, dead-lettered after settings_.max_attempts.
  void retry_or_dead_letter(const IncomingMessage* message, const char* failure, Attempts& attempts,
                            std::vector<const IncomingMessage*>& retry, std::vector<Letter>& letters);

  KafkaOptions options_;
  MessageProducer& dlq_producer_;
  boost::asio::io_context& context_;
  Handler handler_;
  ConfirmationConsumerSettings settings_;
  BatchHandler batch_handler_;
  DeadLetterRecorder recorder_;
  ConsumerCounters counters_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ticketing::infra::kafka
