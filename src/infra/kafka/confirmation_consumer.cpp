#include "infra/kafka/confirmation_consumer.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "domain/errors.hpp"
#include "infra/events/payment_events.hpp"

namespace ticketing::infra::kafka {

ConfirmationConsumer::ConfirmationConsumer(KafkaOptions options, KafkaProducer& dlq_producer,
                                           boost::asio::io_context& context, Handler handler,
                                           ConfirmationConsumerSettings settings)
    : options_(std::move(options)),
      dlq_producer_(dlq_producer),
      context_(context),
      handler_(std::move(handler)),
      settings_(std::move(settings)) {}

ConfirmationConsumer::~ConfirmationConsumer() { stop(); }

void ConfirmationConsumer::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ConfirmationConsumer::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

bool ConfirmationConsumer::dead_letter(const IncomingMessage& message, const std::string& error) {
  OutgoingMessage dlq{settings_.topics.payment_completed_dlq, message.key, message.value,
                      {{"error", error},
                       {"original-topic", message.topic},
                       {"original-partition", std::to_string(message.partition)},
                       {"original-offset", std::to_string(message.offset)}}};
  if (!dlq_producer_.produce_one_and_wait(dlq, std::chrono::seconds(10))) return false;
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
      for (const auto* message : pending) {
        std::string error;
        auto event = events::decode_payment_completed(message->value, error);
        if (!event) {
          if (!dead_letter(*message, "unparsable: " + error)) retry.push_back(message);
          continue;
        }
        decoded.push_back(std::move(*event));
        handled.emplace_back(message, boost::asio::co_spawn(context_, handler_(decoded.back()), boost::asio::use_future));
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
