#pragma once
// HTTP/1.1 server on Boost.Beast with C++20 coroutines.
//
// One acceptor hands connections round-robin to N io_contexts, each run by one thread, so a
// connection and everything it awaits stay on one thread. Per connection: header read timeout,
// body limit, keep-alive idle timeout, and graceful drain on shutdown (stop accepting, close idle
// connections, let in-flight requests finish and answer with `Connection: close`, end streams).
//
// Streamed responses (web::Response::stream, e.g. Server-Sent Events): the headers go out without
// a Content-Length and with `Connection: close`, then the connection writes what the producer
// queues on its web::StreamChannel, with no read timeout, until the producer finishes, the client
// closes, the client falls more than max_stream_buffer behind (dropped), or shutdown begins.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "web/request_dispatcher.hpp"

namespace ticketing::infra::http {

struct HttpServerOptions {
  std::string address = "0.0.0.0";
  std::uint16_t port = 8080;
  std::size_t max_body = 64 * 1024;
  std::size_t max_header = 16 * 1024;
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  bool access_log = true;
  // Peers (a load balancer, a reverse proxy) whose X-Forwarded-For is believed: a request from one
  // of them counts as coming from the last address that header names. Empty: the peer itself.
  std::vector<std::string> trusted_proxies;
  // A streamed response (web::Response::stream) whose client lets more than this many bytes wait
  // unwritten is dropped (sse.max-buffered); so is one whose socket accepted nothing for
  // stream_stall_timeout while bytes were waiting.
  std::size_t max_stream_buffer = 256 * 1024;
  std::chrono::milliseconds stream_stall_timeout{60'000};
  // Open connections kept at most (http.max-connections); past it a new connection is accepted and
  // closed at once (reset), so the backlog never fills with clients that wait for nothing.
  int max_connections = 50'000;
};

// What the acceptor did, for metrics (all monotonic).
struct AcceptStats {
  std::uint64_t accepted = 0;        // connections served
  std::uint64_t refused = 0;         // closed at once: max_connections were open
  std::uint64_t failed = 0;          // accept() errors (EMFILE, ENFILE, ENOBUFS, ENOMEM, ...)
  std::uint64_t backoff_millis = 0;  // time spent waiting after failed accepts
};

// The client a request is counted as (per-address limits): `peer`, or — when the peer is a trusted
// proxy — the rightmost address of X-Forwarded-For (the one the proxy itself appended; anything left
// of it is the client's word; all header lines joined in order). Falls back to `peer` when the
// header is absent or its last entry is not an IP address. IPv4-mapped addresses count as IPv4 and
// other IPv6 addresses as their /64 ("2001:db8:1:2::/64"): one client usually has a whole /64.
std::string client_address(const std::string& peer, const std::string* forwarded_for,
                           const std::vector<std::string>& trusted_proxies);

// Called once per answered request (metrics). Must be cheap and thread-safe.
using RequestObserver =
    std::function<void(std::string_view method, std::string_view route, int status, std::chrono::nanoseconds)>;

class HttpServer {
 public:
  HttpServer(std::vector<boost::asio::io_context*> contexts, HttpServerOptions options,
             const web::RequestDispatcher& dispatcher, RequestObserver observer = {});
  ~HttpServer();

  // Binds and starts accepting; throws std::system_error when the address cannot be bound.
  void start();
  std::uint16_t port() const noexcept { return port_; }

  // Stops accepting and closes idle connections; busy ones close after their response.
  void begin_shutdown();
  // Waits until every connection has ended, or the timeout passed. True when drained.
  bool wait_drained(std::chrono::milliseconds timeout);
  int open_connections() const noexcept { return open_connections_.load(); }
  AcceptStats accept_stats() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<int> open_connections_{0};
};

}  // namespace ticketing::infra::http
