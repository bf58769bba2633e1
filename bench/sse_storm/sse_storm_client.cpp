// bench/sse-storm's load generator (bench/README.md, docs/live-seat-map.md): N concurrent
// Server-Sent Events clients of GET /schedules/{id}/seats/stream on one epoll loop, while worker
// threads make ~R real seat changes per second through the service: POST /tickets/hold of one seat
// by one of the admitted users (R/2 per second) and POST /tickets/release of that seat --hold-ms
// later (R/2 per second once the first holds come due). The server commits each to MariaDB and
// publishes it itself (SeatEventFanOut -> SeatChangePublisher). A Redis SUBSCRIBE on the
// schedule's channel records when each version was published; the delay is measured, per
// (client, version), from that publication to the delta's arrival at the client, and the API-side
// lag from each hold/release response to its version's publication. At the end every client must
// reach the last published version, and its map is compared seat by seat with
// GET /schedules/{id}/seats (the database's view): "lost deltas".
//
//   sse_storm_client --port P --schedule 2 --clients 10000 --rate 500 --duration 30
//                    --redis-port 16379 --redis-db 7 --access-tokens F --queue-tokens F
//                    [--server-pid PID] [--batch 500] [--hold-ms 1000] [--workers 32]
// F: "userId token" per line (access tokens from `ticketing token mint`, admission tokens from
// bench/lib/loadgen.py admit). Prints one `BENCH k=v ...` line (and progress on stderr).
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
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

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
  int hold_ms = 1000;
  int workers = 32;
  std::string access_tokens;
  std::string queue_tokens;
};

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

// Seat numbers of the schedule, in layout order (from the first snapshot), and their indexes.
std::vector<std::string> g_seats;
std::unordered_map<std::string_view, int> g_index;  // keys point into g_seats (built once, never grown)

// Subscriber → clients: when each version was published on Redis, by version - base - 1.
std::vector<std::atomic<std::int64_t>>* g_published_at = nullptr;
std::int64_t g_base_version = 0;

// Latency histogram, 0.1 ms buckets up to 20 s.
struct Histogram {
  static constexpr int kBuckets = 200000;
  std::vector<std::uint64_t> counts = std::vector<std::uint64_t>(kBuckets + 1);
  std::uint64_t samples = 0;
  std::int64_t max_us = 0;

  void record(std::int64_t us) {
    const auto bucket = std::clamp<std::int64_t>(us / 100, 0, kBuckets);
    ++counts[static_cast<std::size_t>(bucket)];
    ++samples;
    max_us = std::max(max_us, us);
  }
  double percentile_ms(double p) const {
    const auto want = static_cast<std::uint64_t>(p * static_cast<double>(samples));
    std::uint64_t seen = 0;
    for (int i = 0; i <= kBuckets; ++i) {
      seen += counts[static_cast<std::size_t>(i)];
      if (seen > want) return (i + 1) * 0.1;
    }
    return kBuckets * 0.1;
  }
};
Histogram g_delay;                // publication → a client's receipt of the delta
std::uint64_t g_unpublished = 0;  // deltas a client had before the subscriber saw their version

double own_cpu_s() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
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
  // Each version this event covers: from its publication to now.
  for (std::int64_t v = std::max(c.version + 1, g_base_version + 1); v <= id; ++v) {
    const auto k = v - g_base_version - 1;
    if (g_published_at == nullptr || k < 0 || k >= static_cast<std::int64_t>(g_published_at->size())) continue;
    const auto at = (*g_published_at)[static_cast<std::size_t>(k)].load(std::memory_order_acquire);
    if (at > 0)
      g_delay.record(arrived_us - at);
    else
      ++g_unpublished;
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

// "userId token" lines → token by user id.
std::map<std::int64_t, std::string> read_tokens(const std::string& path) {
  std::map<std::int64_t, std::string> tokens;
  std::ifstream in(path);
  std::int64_t user = 0;
  std::string token;
  while (in >> user >> token) tokens[user] = token;
  return tokens;
}

// A blocking HTTP/1.1 keep-alive connection for the hold/release calls (one per worker thread).
// The server always frames its JSON answers with Content-Length.
class HttpConnection {
 public:
  explicit HttpConnection(int port) : port_(port) {}
  ~HttpConnection() { close(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // The status of the answer, or -1 when the connection failed (not retried: a hold must not be
  // sent twice).
  int call(const std::string& request, std::string* body = nullptr) {
    if (fd_ < 0 && !open()) return -1;
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      close();
      return -1;
    }
    std::size_t header_end = std::string::npos;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return -1;
    }
    std::string header = buffer_.substr(0, header_end);
    std::transform(header.begin(), header.end(), header.begin(), [](unsigned char ch) { return std::tolower(ch); });
    int status = -1;
    std::from_chars(header.data() + 9, header.data() + std::min<std::size_t>(header.size(), 12), status);
    std::size_t length = 0;
    if (const auto at = header.find("\r\ncontent-length:"); at != std::string::npos) {
      auto from = at + 17;
      while (from < header.size() && header[from] == ' ') ++from;
      std::from_chars(header.data() + from, header.data() + header.size(), length);
    }
    while (buffer_.size() < header_end + 4 + length) {
      if (!fill()) return -1;
    }
    if (body != nullptr) *body = buffer_.substr(header_end + 4, length);
    buffer_.erase(0, header_end + 4 + length);
    if (header.find("\r\nconnection: close") != std::string::npos) close();
    return status;
  }

 private:
  bool open() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close();
      return false;
    }
    return true;
  }
  bool fill() {
    char chunk[65536];
    const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got <= 0) {
      close();
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }

  int port_;
  int fd_ = -1;
  std::string buffer_;
};

// One hold or release a worker makes, and when its answer came.
struct Call {
  std::int64_t due_us = 0;  // offset from the window's start
  int hold = 0;             // the hold's number (its seat and user follow from it)
  bool release = false;
  int status = 0;
  std::int64_t answered_us = 0;
};

// A published version as the subscriber saw it.
struct Publication {
  std::int64_t version = 0;
  std::int64_t at_us = 0;
  std::vector<std::pair<int, char>> changes;  // seat index, first letter of the status
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string text = argv[i + 1];
    const long value = std::strtol(text.c_str(), nullptr, 10);
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
    else if (key == "--hold-ms")
      o.hold_ms = static_cast<int>(value);
    else if (key == "--workers")
      o.workers = static_cast<int>(value);
    else if (key == "--access-tokens")
      o.access_tokens = text;
    else if (key == "--queue-tokens")
      o.queue_tokens = text;
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  const auto access = read_tokens(o.access_tokens);
  const auto admitted = read_tokens(o.queue_tokens);
  // The users that make the changes: admitted ones with an access token.
  std::vector<std::int64_t> users;
  for (const auto& [user, token] : admitted) {
    if (access.count(user) != 0) users.push_back(user);
  }
  if (users.empty() || o.rate < 2 || o.workers < 1) {
    std::fprintf(stderr, "no admitted users with access tokens (%zu admitted, %zu tokens), or --rate < 2\n",
                 admitted.size(), access.size());
    return 2;
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
  g_base_version = clients[0].version;
  for (const auto& c : clients) {
    if (c.snapshot && c.version != g_base_version) {
      std::fprintf(stderr, "warning: snapshots at different versions (%lld vs %lld): something else changes seats\n",
                   static_cast<long long>(c.version), static_cast<long long>(g_base_version));
      break;
    }
  }

  // 2. The plan: hold k (every 2/R s) takes the k-th seat of a fixed shuffle, by user k mod U;
  // its release comes hold_ms later when that is still inside the window. Worker w makes holds
  // k ≡ w (mod W) and their releases in time order, so a release never overtakes its hold.
  const auto hold_interval_us = 2'000'000LL / o.rate;
  const auto window_us = static_cast<std::int64_t>(o.duration) * 1'000'000;
  const int holds = static_cast<int>(window_us / hold_interval_us);
  std::vector<int> seat_order(g_seats.size());
  for (std::size_t i = 0; i < seat_order.size(); ++i) seat_order[i] = static_cast<int>(i);
  std::shuffle(seat_order.begin(), seat_order.end(), std::mt19937(42));
  auto seat_of = [&](int k) { return seat_order[static_cast<std::size_t>(k) % seat_order.size()]; };
  auto user_of = [&](int k) { return users[static_cast<std::size_t>(k) % users.size()]; };
  std::vector<std::vector<Call>> plans(static_cast<std::size_t>(o.workers));
  for (int k = 0; k < holds; ++k) {
    auto& plan = plans[static_cast<std::size_t>(k % o.workers)];
    const std::int64_t due = k * hold_interval_us;
    plan.push_back(Call{due, k, false, 0, 0});
    if (due + o.hold_ms * 1000LL < window_us) plan.push_back(Call{due + o.hold_ms * 1000LL, k, true, 0, 0});
  }
  for (auto& plan : plans) {
    std::stable_sort(plan.begin(), plan.end(), [](const Call& a, const Call& b) { return a.due_us < b.due_us; });
  }
  std::size_t planned = 0;
  for (const auto& plan : plans) planned += plan.size();

  // 3. The subscriber: when each version is published (it must listen before the first change).
  const std::size_t capacity = planned + 4096;
  std::vector<std::atomic<std::int64_t>> published_at(capacity);
  g_published_at = &published_at;
  std::vector<Publication> publications;
  std::mutex publications_mutex;
  std::atomic<std::int64_t> last_published{g_base_version};
  std::atomic<bool> subscribed{false};
  std::string subscribe_error;
  redisContext* sub = redisConnect("127.0.0.1", o.redis_port);
  if (sub == nullptr || sub->err) {
    std::printf("BENCH clients=%d connected=%d error=redis-connect-failed\n", o.clients, connected);
    return 1;
  }
  const std::string channel = ticketing::infra::live::channel_name(o.schedule, o.redis_db);
  std::thread subscriber([&] {
    freeReplyObject(redisCommand(sub, "SUBSCRIBE %s", channel.c_str()));
    subscribed = true;
    void* raw = nullptr;
    while (redisGetReply(sub, &raw) == REDIS_OK) {
      const auto at = now_us();
      auto* reply = static_cast<redisReply*>(raw);
      if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 && reply->element[2]->type == REDIS_REPLY_STRING) {
        const auto delta =
            ticketing::infra::live::parse_delta_json(std::string_view(reply->element[2]->str, reply->element[2]->len));
        if (delta) {
          const auto k = delta->version - g_base_version - 1;
          if (k >= 0 && k < static_cast<std::int64_t>(capacity)) {
            published_at[static_cast<std::size_t>(k)].store(at, std::memory_order_release);
          }
          Publication p{delta->version, at, {}};
          for (const auto& change : delta->changes) {
            const auto seat = g_index.find(change.seat_no);
            const char status = change.status == ticketing::domain::SeatStatus::kHeld   ? 'H'
                                : change.status == ticketing::domain::SeatStatus::kSold ? 'S'
                                                                                        : 'A';
            if (seat != g_index.end()) p.changes.emplace_back(seat->second, status);
          }
          std::lock_guard lock(publications_mutex);
          publications.push_back(std::move(p));
          if (delta->version > last_published) last_published = delta->version;
        }
      }
      freeReplyObject(reply);
    }
  });
  while (!subscribed.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the SUBSCRIBE reached Redis

  // 4. The workers: the changes, through the service.
  std::atomic<int> workers_left{o.workers};
  const std::int64_t cpu0 = o.server_pid > 0 ? proc_ticks(o.server_pid) : 0;
  const auto window_started = Clock::now();
  const double client_cpu0 = own_cpu_s();
  std::vector<std::thread> workers;
  for (int w = 0; w < o.workers; ++w) {
    workers.emplace_back([&, w] {
      HttpConnection http(o.port);
      std::vector<bool> held(static_cast<std::size_t>(holds), false);
      for (auto& call : plans[static_cast<std::size_t>(w)]) {
        if (call.release && !held[static_cast<std::size_t>(call.hold)]) continue;  // its hold failed
        std::this_thread::sleep_until(window_started + std::chrono::microseconds(call.due_us));
        const auto user = user_of(call.hold);
        const std::string body = "{\"scheduleId\":" + std::to_string(o.schedule) + ",\"seatNos\":[\"" +
                                 g_seats[static_cast<std::size_t>(seat_of(call.hold))] + "\"]}";
        const std::string req = std::string("POST /tickets/") + (call.release ? "release" : "hold") +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                "Authorization: Bearer " +
                                access.at(user) + "\r\nQueue-Token: " + admitted.at(user) +
                                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        call.status = http.call(req);
        call.answered_us = now_us();
        if (!call.release && call.status == 200) held[static_cast<std::size_t>(call.hold)] = true;
      }
      --workers_left;
    });
  }
  long rss_peak = 0;
  auto last_rss = Clock::now();
  while (workers_left.load() > 0) {
    pump(20);
    if (o.server_pid > 0 && Clock::now() - last_rss > std::chrono::milliseconds(500)) {
      rss_peak = std::max(rss_peak, rss_kib(o.server_pid, "VmRSS:"));
      last_rss = Clock::now();
    }
  }
  for (auto& worker : workers) worker.join();
  const double window_s = std::chrono::duration<double>(Clock::now() - window_started).count();
  const std::int64_t cpu1 = o.server_pid > 0 ? proc_ticks(o.server_pid) : 0;
  const double client_cpu_s = own_cpu_s() - client_cpu0;

  // 5. The end: every successful call is one version; wait (with deadlines) until the last one was
  // published, then until every client has it.
  std::size_t made = 0;
  std::map<int, std::uint64_t> failed;  // status → calls (-1: connection failed)
  for (const auto& plan : plans) {
    for (const auto& call : plan) {
      if (call.status == 200)
        ++made;
      else if (call.status != 0)
        ++failed[call.status];
    }
  }
  const auto expected_version = g_base_version + static_cast<std::int64_t>(made);
  const auto publish_deadline = Clock::now() + std::chrono::seconds(10);
  while (last_published.load() < expected_version && Clock::now() < publish_deadline) pump(20);
  const std::int64_t last_version = last_published.load();
  auto all_current = [&] {
    for (const auto& c : clients) {
      if (c.snapshot && !c.closed && c.version < last_version) return false;
    }
    return true;
  };
  const auto settle_started = Clock::now();
  const auto settle_deadline = settle_started + std::chrono::seconds(15);
  while (!all_current() && Clock::now() < settle_deadline) pump(20);
  const double settle_s = std::chrono::duration<double>(Clock::now() - settle_started).count();
  pump(0);
  if (o.server_pid > 0) rss_peak = std::max(rss_peak, rss_kib(o.server_pid, "VmRSS:"));
  ::shutdown(sub->fd, SHUT_RDWR);  // ends the subscriber's blocking read
  subscriber.join();
  redisFree(sub);

  // 6. The database's view of the map.
  std::string seats_body;
  HttpConnection http(o.port);
  const int seats_status = http.call("GET /schedules/" + std::to_string(o.schedule) +
                                         "/seats HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n",
                                     &seats_body);
  std::vector<char> truth(g_seats.size(), '?');
  {
    std::size_t pos = 0;
    while ((pos = seats_body.find(kSeatKey, pos)) != std::string::npos) {
      pos += kSeatKey.size();
      const auto end = seats_body.find('"', pos);
      const auto seat = g_index.find(std::string_view(seats_body).substr(pos, end - pos));
      pos = seats_body.find(kStatusKey, end);
      if (pos == std::string::npos) break;
      pos += kStatusKey.size();
      if (seat != g_index.end()) truth[static_cast<std::size_t>(seat->second)] = seats_body[pos];
    }
  }
  const auto db_seats =
      static_cast<std::size_t>(std::count_if(truth.begin(), truth.end(), [](char ch) { return ch != '?'; }));
  const auto db_held = static_cast<std::size_t>(std::count(truth.begin(), truth.end(), 'H'));

  // 7. Lost deltas: every client still connected must be at the last version with the DB's map.
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
    for (std::size_t i = 0; i < truth.size(); ++i) wrong += i >= c.statuses.size() || c.statuses[i] != truth[i] ? 1 : 0;
    if (wrong > 0) ++wrong_maps;
    wrong_seats += wrong;
  }

  // 8. API-side lag: the n-th successful call that set seat s to status x ↔ the n-th publication
  // of (s, x) (each version here is one call's one seat). Negative when the publication came
  // before the answer; counted apart, and as 0 in the histogram.
  std::map<std::pair<int, char>, std::vector<std::int64_t>> answered;
  for (const auto& plan : plans) {
    for (const auto& call : plan) {
      if (call.status == 200) answered[{seat_of(call.hold), call.release ? 'A' : 'H'}].push_back(call.answered_us);
    }
  }
  std::map<std::pair<int, char>, std::vector<std::int64_t>> published;
  std::uint64_t missing_versions = 0;
  {
    std::sort(publications.begin(), publications.end(),
              [](const Publication& a, const Publication& b) { return a.version < b.version; });
    std::int64_t expect = g_base_version + 1;
    for (const auto& p : publications) {
      if (p.version > expect) missing_versions += static_cast<std::uint64_t>(p.version - expect);
      expect = std::max(expect, p.version + 1);
      for (const auto& change : p.changes) published[change].push_back(p.at_us);
    }
    if (last_version < expected_version)
      missing_versions += static_cast<std::uint64_t>(expected_version - last_version);
  }
  Histogram api_lag;
  std::uint64_t published_first = 0;
  std::uint64_t unmatched_calls = 0;
  for (auto& [key, times] : answered) {
    std::sort(times.begin(), times.end());
    auto& pubs = published[key];
    std::sort(pubs.begin(), pubs.end());
    for (std::size_t i = 0; i < times.size(); ++i) {
      if (i >= pubs.size()) {
        ++unmatched_calls;
        continue;
      }
      const auto lag = pubs[i] - times[i];
      if (lag < 0) ++published_first;
      api_lag.record(std::max<std::int64_t>(0, lag));
    }
  }
  std::string failures;
  for (const auto& [status, count] : failed) {
    failures += (failures.empty() ? "" : ",") + std::to_string(status) + ":" + std::to_string(count);
  }

  const long ticks_per_s = sysconf(_SC_CLK_TCK);
  const double cpu_s = static_cast<double>(cpu1 - cpu0) / static_cast<double>(ticks_per_s);
  std::printf(
      "BENCH clients=%d connected=%d connect_s=%.1f seats=%zu users=%zu planned=%zu changes=%zu failed=%s "
      "window_s=%.1f rate=%.0f versions=%lld..%lld missing_versions=%llu unmatched_calls=%llu settle_s=%.1f "
      "delay_samples=%llu p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f unpublished_deltas=%llu "
      "api_samples=%llu api_p50_ms=%.1f api_p99_ms=%.1f api_max_ms=%.1f published_first=%llu "
      "delta_events=%llu dropped=%d behind=%d wrong_maps=%d wrong_seats=%llu resnapshotted=%d db_status=%d "
      "db_seats=%zu db_held=%zu server_cpu_s=%.1f server_cpu_pct=%.0f server_rss_mib=%.0f server_hwm_mib=%.0f "
      "client_cpu_pct=%.0f\n",
      o.clients, connected, connect_s, g_seats.size(), users.size(), planned, made,
      failures.empty() ? "none" : failures.c_str(), window_s, static_cast<double>(made) / window_s,
      static_cast<long long>(g_base_version), static_cast<long long>(last_version),
      static_cast<unsigned long long>(missing_versions), static_cast<unsigned long long>(unmatched_calls), settle_s,
      static_cast<unsigned long long>(g_delay.samples), g_delay.percentile_ms(0.50), g_delay.percentile_ms(0.90),
      g_delay.percentile_ms(0.99), static_cast<double>(g_delay.max_us) / 1000.0,
      static_cast<unsigned long long>(g_unpublished), static_cast<unsigned long long>(api_lag.samples),
      api_lag.percentile_ms(0.50), api_lag.percentile_ms(0.99), static_cast<double>(api_lag.max_us) / 1000.0,
      static_cast<unsigned long long>(published_first), static_cast<unsigned long long>(deltas), dropped, behind,
      wrong_maps, static_cast<unsigned long long>(wrong_seats), resnapshots, seats_status, db_seats, db_held, cpu_s,
      100.0 * cpu_s / window_s, static_cast<double>(rss_peak) / 1024.0,
      o.server_pid > 0 ? static_cast<double>(rss_kib(o.server_pid, "VmHWM:")) / 1024.0 : 0.0,
      100.0 * client_cpu_s / window_s);
  return 0;
}
