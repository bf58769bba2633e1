#include "infra/kafka/kafka_health_probe.hpp"

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>

#include <stdexcept>

#include "infra/kafka/kafka_log.hpp"
#include "infra/kafka/recovering_producer.hpp"

namespace ticketing::infra::kafka {

KafkaHealthProbe::KafkaHealthProbe(const KafkaOptions& options, BlockingExecutor& blocking,
                                   RecoveringProducer* producer, std::chrono::milliseconds timeout)
    : logger_(std::make_unique<RateLimitedEventLogger>("health probe " + options.client_id)),
      blocking_(blocking),
      watched_(producer),
      timeout_(timeout) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  if (conf->set("bootstrap.servers", options.bootstrap_servers, error) != RdKafka::Conf::CONF_OK ||
      conf->set("client.id", options.client_id + "-health", error) != RdKafka::Conf::CONF_OK ||
      // A dead broker must not flood the log with reconnect messages every few ms.
      conf->set("reconnect.backoff.max.ms", "2000", error) != RdKafka::Conf::CONF_OK ||
      conf->set("log_level", "3", error) != RdKafka::Conf::CONF_OK) {
    throw std::runtime_error("kafka configuration: " + error);
  }
  // Without a callback librdkafka prints its own lines to stderr, outside the service's log.
  set_conf(*conf, "event_cb", logger_.get());
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!producer_) throw std::runtime_error("kafka client: " + error);
}

KafkaHealthProbe::~KafkaHealthProbe() = default;

Task<domain::ProbeResult> KafkaHealthProbe::probe() {
  auto work = [this]() -> domain::ProbeResult {
    producer_->poll(0);  // serves the error events queued for the logger (a handle that never polls keeps them)
    RdKafka::Metadata* metadata = nullptr;
    const RdKafka::ErrorCode code = producer_->metadata(false, nullptr, &metadata, static_cast<int>(timeout_.count()));
    std::unique_ptr<RdKafka::Metadata> owned(metadata);
    if (code != RdKafka::ERR_NO_ERROR) return {false, "metadata request failed: " + RdKafka::err2str(code)};
    if (!owned || owned->brokers()->empty()) return {false, "no brokers in metadata"};
    if (watched_ != nullptr) {
      const auto producer = watched_->status();
      if (producer.fatal) {
        // Our own words (the client sees them); librdkafka's reason is in the log.
        return {domain::HealthStatus::kDegraded,
                fmt::format("the producer hit a fatal error; events wait in the outbox until it is rebuilt "
                            "(attempt {} in {} ms)",
                            producer.attempt, producer.rebuild_in.count())};
      }
    }
    return {true, ""};
  };
  co_return co_await blocking_.run(work);
}

}  // namespace ticketing::infra::kafka
