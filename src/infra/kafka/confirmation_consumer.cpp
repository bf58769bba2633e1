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
constexpr std::size_t kDeadLetterTruncatedKeyBytes = 256;
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

std::vector<const IncomingMessage*> ConfirmationConsumer::dead_letter(const std::vector<Letter>& letters) {
  if (letters.empty()) return {};
  if (recorder_) {
    // Recorded before the DLQ send: if the send fails the message is retried and recorded again,
    // which the store ignores (one row per message: its position and its payload's SHA-256). Many
    // at a time on the database pool (a flood of poison costs a wait per chunk, not per message),
    // but not so many that they overflow its queue (db.max-queue).
    constexpr std::size_t kChunk = 32;
    std::vector<domain::DeadLetter> rows(letters.size());  // the recorder's coroutines refer to them
    for (std::size_t first = 0; first < letters.size(); first += kChunk) {
      const std::size_t last = std::min(letters.size(), first + kChunk);
      std::vector<std::future<void>> recorded;
      for (std::size_t i = first; i < last; ++i) {
        const auto& [message, error] = letters[i];
        auto& row = rows[i];
        row.topic = message->topic;
        row.partition = message->partition;
        row.offset = message->offset;
        if (!message->key.empty()) row.key = message->key;
        row.payload = message->value;
        row.error = error;
        recorded.push_back(boost::asio::co_spawn(context_, recorder_(row), boost::asio::use_future));
      }
      for (std::size_t i = first; i < last; ++i) {
        try {
          recorded[i - first].get();
        } catch (const std::exception& failure) {
          // The DLQ topic still has it; the console just will not list it.
          spdlog::warn("payment.completed {}/{}: dead letter not recorded in the database: {}",
                       letters[i].message->partition, letters[i].message->offset, failure.what());
        }
      }
    }
  }
  std::vector<OutgoingMessage> copies;
  copies.reserve(letters.size());
  for (const auto& [message, error] : letters) {
    copies.push_back(OutgoingMessage{settings_.topics.payment_completed_dlq,
                                     message->key,
                                     message->value,
                                     {{"error", error},
                                      {"original-topic", message->topic},
                                      {"original-partition", std::to_string(message->partition)},
                                      {"original-offset", std::to_string(message->offset)}}});
  }
  // Each send waits up to 10 s for its delivery reports; a chunk at a time, so a flood of large
  // messages is not judged against one deadline (and all sent again as "outcome unknown").
  const auto send = [this](const std::vector<OutgoingMessage>& messages) {
    constexpr std::size_t kChunk = 32;
    std::vector<DeliveryResult> results;
    results.reserve(messages.size());
    for (std::size_t first = 0; first < messages.size(); first += kChunk) {
      const std::vector<OutgoingMessage> chunk(
          messages.begin() + static_cast<std::ptrdiff_t>(first),
          messages.begin() + static_cast<std::ptrdiff_t>(std::min(messages.size(), first + kChunk)));
      for (auto& result : dlq_producer_.produce_and_wait(chunk, std::chrono::seconds(10))) {
        results.push_back(std::move(result));
      }
    }
    return results;
  };
  auto sent = send(copies);
  // Too large for the DLQ topic (the payment topic took it, the copy has headers too): no attempt
  // can ever send it whole, and the consumer must move on. Its beginning goes to the topic, marked
  // (a long key is cut too); the database row above keeps the payload and key whole.
  std::vector<std::size_t> too_large;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    if (sent[i].delivered || !sent[i].too_large) continue;
    auto& copy = copies[i];
    const auto size = copy.value.size();
    copy.value.resize(std::min(size, kDeadLetterTruncatedBytes));
    copy.headers.emplace_back("truncated-from-bytes", std::to_string(size));
    if (copy.key.size() > kDeadLetterTruncatedKeyBytes) {
      copy.headers.emplace_back("truncated-key-from-bytes", std::to_string(copy.key.size()));
      copy.key.resize(kDeadLetterTruncatedKeyBytes);
    }
    spdlog::warn("payment.completed {}/{}: {} bytes too large for the DLQ ({}); sending its first {} bytes",
                 letters[i].message->partition, letters[i].message->offset, size, sent[i].error, copy.value.size());
    too_large.push_back(i);
  }
  if (!too_large.empty()) {
    std::vector<OutgoingMessage> truncated;
    for (const auto i : too_large) truncated.push_back(copies[i]);
    const auto again = send(truncated);
    for (std::size_t k = 0; k < too_large.size(); ++k) sent[too_large[k]] = again[k];
  }
  std::vector<const IncomingMessage*> unsent;
  for (std::size_t i = 0; i < letters.size(); ++i) {
    const auto& [message, error] = letters[i];
    if (!sent[i].delivered) {
      spdlog::warn("payment.completed {}/{}: DLQ send failed ({}); the message is retried", message->partition,
                   message->offset, sent[i].error);
      unsent.push_back(message);
      continue;
    }
    counters_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("payment.completed {}/{} sent to the DLQ: {}", message->partition, message->offset, error);
  }
  return unsent;
}

void ConfirmationConsumer::retry_or_dead_letter(const IncomingMessage* message, const char* failure, Attempts& attempts,
                                                std::vector<const IncomingMessage*>& retry,
                                                std::vector<Letter>& letters) {
  counters_.retries.fetch_add(1, std::memory_order_relaxed);
  const int tried = ++attempts[{message->partition, message->offset}];
  if (tried >= settings_.max_attempts) {
    letters.push_back({message, "failed " + std::to_string(tried) + " times: " + failure});
  } else {
    retry.push_back(message);
  }
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
  Attempts attempts;
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
      std::vector<Letter> letters;  // dead-lettered together at the end of the round
      for (const auto* message : pending) {
        std::string error;
        auto event = events::decode_payment_completed(message->value, error);
        if (!event) {
          letters.push_back({message, "unparsable: " + error});
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
        } catch (const domain::DomainError& refused) {
          if (refused.code() == domain::ErrorCode::kUndecodableEvent) {
            // Never settleable, however often it is tried (an unknown order, an event that does not
            // match its order): dead-lettered at once.
            letters.push_back({message, std::string("refused: ") + refused.what()});
          } else {
            retry_or_dead_letter(message, refused.what(), attempts, retry, letters);
          }
        } catch (const std::exception& failure) {
          retry_or_dead_letter(message, failure.what(), attempts, retry, letters);
        }
      }
      for (const auto* message : dead_letter(letters)) retry.push_back(message);
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
