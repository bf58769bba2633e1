#pragma once
// Shared helpers for integration tests: configuration for the real services that scripts/test
// started, an in-process server on an ephemeral port, a raw-socket HTTP client (so tests can send
// malformed requests too), child processes, and waiting on conditions with deadlines.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/application.hpp"
#include "infra/config/config.hpp"
#include "infra/mysql/mysql_connection.hpp"

namespace ticketing::testing {

// The test profile plus environment (TICKETING_* from scripts/test) plus `sets`.
infra::config::AppConfig test_config(std::vector<std::string> sets = {});
infra::mysql::DbEndpoint test_db_endpoint();
std::unique_ptr<infra::mysql::MysqlConnection> test_db(bool multi_statements = false);
// Migrates the test database and loads demo data (small user count) once per process.
void prepare_test_database();

// A new schedule (of test concert 1000) whose booking opened (or opens) `opens_in_seconds` from now, so each
// test gets its own queue keys. Returns its id.
std::int64_t create_schedule(int opens_in_seconds = -60, int seats = 0);
// Makes sure users 1..count exist (the demo seed only creates a few thousand in the test DB).
void ensure_users(std::int64_t count);

// Synchronous Redis commands for inspecting state from tests (hiredis, test profile's Redis).
class RedisInspector {
 public:
  RedisInspector();
  explicit RedisInspector(const std::string& url);  // another Redis (a private redis-server)
  ~RedisInspector();
  long long integer(const std::vector<std::string>& command);
  std::vector<std::string> strings(const std::vector<std::string>& command);
  std::optional<std::string> string(const std::vector<std::string>& command);

 private:
  void* context_ = nullptr;
};

class TestServer {
 public:
  explicit TestServer(std::vector<std::string> sets = {});
  ~TestServer();
  std::uint16_t port() const { return app_->port(); }
  app::Application& app() { return *app_; }
  void stop() { app_->stop(); }

 private:
  std::unique_ptr<app::Application> app_;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string raw;
  std::string header(const std::string& lower_name) const;
};

// One request on a new connection ("Connection: close" unless given).
HttpResponse http(std::uint16_t port, const std::string& method, const std::string& target,
                  const std::string& body = "", std::map<std::string, std::string> headers = {});
// Sends raw bytes, reads until the server closes (or the timeout passes), returns what came back.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));
HttpResponse parse_response(const std::string& raw);

// A client connection kept open across requests.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port);
  ~RawConnection();
  void send(const std::string& bytes);
  // Reads until `text` has arrived; returns everything read so far (may lack `text` on timeout).
  std::string read_until(const std::string& text, std::chrono::milliseconds timeout);
  // True when the server closes the connection within the timeout.
  bool closed_within(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::string buffer_;
};

// Queue settings that admit everyone at once (booking tests need admitted users, not queueing).
extern const std::vector<std::string> kFastAdmission;
std::vector<std::string> with(std::vector<std::string> base, const std::vector<std::string>& more);
// An access token for `user` signed with the test profile's key, as `ticketing token mint` makes
// them (valid 1 h, role FAN unless `admin`).
std::string access_token(std::int64_t user, bool admin = false);
// {"Authorization": "Bearer <access token of user>"} plus `more`.
std::map<std::string, std::string> as_user(std::int64_t user, std::map<std::string, std::string> more = {});
// Users first..first+count-1 enter the queue of `schedule` and are admitted; their queue tokens by user id.
std::map<std::int64_t, std::string> admit_users(std::uint16_t port, std::int64_t schedule, std::int64_t first,
                                                int count);
// POST {scheduleId, seatNos} to a booking endpoint as `user` (access token) with the queue token
// `token` in Queue-Token ("" = none).
HttpResponse seat_call(std::uint16_t port, const char* path, const std::string& token, std::int64_t user,
                       std::int64_t schedule, const std::vector<std::string>& seats,
                       std::map<std::string, std::string> extra_headers = {});
// A Gateway-Signature header value for `body`, signed now with the test profile's gateway secret.
std::string gateway_signature(const std::string& body);
// The `conflictingSeats` of a 409 SEAT_ALREADY_HELD body, in the order given.
std::vector<std::string> conflicting_seats(const HttpResponse& response);

// The value of a series in a Prometheus text scrape, named with its labels as the scrape writes
// them (`name` or `name{label="value"}`); -1 when absent.
double metric(const std::string& scrape, const std::string& name);

// A child process (e.g. a private redis-server); killed on destruction.
class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();
  void kill_now();  // SIGKILL and reap
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

std::uint16_t free_port();

// `ticketing serve` as a separate process (test profile, loopback, given --set overrides), healthy
// when constructed; killed (SIGKILL) by kill() or on destruction.
class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& sets);
  std::uint16_t port() const { return port_; }
  void kill() { process_->kill_now(); }

 private:
  std::uint16_t port_;
  std::unique_ptr<ChildProcess> process_;
};
bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds deadline,
              std::chrono::milliseconds poll = std::chrono::milliseconds(20));

}  // namespace ticketing::testing
