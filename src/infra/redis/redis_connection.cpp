#include "infra/redis/redis_connection.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <chrono>
#include <deque>
#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include "domain/errors.hpp"
#include "infra/redis/sha1.hpp"

namespace ticketing::infra::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Signature = void(std::exception_ptr, RedisReply);
using Handler = asio::any_completion_handler<Signature>;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

struct ReaderDeleter {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};
struct ReplyDeleter {
  void operator()(void* r) const noexcept { freeReplyObject(r); }
};

domain::DependencyUnavailable unavailable(std::string detail) {
  return domain::DependencyUnavailable("redis", std::move(detail));
}

RedisNotSent not_sent(std::string detail) {
  return RedisNotSent("redis", std::move(detail));
}

void append_asking(std::string& out) {
  const std::string_view asking[] = {"ASKING"};
  append_command(out, asking);
}

std::string millis(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

// A parked caller. `enqueued` starts its command_timeout.
struct Pending {
  Handler handler;
  Clock::time_point enqueued;
};

struct Completion {
  Handler handler;
  RedisReply reply;
};

// One TCP connection. Replaced wholesale on reconnect, so that callbacks of a dead connection can
// tell (link != impl.link) and never touch the new one's socket, buffers or parser state.
struct Link {
  explicit Link(const asio::any_io_executor& ex)
      : socket(ex), resolver(ex), connect_timer(ex), watchdog_timer(ex), reader(create_reader()) {
    if (!reader) throw std::bad_alloc();
    read_buf.resize(kReadChunk);
  }

  void shutdown() {
    boost::system::error_code ignored;
    resolver.cancel();
    connect_timer.cancel();
    watchdog_timer.cancel();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer connect_timer;
  asio::steady_timer watchdog_timer;
  std::unique_ptr<redisReader, ReaderDeleter> reader;
  std::vector<char> read_buf;
  std::string inflight;  // bytes handed to async_write; the shared write buffer refills meanwhile
  bool writing = false;
  bool flush_posted = false;
  bool connect_done = false;
  bool connect_timed_out = false;
  Clock::time_point connected_at;
};

enum class ParseStatus { kOk, kProtocolError };

// Moves every complete reply buffered in the link's parser into `out`.
ParseStatus drain_replies(Link& link, std::vector<RedisReply>& out, std::string& error) {
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(link.reader.get(), &raw) != REDIS_OK) {
      error = std::string("protocol error: ") + link.reader->errstr;
      return ParseStatus::kProtocolError;
    }
    if (raw == nullptr) return ParseStatus::kOk;
    std::unique_ptr<void, ReplyDeleter> owned(raw);
    out.push_back(from_hiredis(*static_cast<const ::redisReply*>(raw)));
  }
}

}  // namespace

RedisScript RedisScript::from_source(std::string source) {
  std::string sha = sha1_hex(source);
  return RedisScript{std::move(source), std::move(sha)};
}

struct RedisConnection::Impl : std::enable_shared_from_this<Impl> {
  enum class State { kDisconnected, kConnecting, kConnected };

  Impl(asio::any_io_executor executor, RedisOptions opts) : ex(std::move(executor)), options(std::move(opts)) {}

  // Throws instead of queueing when the call cannot succeed; starts a connect when there is none.
  void prepare() {
    if (closed) throw unavailable("connection closed");
    if (state != State::kDisconnected) return;
    Clock::time_point now = Clock::now();
    if (now < next_connect_at) throw not_sent("in reconnect backoff after: " + last_error);
    start_connect(now);
  }

  template <typename Encode>
  void enqueue(Encode& encode, Handler handler, bool after_asking) {
    if (after_asking) {
      // Same turn, same buffer: nothing can get between ASKING and the command it applies to.
      append_asking(write_buf);
      pending.push_back(Pending{Handler([](std::exception_ptr, RedisReply) {}), Clock::now()});
    }
    encode(write_buf);
    pending.push_back(Pending{std::move(handler), Clock::now()});
    if (state == State::kConnected) schedule_flush();
  }

  template <typename Encode>
  Task<RedisReply> submit(Encode encode, bool after_asking = false) {
    prepare();
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), Signature>(
        [this, &encode, after_asking](auto handler) { enqueue(encode, Handler(std::move(handler)), after_asking); },
        asio::use_awaitable);
  }

  void start_connect(Clock::time_point now) {
    state = State::kConnecting;
    ++connect_attempts;
    next_connect_at = now + options.reconnect_backoff;
    link = std::make_shared<Link>(ex);
    asio::co_spawn(ex, connect(shared_from_this(), link), asio::detached);
  }

  static asio::awaitable<void> connect(std::shared_ptr<Impl> self, std::shared_ptr<Link> link) {
    const RedisOptions& o = self->options;
    // Closing the socket is what aborts a connect or handshake that takes too long.
    link->connect_timer.expires_after(o.connect_timeout);
    link->connect_timer.async_wait([link](boost::system::error_code ec) {
      if (ec || link->connect_done) return;
      link->connect_timed_out = true;
      link->shutdown();
    });

    std::string error;
    try {
      boost::system::error_code parse_ec;
      asio::ip::address address = asio::ip::make_address(o.host, parse_ec);
      if (!parse_ec) {
        co_await link->socket.async_connect(tcp::endpoint(address, o.port), asio::use_awaitable);
      } else {
        // The resolver runs getaddrinfo on Asio's private thread, not on this I/O thread.
        auto endpoints = co_await link->resolver.async_resolve(o.host, std::to_string(o.port), asio::use_awaitable);
        co_await asio::async_connect(link->socket, endpoints, asio::use_awaitable);
      }
      link->socket.set_option(tcp::no_delay(true));
      co_await handshake(*self, *link);
    } catch (const boost::system::system_error& e) {
      error = e.code().message();
    } catch (const std::exception& e) {
      error = e.what();
    }
    link->connect_done = true;
    if (link->connect_timed_out) error = "connect timed out after " + millis(o.connect_timeout);
    if (link != self->link) co_return;  // closed while connecting
    link->connect_timer.cancel();
    if (!error.empty()) {
      self->fail("connect to " + o.host + ":" + std::to_string(o.port) + " failed: " + error);
      co_return;
    }
    self->on_connected(link);
  }

  // AUTH and SELECT before any caller's command, so callers never see an unauthenticated link.
  static asio::awaitable<void> handshake(Impl& self, Link& link) {
    std::string out;
    std::vector<std::string> what;
    if (!self.options.password.empty()) {
      if (self.options.username.empty()) {
        std::string_view cmd[] = {"AUTH", self.options.password};
        append_command(out, cmd);
      } else {
        std::string_view cmd[] = {"AUTH", self.options.username, self.options.password};
        append_command(out, cmd);
      }
      what.emplace_back("AUTH");
    }
    if (self.options.db != 0) {
      std::string db = std::to_string(self.options.db);
      std::string_view cmd[] = {"SELECT", db};
      append_command(out, cmd);
      what.emplace_back("SELECT " + db);
    }
    if (what.empty()) co_return;
    co_await asio::async_write(link.socket, asio::buffer(out), asio::use_awaitable);
    std::vector<RedisReply> replies;
    while (replies.size() < what.size()) {
      std::size_t n = co_await link.socket.async_read_some(asio::buffer(link.read_buf), asio::use_awaitable);
      redisReaderFeed(link.reader.get(), link.read_buf.data(), n);
      std::string error;
      if (drain_replies(link, replies, error) != ParseStatus::kOk) throw std::runtime_error(error);
    }
    if (replies.size() != what.size()) throw std::runtime_error("unexpected extra reply during handshake");
    for (std::size_t i = 0; i < what.size(); ++i) {
      if (replies[i].is_error()) throw std::runtime_error(what[i] + " rejected: " + replies[i].str);
    }
  }

  void on_connected(const std::shared_ptr<Link>& l) {
    state = State::kConnected;
    l->connected_at = Clock::now();
    asio::co_spawn(ex, read_loop(shared_from_this(), l), asio::detached);
    asio::co_spawn(ex, watchdog(shared_from_this(), l), asio::detached);
    if (!write_buf.empty()) schedule_flush();
  }

  // Posted rather than written at once, so every command queued in this turn of the event loop
  // (e.g. by all the callers one reply batch just resumed) goes out in one write.
  void schedule_flush() {
    Link& l = *link;
    if (l.writing || l.flush_posted) return;
    l.flush_posted = true;
    asio::post(ex, [self = shared_from_this(), l = link] {
      l->flush_posted = false;
      if (l == self->link) self->write_some(l);
    });
  }

  void write_some(const std::shared_ptr<Link>& l) {
    if (write_buf.empty()) {
      l->writing = false;
      return;
    }
    l->writing = true;
    std::swap(l->inflight, write_buf);  // keeps both buffers' capacity: no steady-state allocation
    asio::async_write(l->socket, asio::buffer(l->inflight),
                      [self = shared_from_this(), l](boost::system::error_code ec, std::size_t) {
                        if (l != self->link) return;
                        if (ec) {
                          self->fail("write failed: " + ec.message());
                          return;
                        }
                        l->inflight.clear();
                        self->write_some(l);
                      });
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<Impl> self, std::shared_ptr<Link> l) {
    std::vector<RedisReply> replies;
    for (;;) {
      auto [ec, n] = co_await l->socket.async_read_some(asio::buffer(l->read_buf), asio::as_tuple(asio::use_awaitable));
      if (l != self->link) co_return;
      if (ec) {
        self->fail(ec == asio::error::eof ? std::string("connection closed by server")
                                          : "read failed: " + ec.message());
        co_return;
      }
      redisReaderFeed(l->reader.get(), l->read_buf.data(), n);
      std::string error;
      ParseStatus status = ParseStatus::kOk;
      try {
        status = drain_replies(*l, replies, error);
      } catch (const std::exception& e) {
        status = ParseStatus::kProtocolError;
        error = e.what();
      }
      if (replies.size() > self->pending.size()) {
        status = ParseStatus::kProtocolError;
        error = "reply without a request";
        replies.resize(self->pending.size());
      }
      if (!replies.empty()) {
        std::vector<Completion> batch;
        batch.reserve(replies.size());
        for (RedisReply& r : replies) {
          batch.push_back(Completion{std::move(self->pending.front().handler), std::move(r)});
          self->pending.pop_front();
        }
        replies.clear();
        // One post per read instead of one per reply; callers resume outside this loop so they may
        // issue new commands or close() without disturbing it.
        asio::post(self->ex, [batch = std::move(batch)]() mutable {
          for (Completion& c : batch) std::move(c.handler)(nullptr, std::move(c.reply));
        });
      }
      if (status != ParseStatus::kOk) {
        self->fail(error);
        co_return;
      }
    }
  }

  // Replies come back in FIFO order with one timeout for all, so the oldest pending command is
  // always the first to expire: one timer per connection instead of one per command. When nothing
  // is pending it sleeps one command_timeout, which is soon enough for anything queued meanwhile.
  static asio::awaitable<void> watchdog(std::shared_ptr<Impl> self, std::shared_ptr<Link> l) {
    const auto timeout = self->options.command_timeout;
    for (;;) {
      Clock::time_point now = Clock::now();
      if (!self->pending.empty()) {
        Clock::time_point deadline = std::max(self->pending.front().enqueued, l->connected_at) + timeout;
        if (deadline <= now) {
          self->fail("command timed out after " + millis(timeout));
          co_return;
        }
        l->watchdog_timer.expires_at(deadline);
      } else {
        l->watchdog_timer.expires_at(now + timeout);
      }
      co_await l->watchdog_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (l != self->link) co_return;
    }
  }

  // Tears the connection down and fails every parked caller; the next call may reconnect.
  void fail(std::string reason) {
    last_error = std::move(reason);
    // Nothing is written before the connect (and handshake) completed: those callers' commands
    // never reached Redis.
    const bool never_sent = state != State::kConnected && !closed;
    if (link) {
      std::shared_ptr<Link> dead = std::move(link);
      link.reset();
      dead->shutdown();
    }
    state = State::kDisconnected;
    write_buf.clear();
    if (pending.empty()) return;
    std::deque<Pending> failed;
    failed.swap(pending);
    // One exception object per caller: callers may rethrow on different threads (use_future).
    asio::post(ex, [failed = std::move(failed), reason = last_error, never_sent]() mutable {
      for (Pending& p : failed) {
        std::move(p.handler)(
            never_sent ? std::make_exception_ptr(not_sent(reason)) : std::make_exception_ptr(unavailable(reason)),
            RedisReply{});
      }
    });
  }

  void close() {
    if (closed) return;
    closed = true;
    fail("connection closed");
  }

  asio::any_io_executor ex;
  RedisOptions options;
  State state = State::kDisconnected;
  bool closed = false;
  std::shared_ptr<Link> link;  // null while disconnected
  std::deque<Pending> pending;
  std::string write_buf;  // encoded commands not yet handed to the socket
  Clock::time_point next_connect_at{};
  std::string last_error;
  uint64_t connect_attempts = 0;
};

namespace {

RedisOptions validated(RedisOptions o) {
  // A zero command timeout would also turn the watchdog into a busy loop.
  if (o.connect_timeout.count() <= 0) throw std::invalid_argument("redis connect_timeout must be positive");
  if (o.command_timeout.count() <= 0) throw std::invalid_argument("redis command_timeout must be positive");
  if (o.reconnect_backoff.count() < 0) throw std::invalid_argument("redis reconnect_backoff must not be negative");
  return o;
}

}  // namespace

RedisConnection::RedisConnection(asio::any_io_executor executor, RedisOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), validated(std::move(options)))) {}

RedisConnection::~RedisConnection() {
  close_async();
}

const asio::any_io_executor& RedisConnection::get_executor() const noexcept {
  return impl_->ex;
}
const RedisOptions& RedisConnection::options() const noexcept {
  return impl_->options;
}
bool RedisConnection::connected() const noexcept {
  return impl_->state == Impl::State::kConnected;
}
std::size_t RedisConnection::pending() const noexcept {
  return impl_->pending.size();
}
uint64_t RedisConnection::connect_attempts() const noexcept {
  return impl_->connect_attempts;
}

void RedisConnection::close() {
  impl_->close();
}

void RedisConnection::close_async() {
  asio::post(impl_->ex, [impl = impl_] { impl->close(); });
}

Task<RedisReply> RedisConnection::execute(std::span<const std::string_view> args) {
  // Redis answers nothing to an empty command, which would shift every later reply by one.
  if (args.empty()) throw std::invalid_argument("empty Redis command");
  return impl_->submit([args](std::string& out) { append_command(out, args); });
}

Task<RedisReply> RedisConnection::execute_after_asking(std::span<const std::string_view> args) {
  if (args.empty()) throw std::invalid_argument("empty Redis command");
  return impl_->submit([args](std::string& out) { append_command(out, args); }, true);
}

Task<RedisReply> RedisConnection::evalsha(const RedisScript& script, std::span<const std::string_view> keys,
                                          std::span<const std::string_view> args, bool after_asking) {
  if (script.sha1.size() != 40) throw std::invalid_argument("RedisScript has no SHA-1; build it with from_source()");
  char numkeys_buf[24];
  auto [end, ec] = std::to_chars(numkeys_buf, numkeys_buf + sizeof numkeys_buf, keys.size());
  std::string_view numkeys(numkeys_buf, static_cast<std::size_t>(end - numkeys_buf));
  // Encoded straight into the write buffer: no argument vector per call.
  auto encoder = [&](std::string_view verb, std::string_view body) {
    return [&, verb, body](std::string& out) {
      append_array_header(out, 3 + keys.size() + args.size());
      append_bulk(out, verb);
      append_bulk(out, body);
      append_bulk(out, numkeys);
      for (std::string_view k : keys) append_bulk(out, k);
      for (std::string_view a : args) append_bulk(out, a);
    };
  };
  RedisReply reply = co_await impl_->submit(encoder("EVALSHA", script.sha1), after_asking);
  if (reply.is_error() && reply.str.starts_with("NOSCRIPT")) {
    reply = co_await impl_->submit(encoder("EVAL", script.source), after_asking);
  }
  co_return reply;
}

Task<void> RedisConnection::ping() {
  RedisReply reply = co_await execute("PING");
  if (!reply.is_status("PONG")) throw unavailable("PING answered " + reply.to_string());
}

}  // namespace ticketing::infra::redis
