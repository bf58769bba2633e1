#include "infra/observability/metrics.hpp"

#include <dirent.h>
#include <prometheus/collectable.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace ticketing::infra::observability {

namespace {

const prometheus::Histogram::BucketBoundaries kHttpBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,    0.25,  0.5,    1,     2.5,  5,     10};

// Runs every sampler at collect time.
class SamplerCollectable final : public prometheus::Collectable {
 public:
  void add(Sampler sampler) {
    std::lock_guard lock(mutex_);
    samplers_.push_back(std::move(sampler));
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    SampleWriter writer(families);
    std::lock_guard lock(mutex_);
    for (const auto& sampler : samplers_) sampler(writer);
    return families;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Sampler> samplers_;
};

double seconds_since_boot_to_epoch() {
  // btime from /proc/stat: boot time in seconds since the epoch.
  std::ifstream stat("/proc/stat");
  std::string key;
  double value = 0;
  while (stat >> key) {
    if (key == "btime") {
      stat >> value;
      return value;
    }
    stat.ignore(4096, '\n');
  }
  return 0;
}

// Label values must come from a fixed set: a method outside it (any token is a valid HTTP method)
// is recorded as OTHER, so a client cannot create series at will.
std::string_view bounded_method(std::string_view method) {
  for (const std::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "OTHER";
}

}  // namespace

void SampleWriter::add(std::string name, std::string help, int type, const Labels& labels, double value) {
  prometheus::MetricFamily* family = nullptr;
  for (auto& existing : out_) {
    if (existing.name == name) family = &existing;
  }
  if (family == nullptr) {
    out_.push_back(
        prometheus::MetricFamily{std::move(name), std::move(help), static_cast<prometheus::MetricType>(type), {}});
    family = &out_.back();
  }
  prometheus::ClientMetric metric;
  for (const auto& [label, label_value] : labels) metric.label.push_back({label, label_value});
  if (family->type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family->metric.push_back(std::move(metric));
}

void SampleWriter::counter(std::string name, std::string help, double value, const Labels& labels) {
  add(std::move(name), std::move(help), static_cast<int>(prometheus::MetricType::Counter), labels, value);
}

void SampleWriter::gauge(std::string name, std::string help, double value, const Labels& labels) {
  add(std::move(name), std::move(help), static_cast<int>(prometheus::MetricType::Gauge), labels, value);
}

void SampleWriter::histogram(std::string name, std::string help,
                             const std::vector<std::pair<double, std::uint64_t>>& buckets, std::uint64_t count,
                             double sum, const Labels& labels) {
  prometheus::MetricFamily* family = nullptr;
  for (auto& existing : out_) {
    if (existing.name == name) family = &existing;
  }
  if (family == nullptr) {
    out_.push_back(prometheus::MetricFamily{std::move(name), std::move(help), prometheus::MetricType::Histogram, {}});
    family = &out_.back();
  }
  prometheus::ClientMetric metric;
  for (const auto& [label, label_value] : labels) metric.label.push_back({label, label_value});
  metric.histogram.sample_count = count;
  metric.histogram.sample_sum = sum;
  for (const auto& [bound, cumulative] : buckets) metric.histogram.bucket.push_back({cumulative, bound});
  metric.histogram.bucket.push_back({count, std::numeric_limits<double>::infinity()});
  family->metric.push_back(std::move(metric));
}

struct Metrics::Impl {
  prometheus::Registry registry;
  prometheus::Family<prometheus::Histogram>& http = prometheus::BuildHistogram()
                                                        .Name("http_server_requests_seconds")
                                                        .Help("HTTP requests by method, route template and status")
                                                        .Register(registry);
  std::shared_ptr<SamplerCollectable> samplers = std::make_shared<SamplerCollectable>();
  std::mutex series_mutex;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::observe_request(std::string_view method, std::string_view route, int status,
                              std::chrono::nanoseconds elapsed) {
  // A series is looked up in the shared family (a lock and a label map) once per thread; after that
  // it is one hash lookup. Keys are bounded: methods × route templates × statuses.
  struct Cache {
    const Metrics* owner = nullptr;
    std::unordered_map<std::string, prometheus::Histogram*> series;
  };
  thread_local Cache cache;
  if (cache.owner != this) cache = Cache{this, {}};
  method = bounded_method(method);
  std::string key;
  key.reserve(method.size() + route.size() + 6);
  key.append(method).push_back(' ');
  key.append(route).push_back(' ');
  key.append(std::to_string(status));
  auto it = cache.series.find(key);
  if (it == cache.series.end()) {
    std::lock_guard lock(impl_->series_mutex);
    auto& histogram = impl_->http.Add(
        {{"method", std::string(method)}, {"uri", std::string(route)}, {"status", std::to_string(status)}},
        kHttpBuckets);
    it = cache.series.emplace(std::move(key), &histogram).first;
  }
  it->second->Observe(std::chrono::duration<double>(elapsed).count());
}

void Metrics::add_sampler(Sampler sampler) {
  impl_->samplers->add(std::move(sampler));
}

std::string Metrics::scrape() const {
  auto families = impl_->registry.Collect();
  auto sampled = impl_->samplers->Collect();
  families.insert(families.end(), std::make_move_iterator(sampled.begin()), std::make_move_iterator(sampled.end()));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

void sample_process(SampleWriter& out) {
  static const long ticks_per_second = sysconf(_SC_CLK_TCK);
  static const long page_size = sysconf(_SC_PAGESIZE);
  std::ifstream stat_file("/proc/self/stat");
  std::string stat;
  std::getline(stat_file, stat);
  // Fields after the command name (which may hold spaces) start after the last ')'. Nothing read
  // (out of descriptors, EMFILE: exactly when an operator needs the accept metrics): skip these.
  const auto close = stat.rfind(')');
  std::istringstream fields(close == std::string::npos || close + 2 > stat.size() ? std::string()
                                                                                  : stat.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>()};
  if (f.size() > 22) {
    // f[0] is field 3 (state): utime = field 14, stime 15, starttime 22, vsize 23, rss 24.
    const double cpu = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(ticks_per_second);
    const double start = seconds_since_boot_to_epoch() + std::stod(f[19]) / static_cast<double>(ticks_per_second);
    out.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", cpu);
    out.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", start);
    out.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", std::stod(f[20]));
    out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              std::stod(f[21]) * static_cast<double>(page_size));
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    int open_fds = 0;
    while (readdir(dir) != nullptr) ++open_fds;
    closedir(dir);
    open_fds -= 3;  // ".", ".." and the directory's own descriptor
    out.gauge("process_open_fds", "Number of open file descriptors.", open_fds);
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.gauge("process_max_fds", "Maximum number of open file descriptors.", static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace ticketing::infra::observability
