#include "infra/kafka/kafka_producer.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "infra/kafka/kafka_error.hpp"
#include "infra/kafka/kafka_log.hpp"

namespace ticketing::infra::kafka {

using Clock = std::chrono::steady_clock;

struct KafkaProducer::Batch {
  std::mutex mutex;
  std::condition_variable all_reported;
  std::vector<DeliveryResult> results;
  std::vector<char> reported;
  std::size_t pending = 0;

  // First report wins; later ones (none expected) are ignored.
  void report(std::size_t index, DeliveryResult result) {
    std::lock_guard lock(mutex);
    if (reported[index] != 0) return;
    reported[index] = 1;
    results[index] = std::move(result);
    if (--pending == 0) all_reported.notify_all();
  }
};

namespace {

// msg_opaque of every produced message; owned by librdkafka until its delivery report, which
// frees it. Holds the batch alive even after the producing call gave up waiting.
struct Ticket {
  std::shared_ptr<KafkaProducer::Batch> batch;
  std::size_t index;
};

std::string describe_failure(const RdKafka::Message& message) {
  std::string text = message.errstr();
  if (text.empty()) text = RdKafka::err2str(message.err());
  if (message.status() == RdKafka::Message::MSG_STATUS_POSSIBLY_PERSISTED) text += " (possibly persisted)";
  return text;
}

}  // namespace

class KafkaProducer::DeliveryCallback final : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryCallback(KafkaProducer& owner) : owner_(owner) {}

  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Ticket> ticket(static_cast<Ticket*>(message.msg_opaque()));
    if (ticket) {
      if (message.err() == RdKafka::ERR_NO_ERROR) {
        ticket->batch->report(ticket->index, DeliveryResult{true, ""});
      } else {
        ticket->batch->report(ticket->index, DeliveryResult{false, describe_failure(message),
                                                            message.err() == RdKafka::ERR_MSG_SIZE_TOO_LARGE});
      }
    }
    // A caller may be waiting for room in the local queue.
    owner_.space_freed_.notify_all();
  }

 private:
  KafkaProducer& owner_;
};

KafkaProducer::KafkaProducer(const KafkaOptions& options, KafkaProducerSettings settings)
    : settings_(settings),
      logger_(std::make_unique<RateLimitedEventLogger>("producer " + options.client_id)),
      delivery_callback_(std::make_unique<DeliveryCallback>(*this)) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set_conf(*conf, "bootstrap.servers", options.bootstrap_servers);
  set_conf(*conf, "client.id", options.client_id);
  set_conf(*conf, "enable.idempotence", "true");
  set_conf(*conf, "acks", "all");
  set_conf(*conf, "linger.ms", std::to_string(settings_.linger.count()));
  set_conf(*conf, "queue.buffering.max.messages", std::to_string(settings_.max_queued_messages));
  set_conf(*conf, "message.timeout.ms", std::to_string(settings_.message_timeout.count()));
  // A dead broker: reconnect attempts back off to 2 s instead of 10 per second.
  set_conf(*conf, "reconnect.backoff.max.ms", "2000");
  set_conf(*conf, "log_level", "4");
  set_conf(*conf, "event_cb", logger_.get());
  set_conf(*conf, "dr_cb", delivery_callback_.get());
  std::string error;
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!producer_) throw KafkaError(RdKafka::ERR__INVALID_ARG, "kafka producer: " + error);
  poller_ = std::thread([this] { poll_loop(); });
}

KafkaProducer::~KafkaProducer() {
  stopping_ = true;
  space_freed_.notify_all();
  if (poller_.joinable()) poller_.join();
  if (producer_->flush(static_cast<int>(settings_.close_timeout.count())) != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("kafka producer: {} messages still outstanding after {} ms; purging them", producer_->outq_len(),
                 settings_.close_timeout.count());
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    // Serves the purged messages' delivery reports, which free their tickets.
    producer_->flush(500);
  }
  producer_.reset();
}

void KafkaProducer::poll_loop() {
  while (!stopping_.load()) producer_->poll(100);
}

int KafkaProducer::outstanding() const {
  return producer_->outq_len();
}

std::optional<std::string> KafkaProducer::fatal_error() const {
  std::string reason;
  const RdKafka::ErrorCode code = producer_->fatal_error(reason);
  if (code == RdKafka::ERR_NO_ERROR) return std::nullopt;
  return RdKafka::err2str(code) + ": " + reason;
}

void KafkaProducer::inject_fatal_error_for_test(const std::string& reason) {
  rd_kafka_test_fatal_error(producer_->c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason.c_str());
}

std::vector<DeliveryResult> KafkaProducer::produce_and_wait(const std::vector<OutgoingMessage>& messages,
                                                            std::chrono::milliseconds timeout) {
  if (messages.empty()) return {};
  const auto deadline = Clock::now() + timeout;
  auto batch = std::make_shared<Batch>();
  batch->results.resize(messages.size());
  batch->reported.assign(messages.size(), 0);
  batch->pending = messages.size();

  for (std::size_t i = 0; i < messages.size(); ++i) {
    const OutgoingMessage& message = messages[i];
    std::unique_ptr<RdKafka::Headers> headers;
    if (!message.headers.empty()) {
      headers.reset(RdKafka::Headers::create());
      for (const auto& [name, value] : message.headers) headers->add(name, value.data(), value.size());
    }
    auto ticket = std::make_unique<Ticket>(Ticket{batch, i});
    RdKafka::ErrorCode code;
    for (;;) {
      code = producer_->produce(message.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                const_cast<char*>(message.value.data()), message.value.size(),
                                message.key.empty() ? nullptr : message.key.data(), message.key.size(), 0,
                                headers.get(), ticket.get());
      if (code != RdKafka::ERR__QUEUE_FULL) break;
      // The local queue is full: wait for delivery reports to make room (the poll thread serves
      // them), re-checking at least every 10 ms.
      std::unique_lock lock(space_mutex_);
      const auto now = Clock::now();
      if (now >= deadline || stopping_) break;
      space_freed_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(10)));
    }
    if (code == RdKafka::ERR_NO_ERROR) {
      // librdkafka now owns the headers and the ticket.
      (void)headers.release();
      (void)ticket.release();
      continue;
    }
    std::string error = RdKafka::err2str(code);
    if (code == RdKafka::ERR__QUEUE_FULL) {
      error = "local producer queue still full when the timeout passed";
    } else if (code == RdKafka::ERR__FATAL) {
      std::string reason;
      producer_->fatal_error(reason);
      error += ": " + reason + " (the producer must be recreated)";
    }
    batch->report(i, DeliveryResult{false, std::move(error), code == RdKafka::ERR_MSG_SIZE_TOO_LARGE});
  }

  std::unique_lock lock(batch->mutex);
  batch->all_reported.wait_until(lock, deadline, [&] { return batch->pending == 0; });
  if (batch->pending > 0) {
    const std::string unknown = "no delivery report within " + std::to_string(timeout.count()) +
                                " ms (outcome unknown: the message may still be delivered)";
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (batch->reported[i] == 0) batch->results[i] = DeliveryResult{false, unknown};
    }
  }
  // Copy: late delivery reports may still write into the batch.
  return batch->results;
}

bool MessageProducer::produce_one_and_wait(const OutgoingMessage& message, std::chrono::milliseconds timeout) {
  const std::vector<OutgoingMessage> one{message};
  const auto results = produce_and_wait(one, timeout);
  return results.front().delivered;
}

}  // namespace ticketing::infra::kafka
