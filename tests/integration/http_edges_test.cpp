// The HTTP contract of DESIGN.md §5 "HTTP edges", tested over raw sockets.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <thread>

#include "support.hpp"

using namespace ticketing::testing;
namespace json = boost::json;

class HttpEdges : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prepare_test_database();
    server_ = new TestServer({"http.read-timeout=1s", "http.idle-timeout=2s", "http.max-body=1KiB"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::uint16_t port() { return server_->port(); }
  static TestServer* server_;

  static void expect_json_error(const HttpResponse& response, int status, const std::string& code) {
    EXPECT_EQ(response.status, status) << response.raw;
    EXPECT_EQ(response.header("content-type"), "application/json") << response.raw;
    const auto body = json::parse(response.body).as_object();
    EXPECT_EQ(body.at("code").as_string(), code);
    EXPECT_EQ(body.at("status").as_int64(), status);
    EXPECT_TRUE(body.at("message").is_string());
    EXPECT_TRUE(body.at("path").is_string());
    EXPECT_TRUE(body.at("errors").is_array());
    EXPECT_EQ(body.at("requestId").as_string(), response.header("x-request-id"));
    EXPECT_FALSE(response.header("x-request-id").empty());
  }
};
TestServer* HttpEdges::server_ = nullptr;

TEST_F(HttpEdges, UnknownRouteIs404Json) { expect_json_error(http(port(), "GET", "/nope"), 404, "NOT_FOUND"); }

TEST_F(HttpEdges, WrongMethodIs405WithAllow) {
  const auto response = http(port(), "DELETE", "/concerts");
  expect_json_error(response, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(response.header("allow"), "GET, HEAD");
}

TEST_F(HttpEdges, UnknownMethodIs501) {
  expect_json_error(http(port(), "BREW", "/concerts"), 501, "NOT_IMPLEMENTED");
}

TEST_F(HttpEdges, HeadHasHeadersAndLengthButNoBody) {
  const auto get = http(port(), "GET", "/concerts");
  const auto head = http(port(), "HEAD", "/concerts");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("content-length"), std::to_string(get.body.size()));
}

TEST_F(HttpEdges, OversizedBodyIs413AndConnectionCloses) {
  const std::string body(4096, 'x');
  expect_json_error(http(port(), "POST", "/concerts", body), 413, "PAYLOAD_TOO_LARGE");
  // Chunked bodies are limited too (no Content-Length to check up front).
  std::string chunked = "POST /concerts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) chunked += "200\r\n" + std::string(512, 'y') + "\r\n";
  chunked += "0\r\n\r\n";
  expect_json_error(parse_response(raw_exchange(port(), chunked)), 413, "PAYLOAD_TOO_LARGE");
}

TEST_F(HttpEdges, ContentLengthWithTransferEncodingIs400AndCloses) {
  const std::string request =
      "POST /concerts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
      "GET /concerts HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string raw = raw_exchange(port(), request);
  expect_json_error(parse_response(raw), 400, "INVALID_ARGUMENT");
  EXPECT_EQ(raw.find("HTTP/1.1", 5), std::string::npos) << "answered a smuggled second request";
}

TEST_F(HttpEdges, ConflictingContentLengthsAre400) {
  const std::string request = "POST /concerts HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc";
  expect_json_error(parse_response(raw_exchange(port(), request)), 400, "INVALID_ARGUMENT");
}

TEST_F(HttpEdges, GarbageRequestLineIs400Json) {
  expect_json_error(parse_response(raw_exchange(port(), "HELLO\r\n\r\n")), 400, "INVALID_ARGUMENT");
  expect_json_error(parse_response(raw_exchange(port(), "GET /concerts HTTP/9.9\r\n\r\n")), 400, "INVALID_ARGUMENT");
}

TEST_F(HttpEdges, RequestIdIsKeptWhenSafeAndReplacedOtherwise) {
  const auto kept = http(port(), "GET", "/concerts/abc/schedules", "", {{"X-Request-Id", "client-id_1.2"}});
  EXPECT_EQ(kept.header("x-request-id"), "client-id_1.2");
  EXPECT_EQ(json::parse(kept.body).at("requestId").as_string(), "client-id_1.2");

  const auto unsafe = http(port(), "GET", "/concerts", "", {{"X-Request-Id", "bad id<script>"}});
  EXPECT_NE(unsafe.header("x-request-id"), "bad id<script>");
  EXPECT_FALSE(unsafe.header("x-request-id").empty());
  const auto too_long = http(port(), "GET", "/concerts", "", {{"X-Request-Id", std::string(65, 'a')}});
  EXPECT_EQ(too_long.header("x-request-id").size(), 16u);
}

TEST_F(HttpEdges, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string one = "GET /concerts HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string last = "GET /concerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string raw = raw_exchange(port(), one + one + last);
  int responses = 0;
  for (auto pos = raw.find("HTTP/1.1 200"); pos != std::string::npos; pos = raw.find("HTTP/1.1 200", pos + 1)) {
    ++responses;
  }
  EXPECT_EQ(responses, 3);
}

TEST_F(HttpEdges, StalledHeaderIsClosedByReadTimeout) {
  const auto started = std::chrono::steady_clock::now();
  const std::string raw = raw_exchange(port(), "GET /concerts HTTP/1.1\r\nHost: x\r\n", std::chrono::seconds(8));
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(raw.empty()) << raw;
  EXPECT_LT(waited, std::chrono::seconds(8)) << "connection not closed by http.read-timeout";
}

TEST_F(HttpEdges, IdleKeepAliveConnectionIsClosed) {
  const auto started = std::chrono::steady_clock::now();
  const std::string raw = raw_exchange(port(), "GET /concerts HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::seconds(8));
  EXPECT_EQ(raw.find("HTTP/1.1 200"), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(8));
}

TEST(HttpShutdown, ClosesIdleConnectionsAndStopsAccepting) {
  prepare_test_database();
  TestServer server({"http.idle-timeout=60s", "http.shutdown-timeout=5s"});
  const auto port = server.port();
  // An idle keep-alive connection: the server must close it on shutdown, not wait 60 s.
  RawConnection idle(port);
  idle.send("GET /concerts HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_NE(idle.read_until("}]", std::chrono::seconds(5)).find("HTTP/1.1 200"), std::string::npos);

  std::thread stopping([&] { server.stop(); });
  // Closed at once, not after the 60 s idle timeout (workers may take a moment longer to stop).
  EXPECT_TRUE(idle.closed_within(std::chrono::seconds(2)));
  EXPECT_TRUE(wait_for(
      [&] {
        try {
          RawConnection probe(port);
          return false;
        } catch (const std::runtime_error&) {
          return true;  // connection refused: the acceptor is closed
        }
      },
      std::chrono::seconds(2)))
      << "still accepting after shutdown";
  stopping.join();
}
