// Streamed responses in the HTTP server (web::Response::stream): raw bytes after headers without a
// Content-Length, the end of the stream by the producer, the client, a slow client and shutdown,
// and no read timeout on a long-lived stream.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "infra/http/http_server.hpp"

using namespace ticketing;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

class TestStream final : public web::ResponseStream {
 public:
  void start(std::shared_ptr<web::StreamChannel> channel) override {
    channel_ = std::move(channel);
    channel_->write(std::make_shared<const std::string>("hello\n"));
    started.set_value();
  }
  void stopped(web::StreamEnd why) noexcept override {
    channel_.reset();
    ended.set_value(why);
  }
  std::shared_ptr<web::StreamChannel>& channel() { return channel_; }
  std::promise<void> started;
  std::promise<web::StreamEnd> ended;

 private:
  std::shared_ptr<web::StreamChannel> channel_;
};

class StreamDispatcher final : public web::RequestDispatcher {
 public:
  Task<web::DispatchResult> dispatch(web::Request&) const override {
    web::Response response;
    response.content_type = "text/event-stream";
    response.stream = stream;
    co_return web::DispatchResult{std::move(response), "/stream"};
  }
  web::Response reject(domain::ErrorCode, std::string_view, const web::Request&) const override { return {}; }
  std::shared_ptr<TestStream> stream = std::make_shared<TestStream>();
};

struct Harness {
  explicit Harness(infra::http::HttpServerOptions options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    options.access_log = false;
    server = std::make_unique<infra::http::HttpServer>(std::vector<asio::io_context*>{&context}, options, dispatcher);
    server->start();
    thread = std::thread([this] { context.run(); });
  }
  ~Harness() {
    server->begin_shutdown();
    server->wait_drained(2s);
    work.reset();
    context.stop();
    thread.join();
  }
  // Runs `f` on the server's thread and waits for it.
  template <typename F>
  void on_server(F f) {
    std::promise<void> done;
    asio::post(context, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  int connect_and_request(int receive_buffer = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string request = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    return fd;
  }

  asio::io_context context{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{asio::make_work_guard(context)};
  StreamDispatcher dispatcher;
  std::unique_ptr<infra::http::HttpServer> server;
  std::thread thread;
};

// Reads until `text` arrived, the peer closed, or the timeout; returns what was read.
std::string read_until(int fd, const std::string& text, std::chrono::milliseconds timeout, bool* closed = nullptr) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.find(text) == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      break;
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

TEST(HttpStreaming, HeadersThenRawBytesUntilTheProducerFinishes) {
  infra::http::HttpServerOptions options;
  options.read_timeout = 200ms;  // a stream outlives it
  Harness harness(options);
  const int fd = harness.connect_and_request();
  const std::string head = read_until(fd, "hello\n", 2s);
  EXPECT_NE(head.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(head.find("Content-Length"), std::string::npos);
  EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos);
  EXPECT_TRUE(head.ends_with("\r\n\r\nhello\n")) << head;

  std::this_thread::sleep_for(500ms);  // longer than read_timeout
  auto stream = harness.dispatcher.stream;
  harness.on_server([&] {
    EXPECT_TRUE(stream->channel()->write(std::make_shared<const std::string>("data: 1\n\n")));
    stream->channel()->finish();
  });
  bool closed = false;
  const std::string rest = read_until(fd, "never", 2s, &closed);
  EXPECT_EQ(rest, "data: 1\n\n");
  EXPECT_TRUE(closed);
  EXPECT_EQ(stream->ended.get_future().get(), web::StreamEnd::kFinished);
  ::close(fd);
}

TEST(HttpStreaming, ClientGoingAwayEndsTheStream) {
  Harness harness;
  const int fd = harness.connect_and_request();
  read_until(fd, "hello\n", 2s);
  ::close(fd);
  auto ended = harness.dispatcher.stream->ended.get_future();
  ASSERT_EQ(ended.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(ended.get(), web::StreamEnd::kClientGone);
}

TEST(HttpStreaming, ASlowClientIsDroppedAtTheBufferLimit) {
  infra::http::HttpServerOptions options;
  options.max_stream_buffer = 64 * 1024;
  Harness harness(options);
  const int fd = harness.connect_and_request(4096);  // reads nothing from here on
  auto stream = harness.dispatcher.stream;
  ASSERT_EQ(stream->started.get_future().wait_for(2s), std::future_status::ready);
  const auto chunk = std::make_shared<const std::string>(16 * 1024, 'x');
  bool refused = false;
  for (int i = 0; i < 10'000 && !refused; ++i) {
    harness.on_server([&] {
      if (stream->channel() && !stream->channel()->write(chunk)) refused = true;
      if (!stream->channel()) refused = true;
    });
  }
  EXPECT_TRUE(refused);
  auto ended = stream->ended.get_future();
  ASSERT_EQ(ended.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(ended.get(), web::StreamEnd::kTooSlow);
  ::close(fd);
}

// A client that never reads is found out by the stall rule although the bytes waiting are under
// the buffer limit: the kernel may not take them all (Linux would grow the socket's send buffer
// to megabytes, and the stream would never count as waiting).
TEST(HttpStreaming, AClientThatNeverReadsIsDroppedAfterTheStallTimeout) {
  infra::http::HttpServerOptions options;
  options.max_stream_buffer = 4 * 1024 * 1024;
  options.stream_stall_timeout = 300ms;
  Harness harness(options);
  const int fd = harness.connect_and_request(4096);  // reads nothing from here on
  auto stream = harness.dispatcher.stream;
  ASSERT_EQ(stream->started.get_future().wait_for(2s), std::future_status::ready);
  const auto chunk = std::make_shared<const std::string>(16 * 1024, 'x');
  harness.on_server([&] {
    for (int i = 0; i < 24; ++i) EXPECT_TRUE(stream->channel()->write(chunk)) << i;  // 384 KiB
  });
  std::this_thread::sleep_for(500ms);  // past the stall timeout: the time itself is what is tested
  bool refused = false;
  harness.on_server([&] { refused = !stream->channel() || !stream->channel()->write(chunk); });
  EXPECT_TRUE(refused) << "384 KiB unread for 500 ms, and the stream still took more";
  auto ended = stream->ended.get_future();
  ASSERT_EQ(ended.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(ended.get(), web::StreamEnd::kTooSlow);
  ::close(fd);
}

TEST(HttpStreaming, ShutdownEndsOpenStreamsSoTheDrainCompletes) {
  Harness harness;
  const int fd = harness.connect_and_request();
  read_until(fd, "hello\n", 2s);
  EXPECT_EQ(harness.server->open_connections(), 1);
  harness.server->begin_shutdown();
  EXPECT_TRUE(harness.server->wait_drained(1s));
  EXPECT_EQ(harness.dispatcher.stream->ended.get_future().get(), web::StreamEnd::kShutdown);
  bool closed = false;
  read_until(fd, "never", 1s, &closed);
  EXPECT_TRUE(closed);
  ::close(fd);
}
