// What one database round trip costs the service, two ways (issue 14, docs/performance.md):
//   pool        today's MysqlPool::run: the I/O thread hands the work to a pool thread, which
//               blocks in Connector/C, then hands the result back (two thread switches per call);
//   nonblocking Connector/C's non-blocking API (MYSQL_OPT_NONBLOCK, mysql_stmt_execute_start/_cont)
//               driven on the I/O thread itself, which waits for the socket in its epoll loop.
// Both run the same prepared primary-key SELECT, `--in-flight` calls at once from one
// single-threaded io_context (as on one HTTP I/O thread), and print the CPU of this process and of
// mariadbd per call (from /proc), and calls/s.
//   db_hop_bench --db mysql://user:pass@127.0.0.1:13306/db --calls 20000 --in-flight 1|16|64
#include <mariadb/mysql.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "infra/config/config.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace asio = boost::asio;
using namespace ticketing;

namespace {

constexpr const char* kQuery = "SELECT id, email FROM user_account WHERE id = ?";

// utime + stime of a process, in clock ticks.
long long cpu_ticks(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string skip;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 13; ++i) fields >> skip;
  fields >> utime >> stime;
  return utime + stime;
}

std::string mariadb_pid() {
  FILE* p = popen("pgrep -x mariadbd | head -n1", "r");
  char buf[32] = {};
  if (p && fgets(buf, sizeof buf, p)) {
    pclose(p);
    std::string s(buf);
    return s.substr(0, s.find('\n'));
  }
  if (p) pclose(p);
  throw std::runtime_error("mariadbd not running");
}

// ---- non-blocking: one connection per in-flight caller, driven on the io_context ----------------

struct AsyncConn {
  MYSQL* mysql = nullptr;
  MYSQL_STMT* stmt = nullptr;
  std::unique_ptr<asio::posix::stream_descriptor> socket;
  // Bound once: Connector/C keeps pointers to these between calls.
  struct Binds {
    long long id = 0;
    long long got = 0;
    char email[256] = {};
    unsigned long email_len = 0;
    MYSQL_BIND param{};
    MYSQL_BIND out[2]{};
  };
  std::unique_ptr<Binds> binds = std::make_unique<Binds>();
};

// Waits for what Connector/C asked for (read/write readiness; timeouts are not used here).
asio::awaitable<int> wait_for(AsyncConn& c, int status) {
  if (status & MYSQL_WAIT_READ) {
    co_await c.socket->async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable);
    co_return MYSQL_WAIT_READ;
  }
  co_await c.socket->async_wait(asio::posix::stream_descriptor::wait_write, asio::use_awaitable);
  co_return MYSQL_WAIT_WRITE;
}

asio::awaitable<void> nonblocking_caller(AsyncConn& c, int calls, long long first_id, int& failures) {
  auto& b = *c.binds;
  for (int i = 0; i < calls; ++i) {
    b.id = first_id + i % 1000;
    int ret = 0;
    int status = mysql_stmt_execute_start(&ret, c.stmt);
    while (status) {
      const int ready = co_await wait_for(c, status);
      status = mysql_stmt_execute_cont(&ret, c.stmt, ready);
    }
    if (ret != 0) {
      ++failures;
      continue;
    }
    status = mysql_stmt_store_result_start(&ret, c.stmt);
    while (status) {
      const int ready = co_await wait_for(c, status);
      status = mysql_stmt_store_result_cont(&ret, c.stmt, ready);
    }
    while (mysql_stmt_fetch(c.stmt) == 0) {
    }
    mysql_stmt_free_result(c.stmt);
  }
}

AsyncConn open_nonblocking(asio::io_context& io, const infra::mysql::DbEndpoint& db) {
  AsyncConn c;
  c.mysql = mysql_init(nullptr);
  mysql_options(c.mysql, MYSQL_OPT_NONBLOCK, nullptr);
  if (!mysql_real_connect(c.mysql, db.host.c_str(), db.user.c_str(), db.password.c_str(), db.database.c_str(), db.port,
                          nullptr, 0)) {
    throw std::runtime_error(std::string("connect: ") + mysql_error(c.mysql));
  }
  c.stmt = mysql_stmt_init(c.mysql);
  if (mysql_stmt_prepare(c.stmt, kQuery, std::strlen(kQuery)) != 0) {
    throw std::runtime_error(std::string("prepare: ") + mysql_stmt_error(c.stmt));
  }
  auto& b = *c.binds;
  b.param.buffer_type = MYSQL_TYPE_LONGLONG;
  b.param.buffer = &b.id;
  b.out[0].buffer_type = MYSQL_TYPE_LONGLONG;
  b.out[0].buffer = &b.got;
  b.out[1].buffer_type = MYSQL_TYPE_STRING;
  b.out[1].buffer = b.email;
  b.out[1].buffer_length = sizeof b.email;
  b.out[1].length = &b.email_len;
  mysql_stmt_bind_param(c.stmt, &b.param);
  mysql_stmt_bind_result(c.stmt, b.out);
  // A dup of the socket for asio's reactor, so closing the descriptor leaves Connector/C's alone.
  c.socket = std::make_unique<asio::posix::stream_descriptor>(io, ::dup(mysql_get_socket(c.mysql)));
  return c;
}

// ---- through MysqlPool::run ------------------------------------------------------------------

asio::awaitable<void> pool_caller(infra::mysql::MysqlPool& pool, int calls, long long first_id, int& failures) {
  for (int i = 0; i < calls; ++i) {
    const std::int64_t id = first_id + i % 1000;
    auto work = [id](infra::mysql::MysqlConnection& db) { return db.query(kQuery, {id}).rows.size(); };
    try {
      co_await pool.run(work);
    } catch (const std::exception&) {
      ++failures;
    }
  }
}

struct Result {
  double self_us, db_us, calls_per_s;
  int failures;
};

template <typename Spawn>
Result measure(asio::io_context& io, const std::string& db_pid, int total_calls, Spawn spawn) {
  int failures = 0;
  const auto self0 = cpu_ticks("self");
  const auto db0 = cpu_ticks(db_pid);
  const auto t0 = std::chrono::steady_clock::now();
  spawn(io, failures);
  io.run();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  return Result{(cpu_ticks("self") - self0) / hz * 1e6 / total_calls,
                (cpu_ticks(db_pid) - db0) / hz * 1e6 / total_calls, total_calls / secs, failures};
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int calls = 20000;
  int in_flight = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--db") url = argv[i + 1];
    if (key == "--calls") calls = std::stoi(argv[i + 1]);
    if (key == "--in-flight") in_flight = std::stoi(argv[i + 1]);
  }
  if (url.empty() || in_flight < 1 || calls < in_flight) {
    std::cerr << "usage: db_hop_bench --db mysql://user:pass@host:port/db [--calls N] [--in-flight K]\n";
    return 2;
  }
  const auto parsed = infra::config::parse_db_url(url);
  infra::mysql::DbEndpoint endpoint;
  endpoint.host = parsed.host;
  endpoint.port = parsed.port;
  endpoint.user = parsed.user;
  endpoint.password = parsed.password;
  endpoint.database = parsed.database;
  const auto db_pid = mariadb_pid();
  const int per_caller = calls / in_flight;
  const int total = per_caller * in_flight;

  infra::mysql::MysqlPool pool(endpoint, infra::mysql::PoolOptions{in_flight, 4096, std::chrono::seconds(30), false});
  {  // warm the pool's connections and prepared statements
    asio::io_context io(1);
    int f = 0;
    for (int k = 0; k < in_flight; ++k) asio::co_spawn(io, pool_caller(pool, 20, 1, f), asio::detached);
    io.run();
  }
  asio::io_context pool_io(1);
  const auto pooled = measure(pool_io, db_pid, total, [&](asio::io_context& io, int& failures) {
    for (int k = 0; k < in_flight; ++k) {
      asio::co_spawn(io, pool_caller(pool, per_caller, 1 + k * 1000LL, failures), asio::detached);
    }
  });

  asio::io_context direct_io(1);
  std::vector<AsyncConn> conns;
  for (int k = 0; k < in_flight; ++k) conns.push_back(open_nonblocking(direct_io, endpoint));
  const auto direct = measure(direct_io, db_pid, total, [&](asio::io_context& io, int& failures) {
    for (int k = 0; k < in_flight; ++k) {
      asio::co_spawn(io, nonblocking_caller(conns[k], per_caller, 1 + k * 1000LL, failures), asio::detached);
    }
  });
  for (auto& c : conns) {
    c.socket.reset();
    mysql_stmt_close(c.stmt);
    mysql_close(c.mysql);
  }
  pool.stop();

  std::printf("db-hop: %d calls, %d in flight, one prepared primary-key SELECT each\n", total, in_flight);
  std::printf("  %-12s %10s %12s %10s %8s\n", "mode", "bench us", "mariadbd us", "calls/s", "failed");
  std::printf("  %-12s %10.1f %12.1f %10.0f %8d\n", "pool", pooled.self_us, pooled.db_us, pooled.calls_per_s,
              pooled.failures);
  std::printf("  %-12s %10.1f %12.1f %10.0f %8d\n", "nonblocking", direct.self_us, direct.db_us, direct.calls_per_s,
              direct.failures);
  return pooled.failures + direct.failures == 0 ? 0 : 1;
}
