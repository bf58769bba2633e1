// The pipelined Redis client against real Redis servers: the shared one at TICKETING_REDIS_URL
// (default redis://127.0.0.1:16379) and, for restart and AUTH scenarios, redis-server processes the
// tests start themselves on free ports.
#include "infra/redis/redis_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "domain/errors.hpp"
#include "infra/redis/redis_connection.hpp"
#include "infra/redis/redis_options.hpp"

extern char** environ;

namespace ticketing::infra::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using domain::DependencyUnavailable;

RedisOptions shared_redis_options() {
  const char* url = std::getenv("TICKETING_REDIS_URL");
  return parse_redis_url(url != nullptr && *url != '\0' ? url : "redis://127.0.0.1:16379");
}

// Keys of one test run never collide with another run or another developer's tests.
std::string key_prefix(std::string_view test) {
  static std::atomic<int> counter{0};
  return "it:redis:{" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "}:" + std::string(test) + ":";
}

// N io_contexts, each run by one thread, as in the server.
class IoThreads {
 public:
  explicit IoThreads(int n) {
    for (int i = 0; i < n; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
    for (auto& c : contexts_) threads_.emplace_back([ctx = c.get()] { ctx->run(); });
  }
  ~IoThreads() {
    guards_.clear();
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) t.join();
  }
  asio::io_context& operator[](std::size_t i) { return *contexts_[i]; }
  std::vector<asio::any_io_executor> executors() {
    std::vector<asio::any_io_executor> out;
    for (auto& c : contexts_) out.emplace_back(c->get_executor());
    return out;
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

// Runs `task` on `ctx`'s thread and waits for it, with a deadline so a bug hangs nothing.
template <typename T>
T run_on(asio::io_context& ctx, Task<T> task, std::chrono::milliseconds limit = 30s) {
  std::future<T> f = asio::co_spawn(ctx, std::move(task), asio::use_future);
  if (f.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << "coroutine did not finish within " << limit.count() << " ms";
    std::abort();  // the coroutine still references this test's stack: no safe way to go on
  }
  return f.get();
}

Task<RedisReply> exec(RedisClient& client, std::vector<std::string> args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  co_return co_await client.execute(std::span<const std::string_view>(views));
}
Task<RedisReply> exec(RedisConnection& conn, std::vector<std::string> args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  co_return co_await conn.execute(std::span<const std::string_view>(views));
}

// Returns the DependencyUnavailable message, or fails the test if `task` did not throw one.
template <typename T>
std::string expect_unavailable(asio::io_context& ctx, Task<T> task) {
  try {
    run_on(ctx, std::move(task));
  } catch (const DependencyUnavailable& e) {
    EXPECT_EQ(e.component(), "redis");
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected DependencyUnavailable, got " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected DependencyUnavailable, the call succeeded";
  return "";
}

template <typename F>
auto on_thread(asio::io_context& ctx, F f) {
  using R = decltype(f());
  return run_on(ctx, [](F fn) -> Task<R> { co_return fn(); }(std::move(f)));
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A TCP listener that never accepts: the kernel completes the handshake, nobody ever answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A private redis-server child process (posix_spawn), killable with SIGKILL and restartable on the
// same port.
class RedisProcess {
 public:
  explicit RedisProcess(uint16_t port, std::vector<std::string> extra = {}) : port_(port), extra_(std::move(extra)) {}
  ~RedisProcess() { kill(); }

  void start() {
    std::vector<std::string> args = {
        "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir",        "/tmp",   "--loglevel",          "warning"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid_, "redis-server", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(rc, 0) << "cannot start redis-server";
    ASSERT_TRUE(wait_ready(10s)) << "redis-server on port " << port_ << " did not answer";
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  uint16_t port() const { return port_; }

 private:
  // Ready when it answers PING on a plain blocking socket (any reply, -NOAUTH included).
  bool wait_ready(std::chrono::milliseconds limit) const {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(port_);
      timeval tv{0, 500'000};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      bool ok = false;
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::write(fd, "PING\r\n", 6) == 6) {
        char c = 0;
        ok = ::read(fd, &c, 1) == 1 && (c == '+' || c == '-');
      }
      ::close(fd);
      if (ok) return true;
      std::this_thread::sleep_for(10ms);  // poll interval of a condition wait, not a synchronisation
    }
    return false;
  }

  uint16_t port_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
};

class RedisClientIT : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = shared_redis_options();
    io_ = std::make_unique<IoThreads>(2);
    client_ = std::make_unique<RedisClient>(io_->executors(), options_);
    try {
      run_on(ctx(0), client_->ping(), 10s);
    } catch (const std::exception& e) {
      GTEST_SKIP() << "no Redis at " << redacted_url(options_) << ": " << e.what();
    }
  }
  void TearDown() override {
    if (client_ && !cleanup_.empty()) {
      for (std::size_t i = 0; i < cleanup_.size(); i += 500) {
        std::vector<std::string> del = {"DEL"};
        for (std::size_t j = i; j < std::min(cleanup_.size(), i + 500); ++j) del.push_back(cleanup_[j]);
        run_on(ctx(0), exec(*client_, del));
      }
    }
    client_.reset();
    io_.reset();
  }
  asio::io_context& ctx(std::size_t i) { return (*io_)[i]; }
  RedisReply run(std::vector<std::string> args, std::size_t context = 0) {
    return run_on(ctx(context), exec(*client_, std::move(args)));
  }
  std::string key(const std::string& prefix, const std::string& name) {
    cleanup_.push_back(prefix + name);
    return cleanup_.back();
  }

  RedisOptions options_;
  std::unique_ptr<IoThreads> io_;
  std::unique_ptr<RedisClient> client_;
  std::vector<std::string> cleanup_;
};

TEST_F(RedisClientIT, SetGetIncrRoundTrip) {
  const std::string p = key_prefix("roundtrip");
  const std::string k = key(p, "s");
  const std::string n = key(p, "n");
  const std::string binary("v\0\r\n\xff", 5);

  EXPECT_TRUE(run({"SET", k, binary}).is_status("OK"));
  RedisReply got = run({"GET", k}, 1);  // the other context's connection sees the same data
  ASSERT_TRUE(got.is_string()) << got.to_string();
  EXPECT_EQ(got.str, binary);
  EXPECT_EQ(run({"INCR", n}), RedisReply::make_integer(1));
  EXPECT_EQ(run({"INCR", n}), RedisReply::make_integer(2));
  EXPECT_EQ(run({"INCRBY", n, "40"}, 1), RedisReply::make_integer(42));
  EXPECT_TRUE(run({"GET", key(p, "missing")}).is_nil());
  EXPECT_EQ(run({"DEL", k, n}), RedisReply::make_integer(2));

  // The variadic form, used from a coroutine.
  RedisReply pong =
      run_on(ctx(0), [](RedisClient& c) -> Task<RedisReply> { co_return co_await c.execute("PING"); }(*client_));
  EXPECT_TRUE(pong.is_status("PONG"));
  EXPECT_TRUE(on_thread(ctx(1), [&] { return client_->connection_for(ctx(1).get_executor()).connected(); }));
}

Task<void> incr_and_get(RedisClient& client, std::string key, long long n, std::atomic<int>& mismatches,
                        std::atomic<int>& errors, std::atomic<std::size_t>& max_pending, std::atomic<int>& done,
                        std::mutex& m, std::condition_variable& cv) {
  try {
    const std::string by = std::to_string(n);
    RedisReply incr = co_await client.execute("INCRBY", key, by);
    RedisConnection& conn = client.connection_for(co_await asio::this_coro::executor);
    std::size_t seen = max_pending.load();
    while (conn.pending() > seen && !max_pending.compare_exchange_weak(seen, conn.pending())) {
    }
    RedisReply get = co_await client.execute("GET", key);
    if (incr != RedisReply::make_integer(n) || get != RedisReply::make_string(by)) ++mismatches;
  } catch (const std::exception&) {
    ++errors;
  }
  std::lock_guard lock(m);
  ++done;
  cv.notify_all();
}

TEST_F(RedisClientIT, TenThousandConcurrentCoroutinesEachGetTheirOwnReply) {
  constexpr int kCoroutines = 10'000;
  const std::string p = key_prefix("fanout");
  std::vector<std::string> keys;
  for (int i = 0; i < kCoroutines; ++i) keys.push_back(key(p, std::to_string(i)));

  std::atomic<int> mismatches{0}, errors{0}, done{0};
  std::atomic<std::size_t> max_pending{0};
  std::mutex m;
  std::condition_variable cv;
  for (int i = 0; i < kCoroutines; ++i) {
    // Distinct increments: a reply delivered to the wrong caller cannot look right.
    asio::co_spawn(ctx(i % 2), incr_and_get(*client_, keys[i], i + 1, mismatches, errors, max_pending, done, m, cv),
                   asio::detached);
  }
  std::unique_lock lock(m);
  ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return done.load() == kCoroutines; })) << done.load() << " finished";
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(max_pending.load(), 1u) << "commands were not multiplexed on the connection";
  for (int c = 0; c < 2; ++c) {
    EXPECT_EQ(on_thread(ctx(c), [&] { return client_->connection_for(ctx(c).get_executor()).connect_attempts(); }), 1u)
        << "one connection per context, never reconnected";
  }
}

Task<RedisReply> run_script(RedisClient& client, const RedisScript& script, std::string key, std::string arg) {
  std::string_view keys[] = {key};
  std::string_view args[] = {arg};
  co_return co_await client.evalsha(script, keys, args);
}

TEST_F(RedisClientIT, EvalshaFallsBackToEvalAfterScriptFlush) {
  const std::string p = key_prefix("script");
  const std::string k = key(p, "counter");
  // A comment unique to this run, so the script is unknown to Redis at first as well.
  const RedisScript script = RedisScript::from_source("-- " + p + "\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])");

  EXPECT_EQ(run_on(ctx(0), run_script(*client_, script, k, "5")), RedisReply::make_integer(5));
  EXPECT_EQ(run({"SCRIPT", "EXISTS", script.sha1}), RedisReply::make_array({RedisReply::make_integer(1)}));

  ASSERT_TRUE(run({"SCRIPT", "FLUSH"}).is_status("OK"));
  ASSERT_EQ(run({"SCRIPT", "EXISTS", script.sha1}), RedisReply::make_array({RedisReply::make_integer(0)}));
  EXPECT_EQ(run_on(ctx(1), run_script(*client_, script, k, "10")), RedisReply::make_integer(15));
  EXPECT_EQ(run({"SCRIPT", "EXISTS", script.sha1}), RedisReply::make_array({RedisReply::make_integer(1)}))
      << "EVAL reloads the script";

  // Many callers hitting NOSCRIPT at once, pipelined, all fall back.
  ASSERT_TRUE(run({"SCRIPT", "FLUSH"}).is_status("OK"));
  std::vector<std::future<RedisReply>> futures;
  for (int i = 0; i < 200; ++i) {
    futures.push_back(asio::co_spawn(ctx(i % 2), run_script(*client_, script, k, "1"), asio::use_future));
  }
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    RedisReply r = f.get();
    EXPECT_TRUE(r.is_integer()) << r.to_string();
  }
  EXPECT_EQ(run({"GET", k}), RedisReply::make_string("215"));
}

TEST_F(RedisClientIT, ErrorRepliesAreReturnedNotThrown) {
  const std::string p = key_prefix("errors");
  const std::string k = key(p, "text");
  ASSERT_TRUE(run({"SET", k, "not a number"}).is_status("OK"));

  RedisReply r = run({"INCR", k});
  EXPECT_TRUE(r.is_error());
  EXPECT_EQ(r.str.rfind("ERR", 0), 0u) << r.str;
  EXPECT_TRUE(run({"NO_SUCH_COMMAND", "x"}).is_error());

  const RedisScript failing = RedisScript::from_source("return redis.error_reply('BOOM ' .. KEYS[1])");
  RedisReply lua = run_on(ctx(0), run_script(*client_, failing, k, "x"));
  ASSERT_TRUE(lua.is_error()) << lua.to_string();
  EXPECT_EQ(lua.str, "BOOM " + k);

  // The connection is unharmed.
  EXPECT_TRUE(run({"PING"}).is_status("PONG"));
  EXPECT_EQ(on_thread(ctx(0), [&] { return client_->connection_for(ctx(0).get_executor()).connect_attempts(); }), 1u);
}

TEST_F(RedisClientIT, UnknownExecutorIsALogicError) {
  asio::io_context other(1);
  std::future<RedisReply> f = asio::co_spawn(other, exec(*client_, {"PING"}), asio::use_future);
  other.run();
  EXPECT_THROW(f.get(), std::logic_error);
}

TEST_F(RedisClientIT, EmptyCommandIsRejected) {
  EXPECT_THROW(run({}), std::invalid_argument);
  EXPECT_TRUE(run({"PING"}).is_status("PONG"));
}

// --- failure handling, each on its own connection ---------------------------------------------

TEST(RedisConnectionIT, ClosedPortFailsQuicklyAndBackoffWindowFailsFast) {
  IoThreads io(1);
  RedisOptions o;
  o.port = free_port();  // nothing listens there
  o.connect_timeout = 5s;
  o.reconnect_backoff = 60s;  // the whole test runs inside one backoff window
  RedisConnection conn(io[0].get_executor(), o);

  const auto start = Clock::now();
  std::string first = expect_unavailable(io[0], conn.ping());
  EXPECT_LT(Clock::now() - start, o.connect_timeout) << "refused connect must not wait for the timeout";
  EXPECT_NE(first.find("connect to 127.0.0.1:" + std::to_string(o.port)), std::string::npos) << first;

  for (int i = 0; i < 100; ++i) {
    std::string msg = expect_unavailable(io[0], exec(conn, {"GET", "k"}));
    ASSERT_NE(msg.find("backoff"), std::string::npos) << msg;
  }
  EXPECT_EQ(on_thread(io[0], [&] { return conn.connect_attempts(); }), 1u) << "the backoff window made no attempts";
  EXPECT_FALSE(on_thread(io[0], [&] { return conn.connected(); }));
}

TEST(RedisConnectionIT, RetriesAfterTheBackoffWindow) {
  IoThreads io(1);
  RedisOptions o;
  o.port = free_port();
  o.reconnect_backoff = 50ms;
  RedisConnection conn(io[0].get_executor(), o);
  expect_unavailable(io[0], conn.ping());
  const auto deadline = Clock::now() + 10s;
  while (on_thread(io[0], [&] { return conn.connect_attempts(); }) < 3 && Clock::now() < deadline) {
    expect_unavailable(io[0], conn.ping());
  }
  EXPECT_GE(on_thread(io[0], [&] { return conn.connect_attempts(); }), 3u);
}

TEST(RedisConnectionIT, CommandTimeoutFailsEveryPendingCaller) {
  SilentServer silent;
  IoThreads io(1);
  RedisOptions o;
  o.port = silent.port();
  o.command_timeout = 300ms;
  o.reconnect_backoff = 0ms;
  RedisConnection conn(io[0].get_executor(), o);

  const auto start = Clock::now();
  std::vector<std::future<RedisReply>> calls;
  for (int i = 0; i < 20; ++i)
    calls.push_back(asio::co_spawn(io[0], exec(conn, {"GET", std::to_string(i)}), asio::use_future));
  for (auto& f : calls) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    try {
      f.get();
      ADD_FAILURE() << "a command to a silent server succeeded";
    } catch (const DependencyUnavailable& e) {
      EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
    }
  }
  EXPECT_GE(Clock::now() - start, o.command_timeout) << "timed out early";
  EXPECT_EQ(on_thread(io[0], [&] { return conn.pending(); }), 0u);
  EXPECT_FALSE(on_thread(io[0], [&] { return conn.connected(); }));
  // The next call reconnects (and times out again).
  expect_unavailable(io[0], exec(conn, {"PING"}));
  EXPECT_EQ(on_thread(io[0], [&] { return conn.connect_attempts(); }), 2u);
}

TEST(RedisConnectionIT, HandshakeIsBoundedByConnectTimeout) {
  SilentServer silent;
  IoThreads io(1);
  RedisOptions o;
  o.port = silent.port();
  o.password = "pw";  // AUTH never gets an answer
  o.connect_timeout = 200ms;
  RedisConnection conn(io[0].get_executor(), o);
  std::string msg = expect_unavailable(io[0], conn.ping());
  EXPECT_NE(msg.find("connect timed out"), std::string::npos) << msg;
}

TEST(RedisConnectionIT, CloseFailsPendingCallersAndLaterCalls) {
  SilentServer silent;
  IoThreads io(1);
  RedisOptions o;
  o.port = silent.port();
  o.command_timeout = 60s;
  RedisConnection conn(io[0].get_executor(), o);
  std::future<RedisReply> pending = asio::co_spawn(io[0], exec(conn, {"GET", "k"}), asio::use_future);
  const auto deadline = Clock::now() + 10s;
  while (!on_thread(io[0], [&] { return conn.connected() && conn.pending() == 1; }) && Clock::now() < deadline) {
  }
  on_thread(io[0], [&] {
    conn.close();
    return 0;
  });
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  EXPECT_THROW(pending.get(), DependencyUnavailable);
  std::string msg = expect_unavailable(io[0], conn.ping());
  EXPECT_NE(msg.find("closed"), std::string::npos) << msg;
}

TEST(RedisConnectionIT, AuthAndSelectFromOptions) {
  RedisProcess server(free_port(), {"--requirepass", "it-secret"});
  server.start();
  if (HasFatalFailure()) return;
  IoThreads io(1);

  RedisOptions o = parse_redis_url("redis://:it-secret@127.0.0.1:" + std::to_string(server.port()) + "/5");
  RedisConnection conn(io[0].get_executor(), o);
  RedisReply info = run_on(io[0], exec(conn, {"CLIENT", "INFO"}));
  ASSERT_TRUE(info.is_string()) << info.to_string();
  EXPECT_NE(info.str.find(" db=5 "), std::string::npos) << info.str;

  RedisOptions wrong = o;
  wrong.password = "nope";
  RedisConnection bad(io[0].get_executor(), wrong);
  std::string msg = expect_unavailable(io[0], bad.ping());
  EXPECT_NE(msg.find("AUTH rejected"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("nope"), std::string::npos) << "the password leaked into the error: " << msg;
}

TEST(RedisConnectionIT, ReconnectsAfterRedisIsKilledAndRestarted) {
  RedisProcess server(free_port());
  server.start();
  if (HasFatalFailure()) return;
  IoThreads io(1);
  RedisOptions o;
  o.port = server.port();
  o.reconnect_backoff = 50ms;
  RedisClient client(io.executors(), o);
  RedisConnection& conn = client.connection_for(io[0].get_executor());

  ASSERT_TRUE(run_on(io[0], exec(client, {"SET", "before", "1"})).is_status("OK"));
  // A command parked on the server when it dies, plus one queued behind it.
  std::future<RedisReply> blocked = asio::co_spawn(io[0], exec(client, {"BLPOP", "never", "0"}), asio::use_future);
  std::future<RedisReply> behind = asio::co_spawn(io[0], exec(client, {"GET", "before"}), asio::use_future);
  const auto deadline = Clock::now() + 10s;
  while (on_thread(io[0], [&] { return conn.pending(); }) < 2 && Clock::now() < deadline) {
  }

  server.kill();
  for (auto* f : {&blocked, &behind}) {
    ASSERT_EQ(f->wait_for(10s), std::future_status::ready);
    EXPECT_THROW(f->get(), DependencyUnavailable);
  }
  for (int i = 0; i < 20; ++i) expect_unavailable(io[0], exec(client, {"PING"}));
  EXPECT_FALSE(on_thread(io[0], [&] { return conn.connected(); }));

  server.start();  // same port
  if (HasFatalFailure()) return;
  bool back = false;
  const auto restart_deadline = Clock::now() + 10s;
  while (!back && Clock::now() < restart_deadline) {
    try {
      run_on(io[0], client.ping());
      back = true;
    } catch (const DependencyUnavailable&) {
    }
  }
  ASSERT_TRUE(back) << "the same client never recovered";
  EXPECT_TRUE(run_on(io[0], exec(client, {"GET", "before"})).is_nil()) << "this is the new, empty server";
  EXPECT_TRUE(run_on(io[0], exec(client, {"SET", "after", "2"})).is_status("OK"));
  EXPECT_EQ(run_on(io[0], exec(client, {"GET", "after"})), RedisReply::make_string("2"));
  EXPECT_TRUE(on_thread(io[0], [&] { return conn.connected(); }));
}

}  // namespace
}  // namespace ticketing::infra::redis
