#include "support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cstring>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <thread>

#include "domain/ports/clock.hpp"
#include "infra/mysql/demo_seed.hpp"
#include "infra/mysql/migrations.hpp"
#include "infra/observability/logging.hpp"
#include "infra/redis/redis_options.hpp"
#include "infra/security/gateway_signature.hpp"
#include "infra/security/jwt_access_token_service.hpp"
#include "infra/security/random.hpp"
#include "infra/security/sodium_password_hasher.hpp"

extern char** environ;

namespace ticketing::testing {

infra::config::AppConfig test_config(std::vector<std::string> sets) {
  infra::observability::configure_logging(infra::observability::Level::kWarn);
  infra::config::LoadOptions options;
  options.profile = "test";
  options.env = infra::config::environment_snapshot();
  options.sets = std::move(sets);
  return infra::config::load_config(options).config;
}

infra::mysql::DbEndpoint test_db_endpoint() {
  const auto config = test_config();
  const auto url = infra::config::parse_db_url(config.db.url);
  return {url.host, url.port, url.user, url.password, url.database, config.db.connect_timeout, config.db.query_timeout};
}

std::unique_ptr<infra::mysql::MysqlConnection> test_db(bool multi_statements) {
  return std::make_unique<infra::mysql::MysqlConnection>(test_db_endpoint(), multi_statements);
}

void prepare_test_database() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto db = test_db(true);
    infra::mysql::migrate(*db, infra::mysql::plan_migrations(infra::mysql::embedded_migrations()));
    const auto config = test_config();
    const infra::security::SodiumPasswordHasher hasher(
        infra::security::Argon2Options{static_cast<unsigned long long>(config.auth.argon2_ops),
                                       config.auth.argon2_memory},
        1, 1);
    infra::mysql::seed_demo_data(*db, infra::mysql::SeedOptions{2000, hasher.hash_now(infra::mysql::kDemoPassword)});
  });
}

std::int64_t create_schedule(int opens_in_seconds, int seats) {
  prepare_test_database();
  auto db = test_db();
  // Test schedules belong to a concert of their own, so the demo concerts keep their schedules.
  db->execute(
      "INSERT IGNORE INTO concert (id, title, description) VALUES (1000, 'Integration tests', 'test schedules')");
  const auto result =
      db->execute(fmt::format("INSERT INTO schedule (concert_id, show_at, booking_opens_at) VALUES "
                              "(1000, UTC_TIMESTAMP(3) + INTERVAL 30 DAY, UTC_TIMESTAMP(3) + INTERVAL {} SECOND)",
                              opens_in_seconds));
  const auto id = static_cast<std::int64_t>(result.last_insert_id);
  std::string sql = "INSERT INTO seat (schedule_id, seat_no, section, price) VALUES ";
  for (int i = 1; i <= seats; ++i) {
    sql += fmt::format("{}({}, 'S-{}', 'S', 100.00)", i == 1 ? "" : ",", id, i);
  }
  if (seats > 0) db->execute(sql);
  return id;
}

void ensure_users(std::int64_t count) {
  prepare_test_database();
  auto db = test_db();
  const auto existing = db->query("SELECT COUNT(*) FROM user_account WHERE id <= " + std::to_string(count));
  if (existing.rows[0][0] == std::to_string(count)) return;
  for (std::int64_t start = 1; start <= count; start += 5000) {
    std::string sql = "INSERT IGNORE INTO user_account (id, email, name) VALUES ";
    for (std::int64_t id = start; id < start + 5000 && id <= count; ++id) {
      sql += fmt::format("{}({},'user{}@example.com','User {}')", id == start ? "" : ",", id, id, id);
    }
    db->execute(sql);
  }
}

RedisInspector::RedisInspector() : RedisInspector(test_config().redis.url) {}

RedisInspector::RedisInspector(const std::string& url) {
  const auto options = infra::redis::parse_redis_url(url);
  auto* context = redisConnect(options.host.c_str(), options.port);
  if (context == nullptr || context->err) {
    redisFree(context);  // a failed connect still allocates its context (LeakSanitizer saw it)
    throw std::runtime_error("redis connect failed");
  }
  context_ = context;
  if (options.db != 0) strings({"SELECT", std::to_string(options.db)});
}

RedisInspector::~RedisInspector() {
  redisFree(static_cast<redisContext*>(context_));
}

namespace {

redisReply* run_command(void* context, const std::vector<std::string>& command) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& part : command) {
    argv.push_back(part.data());
    lengths.push_back(part.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(static_cast<redisContext*>(context),
                                                          static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr) throw std::runtime_error("redis command failed");
  return reply;
}

}  // namespace

long long RedisInspector::integer(const std::vector<std::string>& command) {
  auto* reply = run_command(context_, command);
  const long long value = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
  freeReplyObject(reply);
  return value;
}

std::vector<std::string> RedisInspector::strings(const std::vector<std::string>& command) {
  auto* reply = run_command(context_, command);
  std::vector<std::string> out;
  if (reply->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < reply->elements; ++i) out.emplace_back(reply->element[i]->str, reply->element[i]->len);
  }
  freeReplyObject(reply);
  return out;
}

std::optional<std::string> RedisInspector::string(const std::vector<std::string>& command) {
  auto* reply = run_command(context_, command);
  std::optional<std::string> out;
  if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS) out.emplace(reply->str, reply->len);
  freeReplyObject(reply);
  return out;
}

const std::vector<std::string> kFastAdmission{"queue.max-active=5000", "queue.admit-per-second=5000",
                                              "queue.admission-interval=50ms", "queue.heartbeat-timeout=1h",
                                              "queue.active-ttl=1h"};

std::vector<std::string> with(std::vector<std::string> base, const std::vector<std::string>& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

static std::string seats_json(const std::vector<std::string>& seats) {
  std::string out = "[";
  for (std::size_t i = 0; i < seats.size(); ++i) out += (i ? ",\"" : "\"") + seats[i] + "\"";
  return out + "]";
}

std::string access_token(std::int64_t user, bool admin) {
  static const auto config = test_config();
  static const infra::security::JwtAccessTokenService tokens(config.security.access_token_secret);
  static const std::string session = infra::security::random_hex(16);
  const auto now = domain::SystemClock().now();
  return tokens.issue(domain::AccessClaims{domain::UserId{user}, admin ? domain::Role::kAdmin : domain::Role::kFan,
                                           session, now, now + std::chrono::hours(1)});
}

std::map<std::string, std::string> as_user(std::int64_t user, std::map<std::string, std::string> more) {
  more["Authorization"] = "Bearer " + access_token(user);
  return more;
}

std::string gateway_signature(const std::string& body) {
  static const auto config = test_config();
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return infra::security::sign_gateway_payload(config.payment.gateway_secret, now, body);
}

HttpResponse seat_call(std::uint16_t port, const char* path, const std::string& token, std::int64_t user,
                       std::int64_t schedule, const std::vector<std::string>& seats,
                       std::map<std::string, std::string> headers) {
  headers["Content-Type"] = "application/json";
  if (!headers.count("Authorization")) headers["Authorization"] = "Bearer " + access_token(user);
  if (!token.empty()) headers["Queue-Token"] = token;
  return http(port, "POST", path, fmt::format(R"({{"scheduleId":{},"seatNos":{}}})", schedule, seats_json(seats)),
              headers);
}

std::vector<std::string> conflicting_seats(const HttpResponse& response) {
  const auto body = boost::json::parse(response.body);
  std::vector<std::string> seats;
  for (const auto& seat : body.at("conflictingSeats").as_array()) seats.emplace_back(seat.as_string());
  return seats;
}

// Users first..first+count-1 enter the queue and are admitted; returns their tokens by user id.
std::map<std::int64_t, std::string> admit_users(std::uint16_t port, std::int64_t schedule, std::int64_t first,
                                                int count) {
  ensure_users(first + count);
  for (std::int64_t user = first; user < first + count; ++user) {
    const auto r = http(port, "POST", "/queue/enter", fmt::format(R"({{"scheduleId":{}}})", schedule), as_user(user));
    if (r.status != 200) throw std::runtime_error("enter failed: " + r.raw);
  }
  std::map<std::int64_t, std::string> tokens;
  const bool all = wait_for(
      [&] {
        for (std::int64_t user = first; user < first + count; ++user) {
          if (tokens.count(user)) continue;
          const auto r = http(port, "GET", fmt::format("/queue/status?scheduleId={}", schedule), {}, as_user(user));
          const auto body = boost::json::parse(r.body).as_object();
          if (body.contains("token")) tokens[user] = std::string(body.at("token").as_string());
        }
        return tokens.size() == static_cast<std::size_t>(count);
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50));
  if (!all) throw std::runtime_error("users were not admitted in time");
  return tokens;
}

TestServer::TestServer(std::vector<std::string> sets) {
  sets.insert(sets.begin(), "http.port=0");
  sets.insert(sets.begin(), "http.address=127.0.0.1");
  app_ = std::make_unique<app::Application>(test_config(std::move(sets)));
  app_->start();
}

TestServer::~TestServer() {
  app_->stop();
}

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed: " + std::string(std::strerror(errno)));
  }
  return fd;
}

}  // namespace

std::string raw_exchange(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  const int fd = connect_to(port);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (e.g. 413 before the body): read what it said
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[65536];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

RawConnection::RawConnection(std::uint16_t port) : fd_(connect_to(port)) {}
RawConnection::~RawConnection() {
  ::close(fd_);
}

void RawConnection::send(const std::string& bytes) {
  if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    throw std::runtime_error("send failed");
  }
}

std::string RawConnection::read_until(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[65536];
  while (buffer_.find(text) == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    buffer_.append(buffer, static_cast<std::size_t>(n));
  }
  return buffer_;
}

bool RawConnection::closed_within(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return true;
    buffer_.append(buffer, static_cast<std::size_t>(n));
  }
}

HttpResponse parse_response(const std::string& raw) {
  HttpResponse response;
  response.raw = raw;
  const auto head_end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || head_end == std::string::npos) return response;
  response.status = std::stoi(raw.substr(9, 3));
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    const auto eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      response.headers[name] = value;
    }
    pos = eol + 2;
  }
  response.body = raw.substr(head_end + 4);
  return response;
}

HttpResponse http(std::uint16_t port, const std::string& method, const std::string& target, const std::string& body,
                  std::map<std::string, std::string> headers) {
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!headers.count("Connection")) headers["Connection"] = "close";
  if (!body.empty() && !headers.count("Content-Type")) headers["Content-Type"] = "application/json";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  return parse_response(raw_exchange(port, request));
}

ChildProcess::ChildProcess(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  if (posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
  if (pid_ < 0) throw std::runtime_error("could not start " + argv[0]);
}

ChildProcess::~ChildProcess() {
  kill_now();
}

void ChildProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

ServerProcess::ServerProcess(const std::vector<std::string>& sets) : port_(free_port()) {
  std::vector<std::string> argv{TICKETING_BINARY,
                                "--profile",
                                "test",
                                "--set",
                                "http.port=" + std::to_string(port_),
                                "--set",
                                "http.address=127.0.0.1",
                                "--set",
                                "log.access=false"};
  for (const auto& s : sets) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  argv.push_back("serve");
  process_ = std::make_unique<ChildProcess>(argv);
  const bool up = wait_for(
      [&] {
        try {
          return http(port_, "GET", "/actuator/health").status == 200;
        } catch (...) {
          return false;
        }
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  if (!up) throw std::runtime_error("server process did not become healthy");
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds deadline,
              std::chrono::milliseconds poll) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(poll);
  }
  return condition();
}

double metric(const std::string& scrape, const std::string& name) {
  const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  const std::regex line("(^|\n)" + std::regex_replace(name, special, R"(\$&)") + " ([0-9.e+-]+)");
  std::smatch match;
  if (!std::regex_search(scrape, match, line)) return -1;
  return std::stod(match[2]);
}

}  // namespace ticketing::testing
