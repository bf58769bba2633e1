#include "infra/kafka/kafka_topics.hpp"

#include <dlfcn.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "domain/errors.hpp"
#include "infra/kafka/kafka_error.hpp"
#include "infra/kafka/kafka_log.hpp"

namespace ticketing::infra::kafka {

std::vector<TopicSpec> service_topics() {
  return {{kPaymentCompletedTopic, 6}, {kPaymentCompletedDlqTopic, 1}, {kPaymentRefundRequestedTopic, 3}};
}

namespace {

using Clock = std::chrono::steady_clock;

// The admin calls below are librdkafka C API functions. Our link line only names librdkafka++
// (CMake's pkg-config module for rdkafka++ leaves the C library in Requires.private), so calling
// them directly fails to link ("DSO missing from command line"). librdkafka.so.1 is always loaded
// as a dependency of librdkafka++, so the functions are looked up there at run time, with the
// declared types from <librdkafka/rdkafka.h>. If `rdkafka` is ever added to the link, this table
// can be replaced by direct calls.
template <typename Function>
Function resolve(const char* name) {
  void* symbol = ::dlsym(RTLD_DEFAULT, name);
  if (symbol == nullptr) throw KafkaError(RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED, std::string("librdkafka: no ") + name);
  return reinterpret_cast<Function>(symbol);
}
#define TICKETING_RDKAFKA_C(name) decltype(&::name) name = resolve<decltype(&::name)>(#name)
struct CApi {
  TICKETING_RDKAFKA_C(rd_kafka_NewTopic_new);
  TICKETING_RDKAFKA_C(rd_kafka_NewTopic_destroy_array);
  TICKETING_RDKAFKA_C(rd_kafka_NewTopic_set_config);
  TICKETING_RDKAFKA_C(rd_kafka_AdminOptions_new);
  TICKETING_RDKAFKA_C(rd_kafka_AdminOptions_destroy);
  TICKETING_RDKAFKA_C(rd_kafka_AdminOptions_set_request_timeout);
  TICKETING_RDKAFKA_C(rd_kafka_AdminOptions_set_operation_timeout);
  TICKETING_RDKAFKA_C(rd_kafka_queue_new);
  TICKETING_RDKAFKA_C(rd_kafka_queue_destroy);
  TICKETING_RDKAFKA_C(rd_kafka_queue_poll);
  TICKETING_RDKAFKA_C(rd_kafka_CreateTopics);
  TICKETING_RDKAFKA_C(rd_kafka_event_destroy);
  TICKETING_RDKAFKA_C(rd_kafka_event_error);
  TICKETING_RDKAFKA_C(rd_kafka_event_error_string);
  TICKETING_RDKAFKA_C(rd_kafka_event_CreateTopics_result);
  TICKETING_RDKAFKA_C(rd_kafka_CreateTopics_result_topics);
  TICKETING_RDKAFKA_C(rd_kafka_topic_result_error);
  TICKETING_RDKAFKA_C(rd_kafka_topic_result_error_string);
  TICKETING_RDKAFKA_C(rd_kafka_topic_result_name);
};
#undef TICKETING_RDKAFKA_C

const CApi& c_api() {
  static const CApi api;
  return api;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<std::int64_t>(0, left));
}

// A producer handle used only for admin and metadata requests.
struct AdminClient {
  std::unique_ptr<RateLimitedEventLogger> logger;
  std::unique_ptr<RdKafka::Producer> handle;
};

AdminClient make_admin_client(const KafkaOptions& options) {
  AdminClient client{std::make_unique<RateLimitedEventLogger>("admin " + options.client_id), nullptr};
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set_conf(*conf, "bootstrap.servers", options.bootstrap_servers);
  set_conf(*conf, "client.id", options.client_id + "-admin");
  set_conf(*conf, "reconnect.backoff.max.ms", "1000");
  set_conf(*conf, "log_level", "4");
  set_conf(*conf, "event_cb", client.logger.get());
  std::string error;
  client.handle.reset(RdKafka::Producer::create(conf.get(), error));
  if (!client.handle) throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, "kafka admin client: " + error);
  return client;
}

template <typename T, auto Destroy>
struct CDeleter {
  void operator()(T* object) const { (c_api().*Destroy)(object); }
};
using NewTopicsOptions =
    std::unique_ptr<rd_kafka_AdminOptions_t, CDeleter<rd_kafka_AdminOptions_t, &CApi::rd_kafka_AdminOptions_destroy>>;
using Queue = std::unique_ptr<rd_kafka_queue_t, CDeleter<rd_kafka_queue_t, &CApi::rd_kafka_queue_destroy>>;
using Event = std::unique_ptr<rd_kafka_event_t, CDeleter<rd_kafka_event_t, &CApi::rd_kafka_event_destroy>>;

std::string err2str(int code) {
  return RdKafka::err2str(static_cast<RdKafka::ErrorCode>(code));
}

[[noreturn]] void unavailable(const std::string& detail) {
  throw domain::DependencyUnavailable("kafka", detail);
}

// Sends CreateTopics for all specs; returns normally when each was created or already existed.
void create_topics(RdKafka::Producer& client, const std::vector<TopicSpec>& topics, Clock::time_point deadline,
                   std::chrono::milliseconds timeout) {
  const CApi& api = c_api();
  rd_kafka_t* handle = client.c_ptr();
  std::vector<rd_kafka_NewTopic_t*> requests;
  struct NewTopicsGuard {
    std::vector<rd_kafka_NewTopic_t*>& items;
    ~NewTopicsGuard() { c_api().rd_kafka_NewTopic_destroy_array(items.data(), items.size()); }
  } guard{requests};
  char error[512];
  for (const auto& spec : topics) {
    rd_kafka_NewTopic_t* request =
        api.rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, -1, error, sizeof error);
    if (request == nullptr) {
      throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, "kafka topic " + spec.name + ": " + error);
    }
    requests.push_back(request);
    for (const auto& [name, value] : spec.configs) {
      if (api.rd_kafka_NewTopic_set_config(request, name.c_str(), value.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, "kafka topic " + spec.name + ": bad setting " + name);
      }
    }
  }

  NewTopicsOptions admin_options(api.rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  const int budget = std::max(1, remaining_ms(deadline));
  if (api.rd_kafka_AdminOptions_set_request_timeout(admin_options.get(), budget, error, sizeof error) != 0 ||
      api.rd_kafka_AdminOptions_set_operation_timeout(admin_options.get(), budget, error, sizeof error) != 0) {
    throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, std::string("kafka admin options: ") + error);
  }
  Queue queue(api.rd_kafka_queue_new(handle));
  api.rd_kafka_CreateTopics(handle, requests.data(), requests.size(), admin_options.get(), queue.get());

  // The request times out by itself after `budget`; the extra second is slack for the reply.
  Event event(api.rd_kafka_queue_poll(queue.get(), budget + 1000));
  if (!event) unavailable("no reply to CreateTopics within " + std::to_string(timeout.count()) + " ms");
  if (const rd_kafka_resp_err_t code = api.rd_kafka_event_error(event.get()); code != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const std::string text = api.rd_kafka_event_error_string(event.get());
    if (code == RD_KAFKA_RESP_ERR__TIMED_OUT || code == RD_KAFKA_RESP_ERR__TRANSPORT ||
        code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      unavailable("creating topics within " + std::to_string(timeout.count()) + " ms: " + text);
    }
    throw KafkaError(code, "kafka CreateTopics failed: " + text);
  }
  const rd_kafka_CreateTopics_result_t* result = api.rd_kafka_event_CreateTopics_result(event.get());
  std::size_t count = 0;
  const rd_kafka_topic_result_t** results = api.rd_kafka_CreateTopics_result_topics(result, &count);
  std::vector<std::string> failures;
  int first_code = 0;
  bool timed_out = false;
  for (std::size_t i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t code = api.rd_kafka_topic_result_error(results[i]);
    const std::string name = api.rd_kafka_topic_result_name(results[i]);
    if (code == RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::info("kafka: created topic {}", name);
      continue;
    }
    if (code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
    if (code == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT || code == RD_KAFKA_RESP_ERR__TIMED_OUT) timed_out = true;
    if (first_code == 0) first_code = code;
    const char* text = api.rd_kafka_topic_result_error_string(results[i]);
    failures.push_back(name + ": " + (text != nullptr ? text : err2str(code)));
  }
  if (failures.empty()) return;
  if (timed_out) unavailable("creating topics: " + join(failures));
  throw KafkaError(first_code, "kafka CreateTopics failed: " + join(failures));
}

// Waits until every topic is in the metadata with a leader for each partition. Warns once per
// topic whose partition count differs from the spec.
void wait_until_ready(RdKafka::Producer& client, const std::vector<TopicSpec>& topics, Clock::time_point deadline,
                      std::chrono::milliseconds timeout) {
  std::set<std::string> warned;
  std::vector<std::string> missing;
  for (;;) {
    missing.clear();
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode code = client.metadata(true, nullptr, &raw, std::max(1, remaining_ms(deadline)));
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (code != RdKafka::ERR_NO_ERROR || !metadata) {
      missing.push_back("metadata request failed: " + RdKafka::err2str(code));
    } else {
      std::map<std::string, const RdKafka::TopicMetadata*> by_name;
      for (const RdKafka::TopicMetadata* topic : *metadata->topics()) by_name[topic->topic()] = topic;
      for (const auto& spec : topics) {
        const auto it = by_name.find(spec.name);
        if (it == by_name.end() || it->second->err() != RdKafka::ERR_NO_ERROR || it->second->partitions()->empty()) {
          missing.push_back(spec.name + " not in metadata yet");
          continue;
        }
        const auto& partitions = *it->second->partitions();
        if (static_cast<int>(partitions.size()) != spec.partitions && warned.insert(spec.name).second) {
          spdlog::warn("kafka: topic {} has {} partitions, expected {}; leaving it as it is", spec.name,
                       partitions.size(), spec.partitions);
        }
        for (const RdKafka::PartitionMetadata* partition : partitions) {
          if (partition->leader() < 0 || partition->err() != RdKafka::ERR_NO_ERROR) {
            missing.push_back(spec.name + "[" + std::to_string(partition->id()) + "] has no leader yet");
            break;
          }
        }
      }
    }
    if (missing.empty()) return;
    if (Clock::now() >= deadline) {
      unavailable("topics not ready within " + std::to_string(timeout.count()) + " ms: " + join(missing));
    }
    // Short pause between metadata requests, bounded by the deadline.
    client.poll(std::min(50, remaining_ms(deadline)));
  }
}

}  // namespace

void ensure_topics(const KafkaOptions& options, const std::vector<TopicSpec>& topics,
                   std::chrono::milliseconds timeout) {
  if (topics.empty()) return;
  const auto deadline = Clock::now() + timeout;
  const AdminClient client = make_admin_client(options);
  create_topics(*client.handle, topics, deadline, timeout);
  wait_until_ready(*client.handle, topics, deadline, timeout);
}

}  // namespace ticketing::infra::kafka
