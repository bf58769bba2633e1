#pragma once
// Connection settings shared by every Kafka client of the service (health probe, producer,
// consumers, topic admin).
#include <string>

namespace ticketing::infra::kafka {

struct KafkaOptions {
  std::string bootstrap_servers = "127.0.0.1:19092";
  std::string client_id = "ticketing";
};

}  // namespace ticketing::infra::kafka
