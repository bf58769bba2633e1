#include "infra/kafka/confirmation_consumer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "domain/errors.hpp"
#include "infra/events/payment_events.hpp"

namespace ticketing::infra::kafka {

namespace {
// How much of a message too large for the DLQ topic goes there (its beginning, marked): enough to
// recognise it; the dead-letter table keeps it whole.
constexpr std::size_t kDeadLetterTruncatedBytes = 4096;
}  // namespace

ConfirmationConsumer::ConfirmationConsumer(KafkaOptions options, MessageProducer& dlq_producer,
                                           boost::asio::io_context& context, Handler handler,
                                           ConfirmationConsumerSettings settings, BatchHandler batch_handler)
    : options_(std::move(options)),
      dlq_producer_(dlq_producer),
      context_(context),
      handler_(std::move(handler)),
      settings_(std::move(settings)),
      batch_handler_(std::move(batch_handler)) {}

ConfirmationConsumer::~ConfirmationConsumer() {
  stop();
}

void ConfirmationConsumer::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ConfirmationConsumer::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

bool ConfirmationConsumer::dead_letter(const IncomingMessage& message, const std::string& error) {
  if (recorder_) {
    // Recorded before the DLQ send: if the send fails the message is retried and recorded again,
    // which the store ignores (one row per message: its position and its payload's SHA-256).
    domain::DeadLetter letter;
    letter.topic = message.topic;
    letter.partition = message.partition;
    letter.offset = message.offset;
    if (!message.key.empty()) letter.key = message.key;
    letter.payload = message.value;
    letter.error = error;
    try {
      boost::asio::co_spawn(context_, recorder_(letter), boost::asio::use_future).get();
    } catch (const std::exception& failure) {
      // The DLQ topic still has it; the console just will not list it.
      spdlog::warn("payment.completed {}/{}: dead letter not recorded in the database: {}", message.partition,
                   message.offset, failure.what());
    }
  }
  OutgoingMessage dlq{settings_.topics.payment_completed_dlq,
                      message.key,
                      message.value,
                      {{"error", error},
                       {"original-topic", message.topic},
                       {"original-partition", std::to_string(message.partition)},
                       {"original-offset", std::to_string(message.offset)}}};
  auto sent = dlq_producer_.produce_and_wait({dlq}, std::chrono::seconds(10)).front();
  if (!sent.delivered && sent.too_large) {
    // Too large for the DLQ topic (the payment topic took it, the copy has headers too): no
    // attempt can ever send it whole, and the consumer must move on. Its beginning goes to the
    // topic, marked; the database row above keeps the payload whole.
    dlq.value.resize(std::min(dlq.value.size(), kDeadLetterTruncatedBytes));
    dlq.headers.emplace_back("truncated-from-bytes", std::to_string(message.value.size()));
    spdlog::warn("payment.completed {}/{}: {} bytes too large for the DLQ ({}); sending its first {} bytes",
                 message.partition, message.offset, message.value.size(), sent.error, dlq.value.size());
    sent = dlq_producer_.produce_and_wait({dlq}, std::chrono::seconds(10)).front();
  }
  if (!sent.delivered) {
    spdlog::warn("payment.completed {}/{}: DLQ send failed ({}); the message is retried", message.partition,
                 message.offset, sent.error);
    return false;
  }
  counters_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("payment.completed {}/{} sent to the DLQ: {}", message.partition, message.offset, error);
  return true;
}

void ConfirmationConsumer::run() {
  std::unique_ptr<KafkaConsumer> consumer;
  try {
    consumer = std::make_unique<KafkaConsumer>(options_, settings_.topics.confirm_group,
                                               std::vector<std::string>{settings_.topics.payment_completed});
  } catch (const std::exception& error) {
    spdlog::error("confirmation consumer cannot start: {}", error.what());
    return;
  }
  std::map<std::pair<int, std::int64_t>, int> attempts;
  while (!stopping_) {
    const auto batch = consumer->poll_batch(settings_.batch, std::chrono::milliseconds(200));
    if (const auto lag = consumer->lag(); lag) counters_.lag.store(*lag, std::memory_order_relaxed);
    if (batch.empty()) continue;
    // Settle every message of the batch (concurrently on the database pool), retrying the ones that
    // failed, before the offsets move.
    std::vector<const IncomingMessage*> pending;
    for (const auto& message : batch) pending.push_back(&message);
    while (!pending.empty() && !stopping_) {
      std::vector<const IncomingMessage*> retry;
      std::vector<std::pair<const IncomingMessage*, std::future<domain::ConfirmOutcome>>> handled;
      // The handler coroutines refer to the decoded events: they live here until every future is done.
      std::vector<domain::PaymentCompleted> decoded;
      decoded.reserve(pending.size());
      std::vector<const IncomingMessage*> decodable;
      for (const auto* message : pending) {
        std::string error;
        auto event = events::decode_payment_completed(message->value, error);
        if (!event) {
          if (!dead_letter(*message, "unparsable: " + error)) retry.push_back(message);
          continue;
        }
        decoded.push_back(std::move(*event));
        decodable.push_back(message);
      }
      std::vector<bool> settled(decoded.size(), false);
      if (batch_handler_ && decoded.size() > 1) {
        try {
          settled = boost::asio::co_spawn(context_, batch_handler_(decoded), boost::asio::use_future).get();
          settled.resize(decoded.size(), false);
          counters_.batched.fetch_add(static_cast<std::uint64_t>(std::count(settled.begin(), settled.end(), true)),
                                      std::memory_order_relaxed);
        } catch (const std::exception& failure) {
          // One by one below: they report (and dead-letter) what failed, and retry outages.
          spdlog::debug("batch of {} payment.completed events failed, settling them one by one: {}", decoded.size(),
                        failure.what());
          settled.assign(decoded.size(), false);
        }
      }
      for (std::size_t i = 0; i < decoded.size(); ++i) {
        if (settled[i]) continue;
        handled.emplace_back(decodable[i],
                             boost::asio::co_spawn(context_, handler_(decoded[i]), boost::asio::use_future));
      }
      for (auto& [message, future] : handled) {
        try {
          future.get();
        } catch (const domain::DependencyUnavailable&) {
          counters_.retries.fetch_add(1, std::memory_order_relaxed);
          retry.push_back(message);
        } catch (const std::exception& failure) {
          counters_.retries.fetch_add(1, std::memory_order_relaxed);
          const int tried = ++attempts[{message->partition, message->offset}];
          if (tried >= settings_.max_attempts) {
            if (!dead_letter(*message, "failed " + std::to_string(tried) + " times: " + failure.what())) {
              retry.push_back(message);
            }
          } else {
            retry.push_back(message);
          }
        }
      }
      pending = std::move(retry);
      if (!pending.empty()) std::this_thread::sleep_for(settings_.retry_backoff);  // backoff, not synchronisation
    }
    if (!pending.empty()) break;  // stopping: leave the batch uncommitted, it is delivered again
    for (const auto& message : batch) attempts.erase({message.partition, message.offset});
    counters_.consumed.fetch_add(batch.size(), std::memory_order_relaxed);
    if (!settings_.commit_offsets) continue;
    try {
      consumer->commit(batch);
    } catch (const std::exception& error) {
      // The batch will be delivered again; every event is idempotent by its id.
      spdlog::warn("offset commit failed (the batch will be redelivered): {}", error.what());
    }
  }
  consumer->close();
}

}  // namespace ticketing::infra::kafka
