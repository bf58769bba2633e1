#pragma once
// Prometheus metrics (DESIGN.md §8), exposed as text by GET /actuator/prometheus.
//
// The per-request HTTP histogram `http_server_requests_seconds{method,uri,status}` (Spring's name;
// `uri` is the route template, so cardinality is bounded) is recorded on the hot path through a
// per-thread cache of series. Everything else — process, DB pool, Redis, Kafka, domain counters —
// is read at scrape time from the counters the components already keep, by `Sampler`s, so
// collecting costs nothing between scrapes.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prometheus {
class Registry;
struct MetricFamily;
}  // namespace prometheus

namespace ticketing::infra::observability {

// Builds metric families at scrape time.
class SampleWriter {
 public:
  explicit SampleWriter(std::vector<prometheus::MetricFamily>& out) : out_(out) {}
  using Labels = std::vector<std::pair<std::string, std::string>>;
  void counter(std::string name, std::string help, double value, const Labels& labels = {});
  void gauge(std::string name, std::string help, double value, const Labels& labels = {});
  // Cumulative bucket counts (upper bound → count of samples ≤ bound), total count and sum.
  void histogram(std::string name, std::string help, const std::vector<std::pair<double, std::uint64_t>>& buckets,
                 std::uint64_t count, double sum, const Labels& labels = {});

 private:
  void add(std::string name, std::string help, int type, const Labels& labels, double value);
  std::vector<prometheus::MetricFamily>& out_;
};

using Sampler = std::function<void(SampleWriter&)>;

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Thread-safe and cheap (no lock after the first request of a series on a thread). `method` is
  // recorded as OTHER unless it is GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS; `route` must be
  // a route template or UNKNOWN (the dispatcher's DispatchResult::route), never a raw path.
  void observe_request(std::string_view method, std::string_view route, int status, std::chrono::nanoseconds elapsed);
  void add_sampler(Sampler sampler);
  // The Prometheus text exposition format (version 0.0.4).
  std::string scrape() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds — from /proc/self.
void sample_process(SampleWriter& out);

}  // namespace ticketing::infra::observability
