// Limits and server hardening end to end (issue 17 item 5, docs/limits.md): per-address limits,
// http.max-connections, the accept backoff when descriptors run out, and admission rounds that one
// broken schedule cannot stop.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json/parse.hpp>
#include <csignal>
#include <filesystem>
#include <memory>
#include <regex>
#include <vector>

#include "infra/redis/redis_queue_store.hpp"
#include "infra/security/random.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::string code_of(const HttpResponse& response) {
  return std::string(json::parse(response.body).at("code").as_string());
}

std::string db_value(const std::string& sql) {
  auto db = test_db();
  const auto rows = db->query(sql);
  return rows.rows.empty() || !rows.rows[0][0] ? std::string("NULL") : *rows.rows[0][0];
}

// A keep-alive connection that answers a request: the server accepted it and serves it.
bool serves(RawConnection& connection) {
  connection.send("GET /actuator/health HTTP/1.1\r\nHost: t\r\n\r\n");
  return connection.read_until("\r\n\r\n", 5s).find("HTTP/1.1 200") != std::string::npos;
}

std::string key(std::int64_t schedule, const char* suffix) {
  return infra::redis::RedisQueueStore::key(domain::ScheduleId{schedule}, suffix);
}

}  // namespace

// The limit is on once loopback is not exempt: the anonymous endpoints answer 429 with Retry-After
// past the burst, /auth/* has a bucket of its own, a refused sign-up writes nothing, and routes
// that need an access token are not limited by address.
TEST(Limits, AnonymousAndSignInEndpointsAre429PerAddress) {
  ensure_users(1);
  TestServer server({"http.rate-limit-exempt=", "http.anonymous-rate=1", "http.anonymous-burst=5",
                     "http.sign-in-rate=1", "http.sign-in-burst=1"});
  // The burst of 5 goes through, then 429 (a token comes back each second, so a slow machine may
  // get one more in between).
  const auto started = std::chrono::steady_clock::now();
  int allowed = 0;
  HttpResponse refused;
  for (int i = 0; i < 50 && refused.status == 0; ++i) {
    auto response = http(server.port(), "GET", "/concerts");
    if (response.status == 200) {
      ++allowed;
    } else {
      refused = std::move(response);
    }
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  EXPECT_GE(allowed, 5);
  EXPECT_LE(allowed, 5 + seconds.count() + 1);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(code_of(refused), "TOO_MANY_REQUESTS");
  EXPECT_EQ(refused.header("retry-after"), "1");
  // The other anonymous endpoints share the address's bucket.
  const auto refused_soon = [&](const std::string& target) {
    for (int i = 0; i < 5; ++i) {
      if (http(server.port(), "GET", target).status == 429) return true;
    }
    return false;
  };
  EXPECT_TRUE(refused_soon("/.well-known/ticket-key"));
  EXPECT_TRUE(refused_soon("/schedules/1/seats"));
  EXPECT_TRUE(refused_soon("/schedules/1/fairness"));

  const std::string email = fmt::format("limits-{}@example.com", infra::security::random_hex(6));
  const auto signup_body = [](const std::string& address) {
    return fmt::format(R"({{"email":"{}","password":"a long password","name":"Fan"}})", address);
  };
  std::string refused_email;
  HttpResponse limited;
  for (int i = 0; i < 5 && refused_email.empty(); ++i) {
    const std::string address = std::to_string(i) + email;
    auto response = http(server.port(), "POST", "/auth/signup", signup_body(address));
    if (response.status == 429) {
      refused_email = address;
      limited = std::move(response);
    } else {
      EXPECT_EQ(response.status, 201) << response.body;
    }
  }
  ASSERT_FALSE(refused_email.empty()) << "sign-ups were never limited";
  EXPECT_EQ(code_of(limited), "TOO_MANY_REQUESTS");
  EXPECT_FALSE(limited.header("retry-after").empty());
  EXPECT_EQ(limited.header("cache-control"), "no-store") << "a session route's refusal is kept by no cache";
  EXPECT_EQ(db_value("SELECT COUNT(*) FROM user_account WHERE email = '" + refused_email + "'"), "0")
      << "a refused sign-up wrote the account";
  const auto refresh_limited = http(server.port(), "POST", "/auth/refresh", "{}");
  EXPECT_EQ(refresh_limited.status, 429);
  EXPECT_EQ(refresh_limited.header("cache-control"), "no-store");

  for (int i = 0; i < 20; ++i) EXPECT_EQ(http(server.port(), "GET", "/me", "", as_user(1)).status, 200) << i;
  EXPECT_EQ(http(server.port(), "GET", "/actuator/health").status, 200);

  // The rate brings a token back: whole seconds as Retry-After said.
  EXPECT_TRUE(wait_for([&] { return http(server.port(), "GET", "/concerts").status == 200; }, 5s, 250ms));
}

// With the shipped default loopback is exempt: the benches and load tests (all on 127.0.0.1) are
// never limited.
TEST(Limits, LoopbackIsExemptByDefault) {
  TestServer server({"http.anonymous-rate=1", "http.anonymous-burst=1"});
  for (int i = 0; i < 30; ++i) EXPECT_EQ(http(server.port(), "GET", "/concerts").status, 200) << i;
}

// http.max-connections: the connections past the cap are closed at once, those within it stay
// usable, and once some end new ones are served again.
TEST(Limits, ConnectionsPastTheCapAreClosedAtOnce) {
  TestServer server({"http.max-connections=50", "http.read-timeout=1h", "http.idle-timeout=1h"});
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 50; ++i) {
    open.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(serves(*open.back())) << "connection " << i << " within the cap was not served";
  }
  for (int i = 0; i < 15; ++i) {
    RawConnection extra(server.port());  // the kernel completes the handshake; the server closes it
    EXPECT_TRUE(extra.closed_within(5s)) << "connection " << 50 + i << " past the cap stayed open";
  }
  for (auto& connection : open) EXPECT_TRUE(serves(*connection)) << "a connection within the cap was dropped";
  open.resize(40);  // ten end
  EXPECT_TRUE(wait_for(
      [&] {
        RawConnection again(server.port());
        return serves(again);
      },
      10s, 50ms))
      << "no new connection was served after ten ended";
  const auto scrape = http(server.port(), "GET", "/actuator/prometheus").body;
  EXPECT_GE(metric(scrape, "ticketing_http_connections_refused_total"), 15);
  EXPECT_GE(metric(scrape, "ticketing_http_connections_accepted_total"), 51);
}

// Out of descriptors (a low RLIMIT_NOFILE): accept() fails with EMFILE; the server backs off
// instead of retrying at once, keeps serving, and accepts again once descriptors are free.
TEST(Limits, AcceptBacksOffWhenDescriptorsRunOutAndRecovers) {
  const std::uint16_t port = free_port();
  ChildProcess process({"prlimit", "--nofile=400:400", "--", TICKETING_BINARY, "--profile", "test", "--set",
                        "http.port=" + std::to_string(port), "--set", "http.address=127.0.0.1", "--set",
                        "log.access=false", "--set", "http.read-timeout=1h", "serve"});
  ASSERT_TRUE(wait_for(
      [&] {
        try {
          return http(port, "GET", "/actuator/health").status == 200;
        } catch (...) {
          return false;
        }
      },
      30s, 100ms));
  const auto open_descriptors = [&] {
    return std::distance(std::filesystem::directory_iterator("/proc/" + std::to_string(process.pid()) + "/fd"),
                         std::filesystem::directory_iterator());
  };
  RawConnection probe(port);  // opened before the flood
  ASSERT_TRUE(serves(probe));
  std::vector<std::unique_ptr<RawConnection>> flood;
  for (int i = 0; i < 600; ++i) flood.push_back(std::make_unique<RawConnection>(port));
  // Those accepted before the descriptors ran out are served.
  EXPECT_TRUE(serves(*flood.front()));
  // Every descriptor in use (more connections wait in the backlog): accept() now fails with EMFILE.
  ASSERT_TRUE(wait_for([&] { return open_descriptors() >= 399; }, 20s)) << open_descriptors() << " descriptors open";
  // The metrics still answer on a connection the server has (they need no new descriptor).
  probe.send("GET /actuator/prometheus HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const auto during = parse_response(probe.read_until("no such text: read until closed", 10s));
  EXPECT_EQ(during.status, 200) << during.raw.substr(0, 300);
  EXPECT_GE(metric(during.body, "ticketing_http_accept_failures_total"), 0);
  flood.clear();
  // Descriptors free again: the connections waiting in the backlog and new ones are served.
  ASSERT_TRUE(wait_for(
      [&] {
        try {
          return http(port, "GET", "/actuator/health").status == 200;
        } catch (...) {
          return false;
        }
      },
      20s, 100ms))
      << "the server did not serve again after descriptors were freed";
  const auto scrape = http(port, "GET", "/actuator/prometheus").body;
  EXPECT_GT(metric(scrape, "ticketing_http_accept_failures_total"), 0) << "the flood never hit EMFILE";
  EXPECT_GT(metric(scrape, "ticketing_http_accept_backoff_seconds_total"), 0) << "failed accepts did not back off";
}

// A schedule whose queue key holds garbage (the admit script errors with WRONGTYPE) does not stop
// the admission round: another schedule's waiters are admitted, and the failure is counted.
// An idle schedule leaves queue:schedules after queue.idle-retire-after; a busy one stays.
TEST(Limits, OnePoisonedScheduleDoesNotStopAdmissionAndIdleSchedulesRetire) {
  ensure_users(3);
  const auto poisoned = create_schedule();
  const auto healthy = create_schedule();
  const auto finished = create_schedule();
  RedisInspector redis;
  redis.string({"SET", key(poisoned, "waiting"), "garbage"});
  redis.integer({"SADD", "queue:schedules", std::to_string(poisoned)});
  TestServer server({"queue.max-active=1", "queue.admission-interval=50ms", "queue.heartbeat-timeout=1h",
                     "queue.active-ttl=1h", "queue.idle-retire-after=1s"});
  const auto status_of = [&](std::int64_t user, std::int64_t schedule) {
    const auto response =
        http(server.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(user));
    return response.status == 200 ? std::string(json::parse(response.body).at("status").as_string()) : "";
  };
  for (std::int64_t user : {1, 2}) {
    EXPECT_EQ(http(server.port(), "POST", "/queue/enter", fmt::format(R"({{"scheduleId":{}}})", healthy), as_user(user))
                  .status,
              200);
  }
  // User 1 took the one slot on arrival; user 2 waits until an admission round gives it the slot
  // user 1 gives up.
  EXPECT_EQ(status_of(1, healthy), "ADMITTED");
  // (A waiter's first status is paced: asked until it is let through.)
  EXPECT_TRUE(wait_for([&] { return status_of(2, healthy) == "WAITING"; }, 5s, 100ms));
  EXPECT_EQ(http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", healthy), "", as_user(1)).status, 204);
  EXPECT_TRUE(wait_for([&] { return status_of(2, healthy) == "ADMITTED"; }, 10s, 100ms))
      << "the poisoned schedule stopped the other schedule's admissions";
  EXPECT_TRUE(wait_for(
      [&] {
        return metric(http(server.port(), "GET", "/actuator/prometheus").body,
                      "ticketing_queue_admission_failures_total") > 0;
      },
      10s, 100ms));

  // A queue that emptied (its only user left) drops out of the registry; the busy one stays.
  EXPECT_EQ(
      http(server.port(), "POST", "/queue/enter", fmt::format(R"({{"scheduleId":{}}})", finished), as_user(3)).status,
      200);
  EXPECT_EQ(redis.integer({"SISMEMBER", "queue:schedules", std::to_string(finished)}), 1);
  EXPECT_EQ(http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", finished), "", as_user(3)).status, 204);
  EXPECT_TRUE(wait_for(
      [&] {
        return redis.integer({"SISMEMBER", "queue:schedules", std::to_string(finished)}) == 0;
      },
      10s, 100ms))
      << "the idle schedule stayed in queue:schedules";
  EXPECT_EQ(redis.integer({"SISMEMBER", "queue:schedules", std::to_string(healthy)}), 1) << "a live queue was dropped";
  EXPECT_EQ(redis.integer({"SISMEMBER", "queue:schedules", std::to_string(poisoned)}), 1)
      << "a failing schedule is never retired on a failed round's word";
  // Entering again brings the retired schedule back at once (the instance forgot its registration).
  EXPECT_EQ(
      http(server.port(), "POST", "/queue/enter", fmt::format(R"({{"scheduleId":{}}})", finished), as_user(3)).status,
      200);
  EXPECT_EQ(redis.integer({"SISMEMBER", "queue:schedules", std::to_string(finished)}), 1);
  EXPECT_TRUE(wait_for([&] { return status_of(3, finished) == "ADMITTED"; }, 10s, 100ms));

  redis.integer({"DEL", key(poisoned, "waiting")});
  redis.integer({"SREM", "queue:schedules", std::to_string(poisoned)});
}

// SIGTERM while the acceptor waits out its backoff (descriptors exhausted, connections idle): the
// server still drains and exits within the shutdown timeout.
TEST(Limits, ShutdownStaysGracefulWhileAcceptBacksOff) {
  const std::uint16_t port = free_port();
  ChildProcess process({"prlimit", "--nofile=400:400", "--", TICKETING_BINARY, "--profile", "test", "--set",
                        "http.port=" + std::to_string(port), "--set", "http.address=127.0.0.1", "--set",
                        "log.access=false", "--set", "http.read-timeout=1h", "--set", "http.shutdown-timeout=2s",
                        "serve"});
  ASSERT_TRUE(wait_for(
      [&] {
        try {
          return http(port, "GET", "/actuator/health").status == 200;
        } catch (...) {
          return false;
        }
      },
      30s, 100ms));
  const std::string fd_dir = "/proc/" + std::to_string(process.pid()) + "/fd";
  std::vector<std::unique_ptr<RawConnection>> flood;
  for (int i = 0; i < 600; ++i) flood.push_back(std::make_unique<RawConnection>(port));
  ASSERT_TRUE(wait_for(
      [&] {
        return std::distance(std::filesystem::directory_iterator(fd_dir), std::filesystem::directory_iterator()) >= 399;
      },
      20s));
  ASSERT_EQ(::kill(process.pid(), SIGTERM), 0);
  // WNOWAIT: look without reaping; ChildProcess reaps it (and so never signals a reused pid).
  siginfo_t info{};
  const bool exited = wait_for(
      [&] {
        info = {};
        return ::waitid(P_PID, static_cast<id_t>(process.pid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == process.pid();
      },
      15s);
  EXPECT_TRUE(exited) << "the server did not exit after SIGTERM while out of descriptors";
  if (exited) {
    EXPECT_EQ(info.si_code, CLD_EXITED) << "ended by signal " << info.si_status;
    EXPECT_EQ(info.si_status, 0);
  }
  // The open client connections were closed by the server (reset or FIN), not left hanging.
  EXPECT_TRUE(flood.front()->closed_within(5s));
}
