// GET /actuator/prometheus (issue 6): valid exposition, bounded labels, cumulative buckets.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

using namespace ticketing::testing;

namespace {

std::string scrape(std::uint16_t port) {
  const auto r = http(port, "GET", "/actuator/prometheus");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/plain"), std::string::npos);
  return r.body;
}

std::set<std::string> series_of(const std::string& text, const std::string& name) {
  std::set<std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) == 0 || line.rfind(name + " ", 0) == 0) out.insert(line.substr(0, line.rfind(' ')));
  }
  return out;
}

}  // namespace

TEST(Metrics, ExpositionIsValidAndCarriesTheDocumentedFamilies) {
  TestServer server;
  http(server.port(), "GET", "/concerts");
  http(server.port(), "GET", "/schedules/abc/seats");
  const auto text = scrape(server.port());
  for (const char* family :
       {"http_server_requests_seconds_bucket", "http_server_requests_seconds_count", "process_cpu_seconds_total",
        "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds", "ticketing_db_pool_size",
        "ticketing_redis_command_seconds_count", "ticketing_queue_entered_total", "ticketing_holds_total",
        "ticketing_orders_total", "ticketing_confirm_latency_seconds_bucket", "ticketing_outbox_backlog",
        "ticketing_kafka_consumed_total", "ticketing_kafka_consumer_lag", "ticketing_db_pool_size{pool=\"holds\"}",
        "ticketing_db_pool_size{pool=\"jobs\"}", "ticketing_db_pool_size{pool=\"requests\"}",
        "ticketing_db_pool_size{pool=\"payments\"}"}) {
    EXPECT_NE(text.find(family), std::string::npos) << family;
  }
  EXPECT_NE(text.find(R"(http_server_requests_seconds_count{method="GET",status="400",uri="/schedules/{id}/seats"})"),
            std::string::npos)
      << text.substr(0, 2000);

  // promtool (Debian's prometheus package) is the parser of record.
  const std::string file = fmt::format("/tmp/ticketing-metrics-{}.txt", getpid());
  std::ofstream(file) << text;
  const int rc = std::system(fmt::format("promtool check metrics < {} > /dev/null 2>&1", file).c_str());
  std::remove(file.c_str());
  EXPECT_EQ(rc, 0) << "promtool check metrics rejected the exposition";
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  prepare_test_database();  // GET /concerts must be 200: run alone, no earlier test has migrated
  TestServer server;
  for (int i = 0; i < 20; ++i) http(server.port(), "GET", "/concerts");
  const auto text = scrape(server.port());
  const std::regex bucket(
      R"re(http_server_requests_seconds_bucket\{method="GET",status="200",uri="/concerts",le="([^"]+)"\} (\d+))re");
  std::vector<long> counts;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), bucket); it != std::sregex_iterator(); ++it) {
    counts.push_back(std::stol((*it)[2]));
  }
  ASSERT_GT(counts.size(), 5u);
  for (std::size_t i = 1; i < counts.size(); ++i) EXPECT_LE(counts[i - 1], counts[i]) << "bucket " << i;
  EXPECT_EQ(counts.back(), 20) << "+Inf bucket must hold every request";
}

TEST(Metrics, SeriesDoNotGrowWithIdsInRequests) {
  ensure_users(1000);
  TestServer server;
  auto series_count = [&] {
    const auto text = scrape(server.port());
    return series_of(text, "http_server_requests_seconds_count").size();
  };
  // Warm every route/status combination once, then hit them with 1,000 distinct ids.
  http(server.port(), "GET", "/schedules/1/seats");
  http(server.port(), "GET", "/schedules/999999/seats");
  // A schedule nobody queues for: a waiter polling twice in a row would be paced (429), a status
  // the warm-up may not have seen.
  http(server.port(), "GET", "/queue/status?scheduleId=999999", "", as_user(1));
  http(server.port(), "GET", "/queue/status?scheduleId=999999", "", as_user(999));
  http(server.port(), "GET", "/payment/ORD-1", "", as_user(1));
  http(server.port(), "GET", "/me/reservations", "", as_user(1));
  series_count();  // the scrape's own series appears from the next scrape on
  const auto before = series_count();
  for (int id = 1; id <= 1000; ++id) {
    http(server.port(), "GET", fmt::format("/schedules/{}/seats", 100000 + id));
    http(server.port(), "GET", "/queue/status?scheduleId=999999", "", as_user(id));
    http(server.port(), "GET", fmt::format("/payment/ORD-{}", id), "", as_user(id));
    http(server.port(), "GET", "/me/reservations", "", as_user(id));
  }
  EXPECT_EQ(series_count(), before) << "a label carries ids or raw paths";
  EXPECT_EQ(scrape(server.port()).find("userId"), std::string::npos);
}

TEST(Metrics, UnknownMethodsAreRecordedAsOtherNotAsSentMethods) {
  prepare_test_database();
  TestServer server;
  auto series = [&] { return series_of(scrape(server.port()), "http_server_requests_seconds_count"); };
  http(server.port(), "GET", "/concerts");
  series();  // the scrape's own series appears from the next scrape on
  const auto before = series();

  // Any token is a valid method on the wire: made-up ones, a WebDAV verb Beast knows, a lower-case
  // "get" (methods are case-sensitive), on a known route and on an unknown path.
  const std::vector<std::string> methods = {"FOOBAR1", "FOOBAR2", "XYZ", "PROPFIND", "get"};
  for (const auto& method : methods) {
    for (const char* target : {"/concerts", "/no/such/route"}) {
      const auto response = parse_response(raw_exchange(
          server.port(), method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
      EXPECT_GE(response.status, 400) << method << " " << target;
    }
  }
  for (int i = 0; i < 100; ++i) {
    raw_exchange(server.port(), fmt::format("RANDOM{} /concerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", i));
  }

  const auto text = scrape(server.port());
  for (const char* sent : {"FOOBAR1", "FOOBAR2", "XYZ", "PROPFIND", "method=\"get\"", "RANDOM"}) {
    EXPECT_EQ(text.find(sent), std::string::npos) << sent << " became a label value";
  }
  const auto after = series_of(text, "http_server_requests_seconds_count");
  std::size_t other = 0;
  for (const auto& s : after) {
    if (s.find(R"(method="OTHER")") != std::string::npos) ++other;
    // Every label is bounded: a known method or OTHER, a route template or UNKNOWN, a number.
    static const std::regex shape(
        R"re(http_server_requests_seconds_count\{method="(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|OTHER)",status="[1-5][0-9][0-9]",uri="(UNKNOWN|/[^"]*)"\})re");
    EXPECT_TRUE(std::regex_match(s, shape)) << s;
  }
  EXPECT_GE(other, 1u);
  EXPECT_LE(after.size(), before.size() + other) << "series grew beyond the OTHER ones";
  for (const auto& s : after) {
    if (before.count(s) == 0) {
      EXPECT_NE(s.find(R"(method="OTHER")"), std::string::npos) << "new series " << s;
    }
  }
  EXPECT_NE(text.find(R"(http_server_requests_seconds_count{method="OTHER",status="501",uri="/concerts"})"),
            std::string::npos)
      << text.substr(0, 2000);
}
