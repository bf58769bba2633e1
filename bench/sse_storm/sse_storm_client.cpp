// bench/sse-storm's load generator (bench/README.md, docs/live-seat-map.md): N concurrent
// Server-Sent Events clients of GET /schedules/{id}/seats/stream on one epoll loop, while a
// publisher thread makes ~R seat changes per second through the same Lua script every instance
// publishes with (infra/live/SeatChangePublisher). Measures, per (client, version), the delay from
// the change (just before its script call) to the delta's arrival at that client, and at the end
// checks every client's map against the truth (snapshot + every change made): "lost deltas".
//
//   sse_storm_client --port P --schedule 2 --clients 10000 --rate 500 --duration 30
//                    --redis-port 16379 --redis-db 7 [--server-pid PID] [--batch 500]
// Prints one `BENCH k=v ...` line (and progress on stderr).
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "infra/live/seat_change_publisher.hpp"
#include "infra/live/seat_stream_protocol.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 18084;
  std::int64_t schedule = 2;
  int clients = 10000;
  int rate = 500;
  int duration = 30;
  int redis_port = 16379;
  int redis_db = 7;
  int server_pid = 0;
  int batch = 500;
};

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

// Seat numbers of the schedule, in layout order (from the first snapshot), and their indexes.
std::vector<std::string> g_seats;
std::unordered_map<std::string_view, int> g_index;  // keys point into g_seats (built once, never grown)

// Publisher → clients: the time each change was made, by change number (version - base - 1).
std::vector<std::atomic<std::int64_t>>* g_published_at = nullptr;
std::int64_t g_base_version = 0;

// Delay histogram, 0.1 ms buckets up to 20 s.
constexpr int kBuckets = 200000;
std::vector<std::uint64_t> g_histogram(kBuckets + 1);
std::uint64_t g_samples = 0;
std::int64_t g_max_delay_us = 0;

void record_delay(std::int64_t us) {
  const auto bucket = std::clamp<std::int64_t>(us / 100, 0, kBuckets);
  ++g_histogram[static_cast<std::size_t>(bucket)];
  ++g_samples;
  g_max_delay_us = std::max(g_max_delay_us, us);
}

double own_cpu_s() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double percentile_ms(double p) {
  const auto want = static_cast<std::uint64_t>(p * static_cast<double>(g_samples));
  std::uint64_t seen = 0;
  for (int i = 0; i <= kBuckets; ++i) {
    seen += g_histogram[static_cast<std::size_t>(i)];
    if (seen > want) return (i + 1) * 0.1;
  }
  return kBuckets * 0.1;
}

struct Client {
  int fd = -1;
  std::string buffer;
  bool header_done = false;
  bool snapshot = false;
  bool closed = false;
  std::int64_t version = -1;
  std::vector<char> statuses;
  std::uint64_t deltas = 0;
  std::uint64_t snapshots = 0;
};

// Every client gets the same bytes for one event id: each snapshot and delta is parsed once, and
// the parsed form is applied to every client (the client's own CPU must not be what is measured).
std::unordered_map<std::int64_t, std::vector<char>> g_snapshots;
std::unordered_map<std::int64_t, std::vector<std::pair<int, char>>> g_deltas;

constexpr std::string_view kSeatKey = R"("seatNo":")";
constexpr std::string_view kStatusKey = R"("status":")";

const std::vector<char>& parsed_snapshot(std::int64_t id, std::string_view data) {
  auto [it, inserted] = g_snapshots.try_emplace(id);
  if (!inserted) return it->second;
  const bool define = g_seats.empty();
  std::size_t pos = 0;
  while ((pos = data.find(kSeatKey, pos)) != std::string_view::npos) {
    pos += kSeatKey.size();
    const auto end = data.find('"', pos);
    if (define) g_seats.emplace_back(data.substr(pos, end - pos));
    pos = data.find(kStatusKey, end) + kStatusKey.size();
    it->second.push_back(data[pos]);
  }
  if (define) {
    for (std::size_t i = 0; i < g_seats.size(); ++i) g_index.emplace(g_seats[i], static_cast<int>(i));
  }
  return it->second;
}

const std::vector<std::pair<int, char>>& parsed_delta(std::int64_t id, std::string_view data) {
  auto [it, inserted] = g_deltas.try_emplace(id);
  if (!inserted) return it->second;
  std::size_t pos = 0;
  while ((pos = data.find(kSeatKey, pos)) != std::string_view::npos) {
    pos += kSeatKey.size();
    const auto end = data.find('"', pos);
    const auto seat = g_index.find(data.substr(pos, end - pos));
    pos = data.find(kStatusKey, end) + kStatusKey.size();
    if (seat != g_index.end()) it->second.emplace_back(seat->second, data[pos]);
  }
  if (g_deltas.size() > 4096) {  // keep the recent ones only
    for (auto d = g_deltas.begin(); d != g_deltas.end();) d = d->first < id - 2048 ? g_deltas.erase(d) : std::next(d);
  }
  return it->second;
}

void apply_snapshot(Client& c, std::int64_t id, std::string_view data) {
  c.statuses = parsed_snapshot(id, data);
  ++c.snapshots;
}

void apply_delta(Client& c, std::string_view data, std::int64_t id, std::int64_t arrived_us) {
  for (const auto& [seat, status] : parsed_delta(id, data)) {
    if (static_cast<std::size_t>(seat) < c.statuses.size()) c.statuses[static_cast<std::size_t>(seat)] = status;
  }
  // Each version this event covers: from the change to now.
  for (std::int64_t v = std::max(c.version + 1, g_base_version + 1); v <= id; ++v) {
    const auto k = v - g_base_version - 1;
    if (g_published_at == nullptr || k < 0 || k >= static_cast<std::int64_t>(g_published_at->size())) continue;
    const auto at = (*g_published_at)[static_cast<std::size_t>(k)].load(std::memory_order_acquire);
    if (at > 0) record_delay(arrived_us - at);
  }
  ++c.deltas;
}

// Consumes complete events from the client's buffer.
void parse(Client& c) {
  if (!c.header_done) {
    const auto end = c.buffer.find("\r\n\r\n");
    if (end == std::string::npos) return;
    if (c.buffer.compare(0, 12, "HTTP/1.1 200") != 0) {
      std::fprintf(stderr, "unexpected answer: %.200s\n", c.buffer.c_str());
      c.closed = true;
      return;
    }
    c.header_done = true;
    c.buffer.erase(0, end + 4);
  }
  std::size_t start = 0;
  const auto arrived = now_us();
  while (true) {
    const auto end = c.buffer.find("\n\n", start);
    if (end == std::string::npos) break;
    const std::string_view block(c.buffer.data() + start, end - start);
    start = end + 2;
    std::string_view event;
    std::string_view data;
    std::int64_t id = -1;
    std::size_t pos = 0;
    while (pos < block.size()) {
      auto eol = block.find('\n', pos);
      if (eol == std::string_view::npos) eol = block.size();
      const auto line = block.substr(pos, eol - pos);
      pos = eol + 1;
      if (line.starts_with("id: ")) std::from_chars(line.data() + 4, line.data() + line.size(), id);
      if (line.starts_with("event: ")) event = line.substr(7);
      if (line.starts_with("data: ")) data = line.substr(6);
    }
    if (event == "snapshot") {
      apply_snapshot(c, id, data);
      c.snapshot = true;
      c.version = id;
    } else if (event == "delta") {
      apply_delta(c, data, id, arrived);
      c.version = id;
    }
  }
  c.buffer.erase(0, start);
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  return fd;
}

std::int64_t proc_ticks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  std::int64_t utime = 0;
  std::int64_t stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return utime + stime;
}

long rss_kib(int pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + std::strlen(key), nullptr, 10);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const long value = std::strtol(argv[i + 1], nullptr, 10);
    if (key == "--port")
      o.port = static_cast<int>(value);
    else if (key == "--schedule")
      o.schedule = value;
    else if (key == "--clients")
      o.clients = static_cast<int>(value);
    else if (key == "--rate")
      o.rate = static_cast<int>(value);
    else if (key == "--duration")
      o.duration = static_cast<int>(value);
    else if (key == "--redis-port")
      o.redis_port = static_cast<int>(value);
    else if (key == "--redis-db")
      o.redis_db = static_cast<int>(value);
    else if (key == "--server-pid")
      o.server_pid = static_cast<int>(value);
    else if (key == "--batch")
      o.batch = static_cast<int>(value);
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }

  const int epoll = epoll_create1(0);
  std::vector<Client> clients(static_cast<std::size_t>(o.clients));
  std::vector<char> read_buffer(1 << 20);
  const std::string request = "GET /schedules/" + std::to_string(o.schedule) +
                              "/seats/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

  auto pump = [&](int timeout_ms) {
    epoll_event events[512];
    const int n = epoll_wait(epoll, events, 512, timeout_ms);
    for (int i = 0; i < n; ++i) {
      Client& c = clients[events[i].data.u32];
      if (c.closed) continue;
      if (events[i].events & EPOLLOUT) {
        if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
          c.closed = true;
          continue;
        }
        epoll_event in{EPOLLIN, {}};
        in.data.u32 = events[i].data.u32;
        epoll_ctl(epoll, EPOLL_CTL_MOD, c.fd, &in);
        continue;
      }
      while (true) {
        const ssize_t got = ::recv(c.fd, read_buffer.data(), read_buffer.size(), 0);
        if (got > 0) {
          c.buffer.append(read_buffer.data(), static_cast<std::size_t>(got));
          continue;
        }
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) c.closed = true;
        break;
      }
      parse(c);
    }
  };

  // 1. Connect in batches; each batch waits for its snapshots (bounds the memory of partial ones).
  const auto connect_started = Clock::now();
  int connected = 0;
  for (int first = 0; first < o.clients; first += o.batch) {
    const int last = std::min(o.clients, first + o.batch);
    for (int i = first; i < last; ++i) {
      Client& c = clients[static_cast<std::size_t>(i)];
      c.fd = connect_to(o.port);
      epoll_event out{EPOLLOUT, {}};
      out.data.u32 = static_cast<std::uint32_t>(i);
      epoll_ctl(epoll, EPOLL_CTL_ADD, c.fd, &out);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      bool all = true;
      for (int i = first; i < last; ++i) {
        const Client& c = clients[static_cast<std::size_t>(i)];
        if (!c.snapshot && !c.closed) all = false;
      }
      if (all) break;
      pump(50);
    }
    for (int i = first; i < last; ++i) connected += clients[static_cast<std::size_t>(i)].snapshot ? 1 : 0;
  }
  const double connect_s = std::chrono::duration<double>(Clock::now() - connect_started).count();
  std::fprintf(stderr, "connected %d of %d streams in %.1f s (seats: %zu)\n", connected, o.clients, connect_s,
               g_seats.size());
  if (connected == 0 || g_seats.empty()) {
    std::printf("BENCH clients=%d connected=0 error=no-streams\n", o.clients);
    return 1;
  }
  // Truth: the first client's snapshot, at its version.
  std::vector<char> truth = clients[0].statuses;
  g_base_version = clients[0].version;
  for (const auto& c : clients) {
    if (c.snapshot && c.version != g_base_version) {
      std::fprintf(stderr, "warning: snapshots at different versions (%lld vs %lld): something else changes seats\n",
                   static_cast<long long>(c.version), static_cast<long long>(g_base_version));
      break;
    }
  }

  // 2. The publisher: rate changes/s for duration s, each a random seat to a random status.
  const auto total = static_cast<std::size_t>(o.rate) * static_cast<std::size_t>(o.duration);
  std::vector<std::atomic<std::int64_t>> published_at(total);
  g_published_at = &published_at;
  std::atomic<bool> publishing{true};
  std::atomic<std::size_t> made{0};
  std::int64_t last_version = g_base_version;
  std::string publish_error;
  const std::int64_t cpu0 = o.server_pid > 0 ? proc_ticks(o.server_pid) : 0;
  const auto window_started = Clock::now();
  const double client_cpu0 = own_cpu_s();
  std::thread publisher([&] {
    redisContext* redis = redisConnect("127.0.0.1", o.redis_port);
    if (redis == nullptr || redis->err) {
      publish_error = "redis connect failed";
      publishing = false;
      return;
    }
    if (o.redis_db != 0) freeReplyObject(redisCommand(redis, "SELECT %d", o.redis_db));
    const auto& script = ticketing::infra::live::SeatChangePublisher::script();
    freeReplyObject(redisCommand(redis, "SCRIPT LOAD %b", script.source.data(), script.source.size()));
    const std::string version_key = ticketing::infra::live::version_key(o.schedule);
    const std::string log_key = ticketing::infra::live::log_key(o.schedule);
    const std::string channel = ticketing::infra::live::channel_name(o.schedule, o.redis_db);
    std::mt19937 random(42);
    const char* statuses[] = {"HELD", "SOLD", "AVAILABLE"};
    const auto interval = std::chrono::nanoseconds(1'000'000'000LL / std::max(1, o.rate));
    auto next = Clock::now();
    for (std::size_t k = 0; k < total; ++k) {
      std::this_thread::sleep_until(next);
      next += interval;
      const std::size_t seat = random() % g_seats.size();
      const char* status = statuses[random() % 3];
      const std::string changes = R"([{"seatNo":")" + g_seats[seat] + R"(","status":")" + status + R"("}])";
      truth[seat] = status[0];
      published_at[k].store(now_us(), std::memory_order_release);
      auto* reply = static_cast<redisReply*>(redisCommand(redis, "EVALSHA %s 2 %s %s %s 1024 3600000 %b",
                                                          script.sha1.c_str(), version_key.c_str(), log_key.c_str(),
                                                          channel.c_str(), changes.data(), changes.size()));
      if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
        publish_error = reply ? std::string(reply->str ? reply->str : "?") : "no reply";
        if (reply) freeReplyObject(reply);
        break;
      }
      last_version = reply->integer;
      if (last_version != g_base_version + static_cast<std::int64_t>(k) + 1) {
        publish_error = "versions are not contiguous: another writer changes this schedule";
      }
      freeReplyObject(reply);
      made = k + 1;
    }
    redisFree(redis);
    publishing = false;
  });
  long rss_peak = 0;
  auto last_rss = Clock::now();
  while (publishing.load()) {
    pump(20);
    if (o.server_pid > 0 && Clock::now() - last_rss > std::chrono::milliseconds(500)) {
      rss_peak = std::max(rss_peak, rss_kib(o.server_pid, "VmRSS:"));
      last_rss = Clock::now();
    }
  }
  publisher.join();
  const double window_s = std::chrono::duration<double>(Clock::now() - window_started).count();
  const std::int64_t cpu1 = o.server_pid > 0 ? proc_ticks(o.server_pid) : 0;
  const double client_cpu_s = own_cpu_s() - client_cpu0;
  // 3. Let the last deltas arrive (the coalescing window plus delivery).
  const auto settle = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < settle) pump(20);
  if (o.server_pid > 0) rss_peak = std::max(rss_peak, rss_kib(o.server_pid, "VmRSS:"));

  // 4. Lost deltas: every client still connected must be at the last version with the true map.
  int behind = 0;
  int wrong_maps = 0;
  int dropped = 0;
  int resnapshots = 0;
  std::uint64_t wrong_seats = 0;
  std::uint64_t deltas = 0;
  for (const auto& c : clients) {
    if (!c.snapshot) continue;
    if (c.closed) {
      ++dropped;
      continue;
    }
    deltas += c.deltas;
    if (c.snapshots > 1) ++resnapshots;
    if (c.version != last_version) ++behind;
    std::uint64_t wrong = 0;
    for (std::size_t i = 0; i < truth.size() && i < c.statuses.size(); ++i) wrong += c.statuses[i] != truth[i] ? 1 : 0;
    if (wrong > 0) ++wrong_maps;
    wrong_seats += wrong;
  }
  const long ticks_per_s = sysconf(_SC_CLK_TCK);
  const double cpu_s = static_cast<double>(cpu1 - cpu0) / static_cast<double>(ticks_per_s);
  std::printf(
      "BENCH clients=%d connected=%d connect_s=%.1f seats=%zu changes=%zu window_s=%.1f rate=%.0f versions=%lld..%lld "
      "delay_samples=%llu p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f delta_events=%llu dropped=%d behind=%d "
      "wrong_maps=%d wrong_seats=%llu resnapshotted=%d server_cpu_s=%.1f server_cpu_pct=%.0f server_rss_mib=%.0f "
      "server_hwm_mib=%.0f client_cpu_pct=%.0f error=%s\n",
      o.clients, connected, connect_s, g_seats.size(), made.load(), window_s,
      static_cast<double>(made.load()) / window_s, static_cast<long long>(g_base_version),
      static_cast<long long>(last_version), static_cast<unsigned long long>(g_samples), percentile_ms(0.50),
      percentile_ms(0.90), percentile_ms(0.99), static_cast<double>(g_max_delay_us) / 1000.0,
      static_cast<unsigned long long>(deltas), dropped, behind, wrong_maps,
      static_cast<unsigned long long>(wrong_seats), resnapshots, cpu_s, 100.0 * cpu_s / window_s,
      static_cast<double>(rss_peak) / 1024.0,
      o.server_pid > 0 ? static_cast<double>(rss_kib(o.server_pid, "VmHWM:")) / 1024.0 : 0.0,
      100.0 * client_cpu_s / window_s, publish_error.empty() ? "none" : publish_error.c_str());
  return 0;
}
