#pragma once
#include <stdexcept>
#include <string>

namespace ticketing::infra::kafka {

// A Kafka operation failed. `code` is the librdkafka error code (rd_kafka_resp_err_t /
// RdKafka::ErrorCode as int; negative values are client-local errors such as -185 timed out).
class KafkaError : public std::runtime_error {
 public:
  KafkaError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

}  // namespace ticketing::infra::kafka
