#include "infra/http/http_server.hpp"

#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <ctime>
#include <deque>
#include <list>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace ticketing::infra::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using domain::ErrorCode;

namespace {

web::Method to_method(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get: return web::Method::kGet;
    case bhttp::verb::head: return web::Method::kHead;
    case bhttp::verb::post: return web::Method::kPost;
    case bhttp::verb::put: return web::Method::kPut;
    case bhttp::verb::delete_: return web::Method::kDelete;
    case bhttp::verb::patch: return web::Method::kPatch;
    case bhttp::verb::options: return web::Method::kOptions;
    default: return web::Method::kOther;
  }
}

bool is_safe_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string generate_request_id() {
  // Per-thread random prefix + counter: unique, cheap, no locking.
  thread_local const std::uint64_t prefix = std::random_device{}() ^ (std::uint64_t{std::random_device{}()} << 32);
  thread_local std::uint64_t counter = 0;
  return fmt::format("{:08x}{:08x}", static_cast<std::uint32_t>(prefix >> 16), ++counter ^ (prefix & 0xffff));
}

// RFC 9110 §6.6.1: an origin server with a clock sends Date in its answers (IMF-fixdate; the web
// app reads it to count holds down by the server's clock, not a device's that may be minutes off).
// Written once a second per thread, without the C locale's names.
std::string_view http_date_now() {
  static constexpr std::array<const char*, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t written_for = -1;
  thread_local std::array<char, 40> text{};
  thread_local std::size_t size = 0;
  const std::time_t now = std::time(nullptr);
  if (now != written_for) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    const int n = std::snprintf(text.data(), text.size(), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                kDays.at(static_cast<std::size_t>(utc.tm_wday)), utc.tm_mday,
                                kMonths.at(static_cast<std::size_t>(utc.tm_mon)), utc.tm_year + 1900, utc.tm_hour,
                                utc.tm_min, utc.tm_sec);
    size = n > 0 ? static_cast<std::size_t>(n) : 0;
    written_for = now;
  }
  return {text.data(), size};
}

// The client's X-Request-Id ("" when absent) if it is safe to echo, else a fresh one.
std::string request_id_for(std::string_view client_id) {
  return is_safe_request_id(client_id) ? std::string(client_id) : generate_request_id();
}

// What an error the transport answers itself reports about the request it refuses.
struct Origin {
  std::string path;
  std::string request_id;
  bool head = false;  // a HEAD request: the answer's headers only (RFC 9110 §9.3.2)
};

std::string_view trimmed(std::string_view value) {
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return value.substr(first, value.find_last_not_of(" \t") - first + 1);
}

Origin origin_of(std::string_view target, std::string_view client_id, bool head) {
  return {std::string(target.substr(0, target.find('?'))), request_id_for(client_id), head};
}

// RFC 9112 §3.2.2: a server accepts a request target in absolute form ("http://host/path?query")
// and uses its path and query, as if sent in origin form; an empty path is "/" ("http://host?x=1"
// is "/?x=1"). A target in origin form (every ordinary request) is returned as it is; `storage`
// holds a path that had to be made.
std::string_view origin_form(std::string_view target, std::string& storage) {
  std::size_t scheme = 0;
  if (target.size() >= 7 && beast::iequals(target.substr(0, 7), "http://")) {
    scheme = 7;
  } else if (target.size() >= 8 && beast::iequals(target.substr(0, 8), "https://")) {
    scheme = 8;
  } else {
    return target;
  }
  const auto rest = target.find_first_of("/?", scheme);
  if (rest == std::string_view::npos) return "/";
  if (target[rest] == '/') return target.substr(rest);
  storage = "/" + std::string(target.substr(rest));
  return storage;
}

// A Host field value (RFC 9112 §3.2, RFC 3986 §3.2.2): empty, or a host (a registered name of
// unreserved, sub-delims and percent-encoded characters, or an IP literal in brackets) with an
// optional numeric port.
bool valid_host(std::string_view host) {
  if (host.empty()) return true;
  std::string_view name = host;
  std::string_view port;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    for (const char c : host.substr(1, close - 1)) {
      const bool ok =
          (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
      if (!ok) return false;
    }
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return false;
      port = host.substr(close + 2);
    }
    name = {};
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    if (name.empty()) return false;
  }
  if (port.size() > 5) return false;
  for (const char c : port) {
    if (c < '0' || c > '9') return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("-._~!$&'()*+,;=%").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// Bytes outside visible ASCII in a request target: RFC 3986 allows none (a client percent-encodes
// them), so they are refused as control bytes already are.
bool has_raw_non_ascii(std::string_view target) {
  return std::any_of(target.begin(), target.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// The header's fields, by address: Beast's fields are list nodes that stay where they are while
// others are added (a chunked body's trailer fields).
std::vector<const void*> field_addresses(const bhttp::fields& fields) {
  std::vector<const void*> addresses;
  for (const auto& field : fields) addresses.push_back(&field);
  return addresses;
}

// The bytes of the fields' lines ("name: value\r\n").
std::size_t field_bytes(const bhttp::fields& fields) {
  std::size_t bytes = 0;
  for (const auto& field : fields) bytes += field.name_string().size() + field.value().size() + 4;
  return bytes;
}

// Erases every field that is not one of the header's: a chunked body's trailer. (Not by count:
// Beast puts a trailer field next to a header field of the same name, not at the end.)
void drop_fields_but(bhttp::fields& fields, const std::vector<const void*>& header_fields) {
  for (auto it = fields.begin(); it != fields.end();) {
    const void* address = &*it;
    it = std::find(header_fields.begin(), header_fields.end(), address) == header_fields.end() ? fields.erase(it)
                                                                                               : std::next(it);
  }
}

// Whether the connection stays open after this request (RFC 9112 §9.3): every Connection field's
// tokens count, not only the first field's; "close" anywhere closes; HTTP/1.0 stays open only with
// "keep-alive". An HTTP/1.0 message with Transfer-Encoding has faulty framing: close after it
// (RFC 9112 §6.1).
bool keeps_alive(const bhttp::request_header<>& header) {
  bool close = false;
  bool keep_alive = false;
  for (const auto& field : header) {
    if (field.name() != bhttp::field::connection) continue;
    for (const auto& token : bhttp::token_list(field.value())) {
      if (beast::iequals(token, "close")) close = true;
      if (beast::iequals(token, "keep-alive")) keep_alive = true;
    }
  }
  if (close) return false;
  if (header.version() >= 11) return true;
  return keep_alive && header.count(bhttp::field::transfer_encoding) == 0;
}

// The value of the first field `name` among the complete header lines at the start of `bytes`,
// stopping at the blank line that ends the header (a body is never searched); "" when absent.
std::string_view raw_field_value(std::string_view bytes, std::string_view name) {
  std::size_t pos = 0;
  while (true) {
    const auto eol = bytes.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos) return {};
    const std::string_view line = bytes.substr(pos, eol - pos);
    if (line.size() > name.size() && line[name.size()] == ':' && beast::iequals(line.substr(0, name.size()), name)) {
      return trimmed(line.substr(name.size() + 1));
    }
    pos = eol + 2;
  }
}

// Whether the first `size` bytes of `buffer` (a request header) hold a line that starts with a
// space or a tab: a continuation of the field line before it. (Only the header is checked; a chunked
// body's trailer lines are Beast's to parse.)
bool has_obs_fold(const beast::flat_buffer& buffer, std::size_t size) {
  const std::string_view bytes(static_cast<const char*>(buffer.data().data()), std::min(size, buffer.size()));
  for (std::size_t at = bytes.find('\n'); at != std::string_view::npos && at + 1 < bytes.size();
       at = bytes.find('\n', at + 1)) {
    if (bytes[at + 1] == ' ' || bytes[at + 1] == '\t') return true;
  }
  return false;
}

// Whether a line in `buffer` from `from` on ends with a bare LF (no CR before it).
bool has_bare_lf(const beast::flat_buffer& buffer, std::size_t from) {
  const std::string_view bytes(static_cast<const char*>(buffer.data().data()), buffer.size());
  for (auto lf = bytes.find('\n', from); lf != std::string_view::npos; lf = bytes.find('\n', lf + 1)) {
    if (lf == 0 || bytes[lf - 1] != '\r') return true;
  }
  return false;
}

// Reads into `parser` until its header (`header_only`) or the whole request is parsed — what
// bhttp::async_read_header / async_read do, but with parser.put() called here. The parser throws
// std::length_error for a field value over 65,533 bytes (Beast's field size), which header_limit
// does not prevent for a chunked body's trailer or under a large http.max-header; thrown inside
// Beast's read operation it would escape the coroutine and end the I/O thread. Here it is this
// request's error: header_limit.
//
// Reading the body (`header_only` false, `body` set), every read that brings bytes restarts the
// stream's timer at body->idle, but never past body->deadline; the bytes parsed may not exceed
// body->max_bytes (chunk framing included: a body of one-byte chunks or long extensions is refused
// as too large); and a chunk-size line or trailer the parser waits to see whole may grow to
// body->max_line bytes: past that it is this request's error, header_limit (Beast itself has no
// limit there, and would buffer a line of any length). The same bound holds for a chunk's
// extensions and for the trailer as a whole when they arrive complete in one read.
struct BodyReadLimits {
  std::chrono::milliseconds idle;
  std::chrono::steady_clock::time_point deadline;
  std::size_t max_bytes;
  std::size_t max_line;
};

asio::awaitable<void> read_request(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                   bhttp::request_parser<bhttp::string_body>& parser, const BodyReadLimits* body,
                                   boost::system::error_code& ec) {
  const bool header_only = body == nullptr;
  std::size_t bytes_taken = 0;
  constexpr std::size_t kReadSize = 65536;
  ec = {};
  std::size_t lf_checked = 0;  // bytes of a stuck line already found free of bare LFs
  // A chunk line or a trailer that came whole is held to max_line as well: what is refused may
  // not depend on how TCP split the bytes. (Beast keeps a pointer to the callback; it is called
  // only from parser.put() below, while this frame lives.)
  auto check_chunk_line = [max_line = header_only ? std::size_t{0} : body->max_line](
                              std::uint64_t, beast::string_view extensions, boost::system::error_code& line_ec) {
    if (extensions.size() > max_line) line_ec = bhttp::error::header_limit;
  };
  const bool chunked_body = !header_only && parser.chunked();
  if (chunked_body) parser.on_chunk_header(check_chunk_line);
  const std::size_t header_field_bytes = chunked_body ? field_bytes(parser.get().base()) : 0;
  while (!(header_only ? parser.is_header_done() : parser.is_done())) {
    if (buffer.size() > 0) {
      std::size_t used = 0;
      try {
        used = parser.put(buffer.data(), ec);
      } catch (const std::length_error&) {
        ec = bhttp::error::header_limit;
        co_return;
      }
      // RFC 9112 §5.2: a field line continued on the next (obs-fold) may be refused, and is: a proxy
      // in front may join or split it differently, the classic way to smuggle a framing header.
      if (header_only && !ec && parser.is_header_done() && has_obs_fold(buffer, used)) {
        ec = bhttp::error::bad_obs_fold;
        co_return;
      }
      buffer.consume(used);
      if (used > 0) lf_checked = 0;
      // What the parser took (a line it waits to see whole is bounded below, by max_line).
      bytes_taken += used;
      if (!header_only && bytes_taken > body->max_bytes) {
        ec = bhttp::error::body_limit;
        co_return;
      }
      if (ec && ec != bhttp::error::need_more) co_return;
      if (chunked_body && parser.is_done() && field_bytes(parser.get().base()) - header_field_bytes > body->max_line) {
        ec = bhttp::error::header_limit;  // the trailer Beast added to the header's fields
        co_return;
      }
      const bool progressed = !ec && used > 0;
      ec = {};
      if (progressed) continue;
      // Stuck on the lines of a chunked body (a chunk size, the trailer) — chunk data would have been
      // taken — and one of them ends in a bare LF: Beast waits for a CRLF that is not coming. Every
      // such line ends in CRLF (RFC 9112 §7.1): refuse it now, not after the read timeout.
      if (!header_only && parser.chunked()) {
        if (has_bare_lf(buffer, lf_checked)) {
          ec = bhttp::error::bad_chunk;
          co_return;
        }
        if (buffer.size() > body->max_line) {
          ec = bhttp::error::header_limit;
          co_return;
        }
        lf_checked = buffer.size();
      }
    }
    const std::size_t n =
        co_await stream.async_read_some(buffer.prepare(kReadSize), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof) {
      // As Beast reports it: nothing of a request yet is the end of the stream, else a message cut short.
      ec = parser.got_some() ? boost::system::error_code(bhttp::error::partial_message)
                             : boost::system::error_code(bhttp::error::end_of_stream);
    }
    if (ec) co_return;
    buffer.commit(n);
    if (!header_only && n > 0) {
      const auto left = body->deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        ec = beast::error::timeout;
        co_return;
      }
      stream.expires_after(std::min<std::chrono::steady_clock::duration>(body->idle, left));
    }
  }
}

// The path of a request line the parser refused (too long, bad version), when it is plainly there:
// "METHOD /path" followed by '?' or ' ', visible ASCII, at most 2 KiB. "" otherwise.
std::string_view raw_request_path(std::string_view bytes) {
  const std::string_view line = bytes.substr(0, bytes.find("\r\n"));
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return {};
  const std::string_view rest = line.substr(space + 1);
  const auto end = rest.find_first_of(" ?");
  if (end == std::string_view::npos || end == 0 || end > 2048 || rest.front() != '/') return {};
  const std::string_view path = rest.substr(0, end);
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte >= 0x7f) return {};
  }
  return path;
}

// For a request whose header failed to parse. The parser keeps the request line and every field it
// accepted before the failure; the fields from the offending one on are still unconsumed in `buffer`,
// so a client X-Request-Id is in one or the other. (The header is read without a body limit, so the
// failure is never a complete header's Content-Length, with body bytes in `buffer`.)
Origin origin_of_unparsed(const bhttp::request_parser<bhttp::string_body>& parser, const beast::flat_buffer& buffer) {
  const std::string_view raw(static_cast<const char*>(buffer.data().data()), buffer.size());
  const auto& partial = parser.get();
  if (partial.target().empty()) {  // request line not parsed
    return origin_of(raw_request_path(raw), "", raw.starts_with("HEAD "));
  }
  const auto field = partial.find("X-Request-Id");
  std::string_view client_id;
  if (field != partial.end()) {
    client_id = field->value();
  } else {
    client_id = raw_field_value(raw, "X-Request-Id");
  }
  std::string storage;
  return origin_of(origin_form(partial.target(), storage), client_id, partial.method() == bhttp::verb::head);
}

// The server's end of one streamed response (web::StreamChannel), owned jointly by the connection
// and the producer. Everything runs on the connection's thread. A write goes to the socket at once
// (non-blocking; one syscall, no handler posted, which is what 10,000 streams per delta need); what
// the socket does not take waits in the queue until it is writable again. Once ended, it never
// touches the socket again (the producer may keep the channel longer than the connection lives).
class SessionStream final : public web::StreamChannel, public std::enable_shared_from_this<SessionStream> {
 public:
  SessionStream(tcp::socket& socket, std::size_t max_buffered, std::chrono::milliseconds stall_timeout)
      : socket_(&socket), wake_(socket.get_executor()), max_buffered_(max_buffered), stall_timeout_(stall_timeout) {
    boost::system::error_code ignored;
    socket_->non_blocking(true, ignored);
    // The kernel's share is bounded as well: Linux grows a socket's send buffer up to tcp_wmem's
    // maximum (4 MiB), so a client that never reads had every byte taken by the kernel, never
    // counted as slow here, and kept megabytes of kernel memory for as long as it liked.
    socket_->set_option(asio::socket_base::send_buffer_size(kKernelSendBuffer), ignored);
  }

  static constexpr int kKernelSendBuffer = 64 * 1024;  // the kernel doubles it for its bookkeeping

  bool write(web::StreamBytes bytes) override {
    if (ended_) return false;
    if (!bytes || bytes->empty()) return true;
    // Only what waits behind the piece being written counts: a snapshot larger than the limit goes
    // out whole, and deltas may queue behind it up to the limit.
    const std::size_t behind = queue_.empty() ? 0 : buffered_ - (queue_.front()->size() - offset_);
    const bool stalled = waiting_ && std::chrono::steady_clock::now() - wait_started_ > stall_timeout_;
    if ((!queue_.empty() && behind + bytes->size() > max_buffered_) || stalled) {
      end(web::StreamEnd::kTooSlow);
      return false;
    }
    buffered_ += bytes->size();
    queue_.push_back(std::move(bytes));
    if (!waiting_) flush();
    return !ended_;
  }
  void finish() override {
    finishing_ = true;
    if (queue_.empty()) end(web::StreamEnd::kFinished);
  }
  std::size_t buffered() const noexcept override { return buffered_; }

  // Ends the stream now (first reason wins): the connection's wait ends and the socket's operations
  // are cancelled.
  void end(web::StreamEnd why) {
    if (ended_) return;
    ended_ = true;
    why_ = why;
    wake_.cancel();
    boost::system::error_code ignored;
    socket_->cancel(ignored);
  }
  bool ended() const noexcept { return ended_; }
  web::StreamEnd why() const noexcept { return why_; }

  // The connection waits here until the stream has ended; returns why.
  asio::awaitable<web::StreamEnd> wait_end() {
    while (!ended_) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return why_;
  }

  // Notices the client closing its end (it sends nothing after the request): any read completing
  // with an error ends the stream; stray bytes are read and ignored.
  static void watch_client(const std::shared_ptr<SessionStream>& self) {
    if (self->ended_) return;
    auto buffer = std::make_shared<std::array<char, 512>>();
    self->socket_->async_read_some(asio::buffer(*buffer), [self, buffer](boost::system::error_code ec, std::size_t) {
      if (self->ended_) return;  // the connection may be gone: never touch the socket
      if (ec) {
        self->end(web::StreamEnd::kClientGone);
        return;
      }
      watch_client(self);
    });
  }

 private:
  // Writes as much of the queue as the socket takes now; waits for writability for the rest.
  void flush() {
    std::array<asio::const_buffer, 64> buffers;
    while (!queue_.empty() && !ended_) {
      std::size_t count = 0;
      for (auto it = queue_.begin(); it != queue_.end() && count < buffers.size(); ++it, ++count) {
        buffers[count] = it == queue_.begin() ? asio::buffer(**it) + offset_ : asio::buffer(**it);
      }
      boost::system::error_code ec;
      std::size_t written = socket_->write_some(std::span<const asio::const_buffer>(buffers.data(), count), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        wait_writable();
        return;
      }
      if (ec) {
        end(web::StreamEnd::kClientGone);
        return;
      }
      buffered_ -= written;
      while (written > 0) {
        const std::size_t left = queue_.front()->size() - offset_;
        if (written < left) {
          offset_ += written;
          break;
        }
        written -= left;
        offset_ = 0;
        queue_.pop_front();
      }
    }
    if (queue_.empty() && finishing_) end(web::StreamEnd::kFinished);
  }

  void wait_writable() {
    waiting_ = true;
    wait_started_ = std::chrono::steady_clock::now();
    socket_->async_wait(tcp::socket::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
      self->waiting_ = false;
      if (self->ended_) return;  // the connection may be gone: never touch the socket
      if (ec) {
        self->end(web::StreamEnd::kClientGone);
        return;
      }
      self->flush();
    });
  }

  tcp::socket* socket_;
  asio::steady_timer wake_;
  std::deque<web::StreamBytes> queue_;
  std::size_t offset_ = 0;    // bytes of queue_.front() already written
  std::size_t buffered_ = 0;  // bytes queued and not yet written
  std::size_t max_buffered_;
  std::chrono::milliseconds stall_timeout_;
  std::chrono::steady_clock::time_point wait_started_{};
  bool waiting_ = false;  // waiting for the socket to become writable
  bool finishing_ = false;
  bool ended_ = false;
  web::StreamEnd why_ = web::StreamEnd::kFinished;
};

}  // namespace

// Per io_context state; touched only from that context's thread.
struct ContextState {
  asio::io_context* context;
  struct Connection {
    beast::tcp_stream* stream;
    bool idle;
    SessionStream* streaming = nullptr;  // set while the connection streams a response
  };
  std::list<Connection> connections;
  bool draining = false;
};

namespace {

// IPv4 as it is; an IPv4-mapped IPv6 address as IPv4; other IPv6 as its /64 network, because one
// client normally has a whole /64 and would otherwise get 2^64 separate limit buckets.
std::string limit_subject(const boost::asio::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

// A literal IP address (an IPv4-mapped IPv6 one as IPv4); nullopt for anything else (ports, names).
std::optional<boost::asio::ip::address> parse_address(std::string_view text) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(trimmed(text)), ec);
  if (ec) return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return boost::asio::ip::address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()));
  }
  return address;
}

}  // namespace

std::string client_address(const std::string& peer, const std::string* forwarded_for,
                           const std::vector<std::string>& trusted_proxies) {
  const auto peer_address = parse_address(peer);
  if (!peer_address) return peer;
  const std::string own = limit_subject(*peer_address);
  if (forwarded_for == nullptr) return own;
  const bool trusted = std::any_of(trusted_proxies.begin(), trusted_proxies.end(), [&](const std::string& proxy) {
    const auto proxy_address = parse_address(proxy);
    return proxy_address && *proxy_address == *peer_address;
  });
  if (!trusted) return own;
  std::string_view list = *forwarded_for;
  const auto comma = list.rfind(',');
  const std::string_view last = comma == std::string_view::npos ? list : list.substr(comma + 1);
  if (last.size() > 64) return own;
  const auto client = parse_address(last);
  return client ? limit_subject(*client) : own;
}

struct HttpServer::Impl {
  Impl(HttpServer& server, HttpServerOptions opts, const web::RequestDispatcher& d, RequestObserver obs)
      : owner(server), options(std::move(opts)), dispatcher(d), observer(std::move(obs)) {}

  HttpServer& owner;
  std::vector<std::unique_ptr<ContextState>> contexts;
  HttpServerOptions options;
  const web::RequestDispatcher& dispatcher;
  RequestObserver observer;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::atomic<std::size_t> next_context{0};
  std::atomic<bool> draining{false};
  std::mutex drained_mutex;
  std::condition_variable drained_cv;
  std::shared_ptr<spdlog::logger> access_log;
  // The accept loop's backoff timer (it and the acceptor live on the first context's thread).
  asio::steady_timer* accept_backoff = nullptr;
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> accept_failed{0};
  std::atomic<std::uint64_t> backoff_millis{0};
  // Rate-limited warnings of the accept loop (its thread only).
  std::chrono::steady_clock::time_point last_accept_warning{};
  std::uint64_t unreported_failures = 0;
  std::uint64_t unreported_refusals = 0;

  asio::awaitable<void> accept_loop();
  void refuse(tcp::socket& socket);
  void warn_accept(const char* what, const std::string& detail);
  asio::awaitable<void> session(ContextState& state, tcp::socket socket);
  asio::awaitable<bool> answer(beast::tcp_stream& stream, ContextState& state, ContextState::Connection& connection,
                               web::Request& request, unsigned version, bool keep_alive);
  asio::awaitable<void> stream_response(beast::tcp_stream& stream, ContextState& state,
                                        ContextState::Connection& connection, web::Request& request,
                                        web::DispatchResult& result, unsigned version,
                                        std::chrono::steady_clock::time_point started);
  asio::awaitable<void> reject(beast::tcp_stream& stream, ErrorCode code, const std::string& message,
                               const Origin& origin);
  // Auth before the body (DESIGN.md §5): when the dispatcher refuses the request on its header
  // alone, answers that with `Connection: close` (the body left unread) and returns true.
  // `oversized`: the body is over the limit (refused anyway): the route's store checks run too.
  asio::awaitable<bool> refused_before_body(beast::tcp_stream& stream, const bhttp::request_header<>& header,
                                            const std::string& remote_address, const std::string& peer_text,
                                            bool oversized = false);
  asio::awaitable<void> drain_unread(beast::tcp_stream& stream);
  // Writes a response with `Connection: close`; the write's error, if any.
  asio::awaitable<boost::system::error_code> write_last(beast::tcp_stream& stream, const std::string& request_id,
                                                        web::Response response, unsigned version, bool head);
  web::Request request_of(const bhttp::request_header<>& header, const std::string& remote_address,
                          const std::string& peer_text) const;
  void connection_closed();
};

HttpServer::HttpServer(std::vector<asio::io_context*> contexts, HttpServerOptions options,
                       const web::RequestDispatcher& dispatcher, RequestObserver observer)
    : impl_(std::make_unique<Impl>(*this, std::move(options), dispatcher, std::move(observer))) {
  for (auto* context : contexts) impl_->contexts.push_back(std::make_unique<ContextState>(ContextState{context}));
  impl_->access_log = spdlog::get("access");
  if (!impl_->access_log) impl_->access_log = spdlog::default_logger();
}

HttpServer::~HttpServer() = default;

void HttpServer::start() {
  auto& first = *impl_->contexts.front()->context;
  const auto address = asio::ip::make_address(impl_->options.address);
  impl_->acceptor = std::make_unique<tcp::acceptor>(first);
  const tcp::endpoint endpoint{address, impl_->options.port};
  impl_->acceptor->open(endpoint.protocol());
  impl_->acceptor->set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor->bind(endpoint);
  impl_->acceptor->listen(asio::socket_base::max_listen_connections);
  port_ = impl_->acceptor->local_endpoint().port();
  asio::co_spawn(first, impl_->accept_loop(), asio::detached);
}

namespace {

// accept() failures that mean "out of descriptors or memory": retrying at once fails again at once.
bool out_of_resources(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
         ec == boost::system::error_code(ENFILE, boost::system::system_category());
}

constexpr std::chrono::milliseconds kFirstBackoff{10};
constexpr std::chrono::milliseconds kLongestBackoff{1000};
constexpr std::chrono::seconds kAcceptWarningInterval{10};

}  // namespace

asio::awaitable<void> HttpServer::Impl::accept_loop() {
  asio::steady_timer backoff_timer(acceptor->get_executor());
  accept_backoff = &backoff_timer;
  std::chrono::milliseconds backoff{0};
  while (!draining.load()) {
    ContextState& target = *contexts[next_context.fetch_add(1) % contexts.size()];
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor->async_accept(target.context->get_executor(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || draining.load()) break;
      accept_failed.fetch_add(1, std::memory_order_relaxed);
      ++unreported_failures;
      if (!out_of_resources(ec)) {  // about that one connection (e.g. reset before accept): go on
        warn_accept("accept failed", ec.message());
        continue;
      }
      // Out of descriptors: the pending connection stays in the backlog and accept() would fail
      // again at once, spinning a core. Wait 10 ms, doubling to 1 s, until a connection ends.
      backoff = backoff.count() == 0 ? kFirstBackoff : std::min(backoff * 2, kLongestBackoff);
      warn_accept("accept failed", fmt::format("{}; retrying in {} ms", ec.message(), backoff.count()));
      backoff_millis.fetch_add(static_cast<std::uint64_t>(backoff.count()), std::memory_order_relaxed);
      backoff_timer.expires_after(backoff);
      co_await backoff_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    backoff = std::chrono::milliseconds(0);
    if (owner.open_connections_.load() >= options.max_connections) {
      refuse(socket);
      continue;
    }
    accepted.fetch_add(1, std::memory_order_relaxed);
    owner.open_connections_.fetch_add(1);
    asio::co_spawn(*target.context, session(target, std::move(socket)), asio::detached);
  }
  accept_backoff = nullptr;
}

// Closes a connection over http.max-connections at once with a reset (no TIME_WAIT kept here, and
// the client learns at once instead of waiting for an answer that never comes).
void HttpServer::Impl::refuse(tcp::socket& socket) {
  refused.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
  ++unreported_refusals;
  warn_accept("connections refused",
              fmt::format("{} connections open (http.max-connections)", options.max_connections));
}

// One warning per kAcceptWarningInterval at most, counting what happened in between.
void HttpServer::Impl::warn_accept(const char* what, const std::string& detail) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_accept_warning < kAcceptWarningInterval) return;
  last_accept_warning = now;
  spdlog::warn("{}: {} (since the last warning: {} failed accepts, {} refused connections)", what, detail,
               unreported_failures, unreported_refusals);
  unreported_failures = 0;
  unreported_refusals = 0;
}

void HttpServer::Impl::connection_closed() {
  if (owner.open_connections_.fetch_sub(1) == 1) {
    std::lock_guard lock(drained_mutex);
    drained_cv.notify_all();
  }
}

// Answers a request that could not be parsed or framed, then the caller closes the connection.
web::Request HttpServer::Impl::request_of(const bhttp::request_header<>& header, const std::string& remote_address,
                                          const std::string& peer_text) const {
  web::Request request;
  request.method = to_method(header.method());
  request.method_text = std::string(header.method_string());
  request.remote_address = remote_address;
  std::string storage;
  request.target = std::string(origin_form(header.target(), storage));
  const auto question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) request.query = request.target.substr(question + 1);
  request.headers.reserve(8);
  for (const auto& field : header) {
    request.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  if (!options.trusted_proxies.empty()) {
    // Every X-Forwarded-For line, in order (RFC 9110 §5.3): a proxy may add a line of its own
    // after the client's, and the rightmost entry must be the proxy's.
    std::string forwarded;
    for (const auto& field : request.headers) {
      if (strcasecmp(field.name.c_str(), "X-Forwarded-For") != 0) continue;
      if (!forwarded.empty()) forwarded += ',';
      forwarded += field.value;
    }
    request.remote_address =
        client_address(peer_text, forwarded.empty() ? nullptr : &forwarded, options.trusted_proxies);
  }
  const std::string* sent_id = request.header("X-Request-Id");
  request.request_id = request_id_for(sent_id ? std::string_view(*sent_id) : std::string_view());
  return request;
}

asio::awaitable<boost::system::error_code> HttpServer::Impl::write_last(beast::tcp_stream& stream,
                                                                        const std::string& request_id,
                                                                        web::Response response, unsigned version,
                                                                        bool head) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
  if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
  res.set(bhttp::field::date, http_date_now());
  res.set("X-Request-Id", request_id);
  for (const auto& h : response.headers) res.set(h.name, h.value);
  res.keep_alive(false);
  const std::size_t body_size = response.body.size();
  res.body() = std::move(response.body);
  res.prepare_payload();
  stream.expires_after(options.read_timeout);
  boost::system::error_code ec;
  if (head) {  // the headers GET would get, the body left out
    res.body().clear();
    res.content_length(body_size);
    bhttp::serializer<false, bhttp::string_body> serializer{res};
    serializer.split(true);
    co_await bhttp::async_write_header(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return ec;
}

asio::awaitable<bool> HttpServer::Impl::refused_before_body(beast::tcp_stream& stream,
                                                            const bhttp::request_header<>& header,
                                                            const std::string& remote_address,
                                                            const std::string& peer_text, bool oversized) {
  web::Request request = request_of(header, remote_address, peer_text);
  std::optional<web::DispatchResult> refused;
  if (oversized) {
    refused = co_await dispatcher.refuse_oversized(request);
  } else {
    refused = dispatcher.refuse_before_body(request);
  }
  if (!refused) co_return false;
  web::DispatchResult& result = *refused;
  const int status_code = result.response.status;
  const auto ec = co_await write_last(stream, request.request_id, std::move(result.response), header.version(),
                                      header.method() == bhttp::verb::head);
  if (access_log && options.access_log) {
    access_log->info("{} {} {} {} rid={} (refused before the body)", request.method_text, request.path, status_code,
                     "0.000ms", request.request_id);
  }
  if (observer) observer(web::to_string(request.method), result.route, status_code, std::chrono::nanoseconds(0));
  if (!ec) co_await drain_unread(stream);
  co_return true;
}

asio::awaitable<void> HttpServer::Impl::drain_unread(beast::tcp_stream& stream) {
  // Closing with unread bytes resets the connection, and a client still sending its body would
  // lose the answer it was sent: after it, take (and drop) what the client sends until it closes,
  // at most kDrainBytes and 1 s.
  constexpr std::size_t kDrainBytes = 4 * 1024 * 1024;
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(1));
  std::array<char, 16384> sink{};
  for (std::size_t drained = 0; !ec && drained <= kDrainBytes;) {
    drained += co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> HttpServer::Impl::reject(beast::tcp_stream& stream, ErrorCode code, const std::string& message,
                                               const Origin& origin) {
  web::Request request;
  request.path = origin.path;
  request.request_id = origin.request_id;
  web::Response response = dispatcher.reject(code, message, request);
  const int status_code = response.status;
  const auto ec = co_await write_last(stream, request.request_id, std::move(response), 11, origin.head);
  if (access_log && options.access_log) {
    access_log->info("- {} {} {} rid={} (rejected: {})", request.path.empty() ? "-" : request.path, status_code,
                     "0.000ms", request.request_id, message);
  }
  if (observer) observer("OTHER", "UNKNOWN", status_code, std::chrono::nanoseconds(0));
  if (!ec) co_await drain_unread(stream);
}

asio::awaitable<void> HttpServer::Impl::session(ContextState& state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  stream.socket().set_option(tcp::no_delay(true));
  // The peer's address, for the per-address sign-in limit (DESIGN.md §12); empty if unknown.
  boost::system::error_code peer_error;
  const auto peer = stream.socket().remote_endpoint(peer_error);
  // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d; limits and proxies use a.b.c.d.
  const auto peer_address = peer.address().is_v6() && peer.address().to_v6().is_v4_mapped()
                                ? boost::asio::ip::address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped,
                                                                                            peer.address().to_v6()))
                                : peer.address();
  const std::string peer_text = peer_error ? std::string() : peer_address.to_string();
  const std::string remote_address = peer_text.empty() ? std::string() : client_address(peer_text, nullptr, {});
  auto self = state.connections.insert(state.connections.end(), ContextState::Connection{&stream, false});
  beast::flat_buffer buffer;
  bool first_request = true;
  constexpr std::size_t kMaxBlankBeforeRequest = 8;
  std::size_t blank_before_request = 0;  // CR/LF bytes skipped before the current request line

  try {
    while (true) {
      boost::system::error_code ec;
      // Wait for the first byte of the next request: read-timeout for a new connection,
      // idle-timeout between keep-alive requests. Idle connections are closed on shutdown.
      if (buffer.size() == 0) {
        if (state.draining || draining.load()) break;
        self->idle = true;
        stream.expires_after(first_request ? options.read_timeout : options.idle_timeout);
        const std::size_t n =
            co_await stream.async_read_some(buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
        self->idle = false;
        if (ec) break;
        buffer.commit(n);
      }
      // RFC 9112 §2.2: empty lines before a request line are ignored (some clients send a CRLF
      // after a body) — a few of them; more are left to the parser, which refuses them.
      {
        const auto* bytes = static_cast<const char*>(buffer.data().data());
        std::size_t blank = 0;
        while (blank < buffer.size() && blank_before_request < kMaxBlankBeforeRequest &&
               (bytes[blank] == '\r' || bytes[blank] == '\n')) {
          ++blank;
          ++blank_before_request;
        }
        buffer.consume(blank);
        if (buffer.size() == 0) continue;
      }

      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header));
      // No body limit while the header is read: Beast would refuse a Content-Length over it at that
      // field, before the fields after it (Authorization among them) are parsed. The length is
      // checked below once the header is complete — after auth (DESIGN.md §5) — and the limit set
      // for the body.
      parser.body_limit(boost::none);
      stream.expires_after(options.read_timeout);
      co_await read_request(stream, buffer, parser, nullptr, ec);
      if (ec) {
        if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
            ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
          break;
        }
        const Origin origin = origin_of_unparsed(parser, buffer);
        ErrorCode code = ErrorCode::kInvalidArgument;
        std::string message = "malformed HTTP request: " + ec.message();
        if (ec == bhttp::error::bad_obs_fold) {
          message = "malformed HTTP request: a header line continues the one before (obsolete line folding)";
        } else if (ec == bhttp::error::header_limit) {
          code = ErrorCode::kHeaderTooLarge;
          message = fmt::format("request header exceeds {} bytes (or one field 65,533)", options.max_header);
        }
        co_await reject(stream, code, message, origin);
        break;
      }

      auto& header = parser.get();
      std::string target_storage;
      const std::string_view target = origin_form(header.target(), target_storage);
      const std::string_view client_id = header["X-Request-Id"];
      const bool head = header.method() == bhttp::verb::head;
      // Only origin form ("/path?query") is served (absolute form was turned into it above): "*",
      // "concerts", "ftp://host/x" and a fragment (never sent by a client) are a bad request line.
      if (has_raw_non_ascii(target) || target.empty() || target.front() != '/' ||
          target.find('#') != std::string_view::npos) {
        const Origin origin{"", request_id_for(client_id), head};
        co_await reject(stream, ErrorCode::kInvalidArgument, "malformed HTTP request: bad target", origin);
        break;
      }
      // A Transfer-Encoding other than exactly "chunked" cannot be framed safely (or would be
      // ignored, as a "gzip, chunked" body's gzip would): refuse it.
      if (header.count(bhttp::field::transfer_encoding) > 0 &&
          (!parser.chunked() || header.count(bhttp::field::transfer_encoding) != 1 ||
           !beast::iequals(trimmed(header[bhttp::field::transfer_encoding]), "chunked"))) {
        const Origin origin = origin_of(target, client_id, head);
        const std::string message = "unsupported Transfer-Encoding (only \"chunked\")";
        co_await reject(stream, ErrorCode::kInvalidArgument, message, origin);
        break;
      }
      // RFC 9112 §3.2: an HTTP/1.1 request without a Host header, or any request with two, is 400.
      if (const auto hosts = header.count(bhttp::field::host); hosts > 1 || (hosts == 0 && header.version() >= 11)) {
        const Origin origin = origin_of(target, client_id, head);
        const std::string message = hosts > 1 ? "more than one Host header" : "an HTTP/1.1 request needs a Host header";
        co_await reject(stream, ErrorCode::kInvalidArgument, message, origin);
        break;
      }
      if (!valid_host(header[bhttp::field::host])) {
        const Origin origin = origin_of(target, client_id, head);
        co_await reject(stream, ErrorCode::kInvalidArgument, "invalid Host header", origin);
        break;
      }
      if (const auto length = parser.content_length(); length && *length > options.max_body) {
        // Auth before the body: 401, not 413. (A separate statement: GCC 12 miscompiles some
        // `if (co_await ...)` forms.)
        const bool refused = co_await refused_before_body(stream, header, remote_address, peer_text, true);
        if (refused) break;
        const Origin origin = origin_of(target, client_id, head);
        const std::string message = fmt::format("request body exceeds {} bytes", options.max_body);
        co_await reject(stream, ErrorCode::kPayloadTooLarge, message, origin);
        break;
      }
      parser.body_limit(options.max_body);  // a chunked body's chunks are counted against it
      // RFC 9110 §10.1.1: an HTTP/1.0 client's expectation is ignored (it gets no 1xx).
      const bool expects_continue =
          header.version() >= 11 && beast::iequals(header[bhttp::field::expect], "100-continue");
      if (!parser.is_done()) {
        // Auth before the body (DESIGN.md §5): a request its header already refuses is answered
        // now, and the connection closed, instead of waiting for a body that has not come —
        // all of it for a Content-Length, any of it for a chunked body.
        const auto length = parser.content_length();
        if (expects_continue || (length ? buffer.size() < *length : buffer.size() == 0)) {
          const bool refused = co_await refused_before_body(stream, header, remote_address, peer_text);
          if (refused) break;
        }
      }
      // No 100 Continue for a request without a body (Content-Length: 0): there is nothing to go on
      // with, and a refusal is its answer.
      if (expects_continue && !parser.is_done()) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, header.version()};
        co_await bhttp::async_write(stream, go_on, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
      // Trailer fields of a chunked body are never request fields: Beast's parser appends them to
      // the header's, so an Authorization, Queue-Token or Content-Type sent after the last chunk
      // would count as if sent up front — auth after the body, and past any proxy that checked the
      // header. They are dropped (RFC 9110 §6.5.1: a recipient may discard them).
      const auto header_fields = parser.chunked() ? field_addresses(header) : std::vector<const void*>{};
      if (!parser.is_done()) {
        // The body's timeout is an idle one (each read that brings bytes restarts it), within an
        // overall kBodyTimeouts read timeouts; its bytes on the wire, framing included, are bounded.
        constexpr int kBodyTimeouts = 6;
        const BodyReadLimits limits{options.read_timeout,
                                    std::chrono::steady_clock::now() + kBodyTimeouts * options.read_timeout,
                                    2 * options.max_body + options.max_header, options.max_header};
        stream.expires_after(options.read_timeout);
        co_await read_request(stream, buffer, parser, &limits, ec);
        const bool answered = ec == beast::error::timeout || ec == asio::error::eof ||
                              ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset;
        if (ec && !answered) {
          // A body refused while it was read, its header checked only now (the body had arrived
          // with it): auth before the body, 401 rather than 413, 431 or 400.
          const bool refused =
              co_await refused_before_body(stream, header, remote_address, peer_text, ec == bhttp::error::body_limit);
          if (refused) break;
          const Origin origin = origin_of(target, client_id, head);
          if (ec == bhttp::error::body_limit) {
            const std::string message = fmt::format("request body exceeds {} bytes", options.max_body);
            co_await reject(stream, ErrorCode::kPayloadTooLarge, message, origin);
          } else if (ec == bhttp::error::header_limit) {  // a chunked body's chunk line or trailer
            const std::string message = fmt::format(
                "a chunk-size line or the trailer exceeds {} bytes (or one field 65,533)", options.max_header);
            co_await reject(stream, ErrorCode::kHeaderTooLarge, message, origin);
          } else {
            const std::string message = "malformed HTTP body: " + ec.message();
            co_await reject(stream, ErrorCode::kInvalidArgument, message, origin);
          }
        }
        if (ec) break;
      }

      if (!header_fields.empty()) drop_fields_but(parser.get().base(), header_fields);
      bhttp::request<bhttp::string_body> message = parser.release();
      web::Request request = request_of(message, remote_address, peer_text);
      request.body = std::move(message.body());

      const bool keep_alive = keeps_alive(message.base());
      // A separate statement: GCC 12 miscompiles some `if (co_await ...)` forms.
      const bool keep_open = co_await answer(stream, state, *self, request, message.version(), keep_alive);
      if (!keep_open) break;
      first_request = false;
      blank_before_request = 0;
    }
  } catch (const std::exception& error) {
    spdlog::warn("connection ended by error: {}", error.what());
  }

  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
  state.connections.erase(self);
  connection_closed();
}

asio::awaitable<bool> HttpServer::Impl::answer(beast::tcp_stream& stream, ContextState& state,
                                               ContextState::Connection& connection, web::Request& request,
                                               unsigned version, bool keep_alive) {
  const auto started = std::chrono::steady_clock::now();
  web::DispatchResult result = co_await dispatcher.dispatch(request);
  web::Response& response = result.response;
  if (response.stream) {
    co_await stream_response(stream, state, connection, request, result, version, started);
    co_return false;
  }

  const bool keep =
      keep_alive && !response.close_connection && !response.head_of_stream && !state.draining && !draining.load();
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
  if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
  res.set(bhttp::field::date, http_date_now());
  res.set("X-Request-Id", request.request_id);
  for (const auto& h : response.headers) res.set(h.name, h.value);
  res.keep_alive(keep);
  const std::size_t body_size = response.body.size();
  res.body() = std::move(response.body);
  res.prepare_payload();
  // RFC 9110 §8.6: no Content-Length on a 204 or a 304 (neither has a body; a 304's would have to
  // be the length of the 200 it stands for, not the 0 Beast puts there).
  const bool bodiless = response.status == 204 || response.status == 304;
  if (bodiless) res.erase(bhttp::field::content_length);
  if (request.method == web::Method::kHead) {
    // HEAD: same headers as GET, including the length of the body we do not send.
    res.body().clear();
    if (response.head_of_stream || bodiless) {
      res.erase(bhttp::field::content_length);
    } else {
      res.content_length(body_size);
    }
  }

  boost::system::error_code ec;
  stream.expires_after(options.read_timeout);
  bhttp::serializer<false, bhttp::string_body> serializer{res};
  if (request.method == web::Method::kHead) serializer.split(true);
  if (request.method == web::Method::kHead) {
    co_await bhttp::async_write_header(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await bhttp::async_write(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  // The method label is one of the seven methods we route or OTHER, never the text as sent: any
  // token is a valid HTTP method, and each new label value would be a series kept forever.
  if (observer) observer(web::to_string(request.method), result.route, response.status, elapsed);
  if (options.access_log && access_log) {
    access_log->info("{} {} {} {:.3f}ms rid={} path={}", request.method_text, result.route, response.status,
                     std::chrono::duration<double, std::milli>(elapsed).count(), request.request_id, request.path);
  }
  co_return !ec && keep;
}

asio::awaitable<void> HttpServer::Impl::stream_response(beast::tcp_stream& stream, ContextState& state,
                                                        ContextState::Connection& connection, web::Request& request,
                                                        web::DispatchResult& result, unsigned version,
                                                        std::chrono::steady_clock::time_point started) {
  web::Response& response = result.response;
  std::shared_ptr<web::ResponseStream> producer = std::move(response.stream);
  bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(response.status), version};
  if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
  res.set(bhttp::field::date, http_date_now());
  res.set("X-Request-Id", request.request_id);
  for (const auto& h : response.headers) res.set(h.name, h.value);
  // No Content-Length and no chunking: the body is every byte until the connection closes.
  res.keep_alive(false);
  boost::system::error_code ec;
  stream.expires_after(options.read_timeout);
  bhttp::serializer<false, bhttp::empty_body> serializer{res};
  co_await bhttp::async_write_header(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  if (observer) observer(web::to_string(request.method), result.route, response.status, elapsed);
  if (options.access_log && access_log) {
    access_log->info("{} {} {} {:.3f}ms rid={} path={} (stream)", request.method_text, result.route, response.status,
                     std::chrono::duration<double, std::milli>(elapsed).count(), request.request_id, request.path);
  }
  if (ec) {
    producer->stopped(web::StreamEnd::kClientGone);
    co_return;
  }
  // A stream lives as long as it likes: no read timeout; the channel's own limits apply instead.
  stream.expires_never();
  auto channel =
      std::make_shared<SessionStream>(stream.socket(), options.max_stream_buffer, options.stream_stall_timeout);
  connection.streaming = channel.get();
  web::StreamEnd why = web::StreamEnd::kShutdown;
  try {
    producer->start(channel);
    if (state.draining || draining.load()) channel->end(web::StreamEnd::kShutdown);
    SessionStream::watch_client(channel);
    why = co_await channel->wait_end();
  } catch (const std::exception& error) {
    spdlog::warn("stream ended by error: {}", error.what());
    channel->end(web::StreamEnd::kClientGone);
    why = channel->why();
  }
  connection.streaming = nullptr;
  producer->stopped(why);
}

void HttpServer::begin_shutdown() {
  impl_->draining.store(true);
  if (impl_->acceptor) {
    asio::post(impl_->acceptor->get_executor(), [this] {
      boost::system::error_code ignored;
      impl_->acceptor->close(ignored);
      if (impl_->accept_backoff != nullptr) impl_->accept_backoff->cancel();
    });
  }
  for (auto& state : impl_->contexts) {
    asio::post(*state->context, [s = state.get()] {
      s->draining = true;
      for (auto& connection : s->connections) {
        if (connection.idle) connection.stream->cancel();
        if (connection.streaming != nullptr) connection.streaming->end(web::StreamEnd::kShutdown);
      }
    });
  }
}

AcceptStats HttpServer::accept_stats() const noexcept {
  return AcceptStats{impl_->accepted.load(std::memory_order_relaxed), impl_->refused.load(std::memory_order_relaxed),
                     impl_->accept_failed.load(std::memory_order_relaxed),
                     impl_->backoff_millis.load(std::memory_order_relaxed)};
}

bool HttpServer::wait_drained(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->drained_mutex);
  return impl_->drained_cv.wait_for(lock, timeout, [this] { return open_connections_.load() == 0; });
}

}  // namespace ticketing::infra::http
