#pragma once
// A response whose body is written piece by piece after the headers (Server-Sent Events,
// docs/live-seat-map.md), without tying the routes to the HTTP server: a route returns a
// web::Response whose `stream` is set, the server (infra/http) writes the status line and headers
// (no Content-Length; `Connection: close`), hands the stream a StreamChannel, and writes whatever
// bytes arrive on it until the stream finishes, the client goes away, the client reads too slowly
// or the server shuts down.
#include <memory>
#include <string>
#include <string_view>

namespace ticketing::web {

// Immutable bytes, shared by every stream they go to (one delta serialised once for 10,000 clients).
using StreamBytes = std::shared_ptr<const std::string>;

enum class StreamEnd {
  kFinished,    // the producer called finish()
  kClientGone,  // the client closed the connection or a write failed
  kTooSlow,     // more than the per-stream buffer limit was waiting: the client is dropped
  kShutdown,    // the server is shutting down
};
std::string_view to_string(StreamEnd end) noexcept;

// The server's end of one streamed response. Every member is to be called on the thread of the
// connection (the one ResponseStream::start was called on); there is no locking.
class StreamChannel {
 public:
  virtual ~StreamChannel() = default;
  // Queues `bytes` for the client. False when the stream has ended, or when the bytes would take
  // the queue over its limit: then the client is dropped (ResponseStream::stopped(kTooSlow) follows).
  virtual bool write(StreamBytes bytes) = 0;
  // Ends the response once everything queued has been written.
  virtual void finish() = 0;
  // Bytes queued and not yet written.
  virtual std::size_t buffered() const noexcept = 0;
};

// The producer's side, returned by a route in Response::stream.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Called once, on the connection's thread, when the headers have been sent. The channel stays
  // usable until stopped().
  virtual void start(std::shared_ptr<StreamChannel> channel) = 0;
  // Called exactly once for every stream a route returned, on the connection's thread, when the
  // response has ended for any reason (also when the headers could not be sent and start() was
  // never called). The channel must not be written after it.
  virtual void stopped(StreamEnd why) noexcept = 0;
};

}  // namespace ticketing::web
