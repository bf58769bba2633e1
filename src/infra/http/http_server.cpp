#include "infra/http/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <random>

#include "api/error_mapping.hpp"

namespace ticketing::infra::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using domain::ErrorCode;

namespace {

api::Method to_method(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get: return api::Method::kGet;
    case bhttp::verb::head: return api::Method::kHead;
    case bhttp::verb::post: return api::Method::kPost;
    case bhttp::verb::put: return api::Method::kPut;
    case bhttp::verb::delete_: return api::Method::kDelete;
    case bhttp::verb::patch: return api::Method::kPatch;
    case bhttp::verb::options: return api::Method::kOptions;
    default: return api::Method::kOther;
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

}  // namespace

// Per io_context state; touched only from that context's thread.
struct ContextState {
  asio::io_context* context;
  struct Connection {
    beast::tcp_stream* stream;
    bool idle;
  };
  std::list<Connection> connections;
  bool draining = false;
};

struct HttpServer::Impl {
  Impl(HttpServer& server, HttpServerOptions opts, const api::Dispatcher& d, RequestObserver obs)
      : owner(server), options(std::move(opts)), dispatcher(d), observer(std::move(obs)) {}

  HttpServer& owner;
  std::vector<std::unique_ptr<ContextState>> contexts;
  HttpServerOptions options;
  const api::Dispatcher& dispatcher;
  RequestObserver observer;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::atomic<std::size_t> next_context{0};
  std::atomic<bool> draining{false};
  std::mutex drained_mutex;
  std::condition_variable drained_cv;
  std::shared_ptr<spdlog::logger> access_log;

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(ContextState& state, tcp::socket socket);
  asio::awaitable<bool> answer(beast::tcp_stream& stream, ContextState& state, api::ApiRequest& request,
                               unsigned version, bool keep_alive);
  asio::awaitable<void> reject(beast::tcp_stream& stream, ErrorCode code, std::string message,
                               std::string_view target);
  void connection_closed();
};

HttpServer::HttpServer(std::vector<asio::io_context*> contexts, HttpServerOptions options,
                       const api::Dispatcher& dispatcher, RequestObserver observer)
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

asio::awaitable<void> HttpServer::Impl::accept_loop() {
  while (!draining.load()) {
    ContextState& target = *contexts[next_context.fetch_add(1) % contexts.size()];
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor->async_accept(target.context->get_executor(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || draining.load()) break;
      spdlog::warn("accept failed: {}", ec.message());  // e.g. EMFILE: keep serving what we have
      continue;
    }
    owner.open_connections_.fetch_add(1);
    asio::co_spawn(*target.context, session(target, std::move(socket)), asio::detached);
  }
}

void HttpServer::Impl::connection_closed() {
  if (owner.open_connections_.fetch_sub(1) == 1) {
    std::lock_guard lock(drained_mutex);
    drained_cv.notify_all();
  }
}

// Answers a request that could not be parsed or framed, then the caller closes the connection.
asio::awaitable<void> HttpServer::Impl::reject(beast::tcp_stream& stream, ErrorCode code, std::string message,
                                               std::string_view target) {
  api::ApiRequest request;
  request.path = std::string(target.substr(0, target.find('?')));
  request.request_id = generate_request_id();
  api::ApiResponse response = api::error_response(code, message, request);
  const int status_code = response.status;
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status_code), 11};
  res.set(bhttp::field::content_type, response.content_type);
  res.set("X-Request-Id", request.request_id);
  res.keep_alive(false);
  res.body() = std::move(response.body);
  res.prepare_payload();
  stream.expires_after(options.read_timeout);
  boost::system::error_code ec;
  co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  if (access_log && options.access_log) {
    access_log->info("- {} {} {} rid={} (rejected: {})", target.empty() ? "-" : target, status_code, "0.000ms",
                     request.request_id, message);
  }
  if (observer) observer("OTHER", "UNKNOWN", status_code, std::chrono::nanoseconds(0));
}

asio::awaitable<void> HttpServer::Impl::session(ContextState& state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  stream.socket().set_option(tcp::no_delay(true));
  auto self = state.connections.insert(state.connections.end(), ContextState::Connection{&stream, false});
  beast::flat_buffer buffer;
  bool first_request = true;

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

      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header));
      parser.body_limit(options.max_body);
      stream.expires_after(options.read_timeout);
      co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
            ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
          break;
        }
        if (ec == bhttp::error::header_limit) {
          co_await reject(stream, ErrorCode::kInvalidArgument, "request header too large", "");
        } else if (ec == bhttp::error::body_limit) {
          co_await reject(stream, ErrorCode::kPayloadTooLarge,
                          fmt::format("request body exceeds {} bytes", options.max_body), "");
        } else {
          co_await reject(stream, ErrorCode::kInvalidArgument, "malformed HTTP request: " + ec.message(), "");
        }
        break;
      }

      auto& header = parser.get();
      const std::string_view target = header.target();
      // A Transfer-Encoding other than plain "chunked" cannot be framed safely: refuse it.
      if (header.count(bhttp::field::transfer_encoding) > 0 && !parser.chunked()) {
        co_await reject(stream, ErrorCode::kInvalidArgument, "unsupported Transfer-Encoding", target);
        break;
      }
      if (const auto length = parser.content_length(); length && *length > options.max_body) {
        co_await reject(stream, ErrorCode::kPayloadTooLarge,
                        fmt::format("request body exceeds {} bytes", options.max_body), target);
        break;
      }
      if (beast::iequals(header[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, header.version()};
        co_await bhttp::async_write(stream, go_on, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
      if (!parser.is_done()) {
        co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          if (ec == bhttp::error::body_limit) {
            co_await reject(stream, ErrorCode::kPayloadTooLarge,
                            fmt::format("request body exceeds {} bytes", options.max_body), target);
          } else if (ec != beast::error::timeout && ec != asio::error::eof && ec != bhttp::error::end_of_stream &&
                     ec != asio::error::connection_reset) {
            co_await reject(stream, ErrorCode::kInvalidArgument, "malformed HTTP body: " + ec.message(),
                            target);
          }
          break;
        }
      }

      bhttp::request<bhttp::string_body> message = parser.release();
      api::ApiRequest request;
      request.method = to_method(message.method());
      request.method_text = std::string(message.method_string());
      request.target = std::string(message.target());
      const auto question = request.target.find('?');
      request.path = request.target.substr(0, question);
      if (question != std::string::npos) request.query = request.target.substr(question + 1);
      request.headers.reserve(8);
      for (const auto& field : message) {
        request.headers.push_back({std::string(field.name_string()), std::string(field.value())});
      }
      request.body = std::move(message.body());
      const std::string* client_id = request.header("X-Request-Id");
      request.request_id = client_id && is_safe_request_id(*client_id) ? *client_id : generate_request_id();

      const bool keep_alive = message.keep_alive();
      // A separate statement: GCC 12 miscompiles some `if (co_await ...)` forms.
      const bool keep_open = co_await answer(stream, state, request, message.version(), keep_alive);
      if (!keep_open) break;
      first_request = false;
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
                                               api::ApiRequest& request, unsigned version, bool keep_alive) {
  const auto started = std::chrono::steady_clock::now();
  api::DispatchResult result = co_await dispatcher.dispatch(request);
  api::ApiResponse& response = result.response;

  const bool keep = keep_alive && !response.close_connection && !state.draining && !draining.load();
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
  if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
  res.set("X-Request-Id", request.request_id);
  for (const auto& h : response.headers) res.set(h.name, h.value);
  res.keep_alive(keep);
  const std::size_t body_size = response.body.size();
  res.body() = std::move(response.body);
  res.prepare_payload();
  if (request.method == api::Method::kHead) {
    // HEAD: same headers as GET, including the length of the body we do not send.
    res.body().clear();
    res.content_length(body_size);
  }

  boost::system::error_code ec;
  stream.expires_after(options.read_timeout);
  bhttp::serializer<false, bhttp::string_body> serializer{res};
  if (request.method == api::Method::kHead) serializer.split(true);
  if (request.method == api::Method::kHead) {
    co_await bhttp::async_write_header(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await bhttp::async_write(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  if (observer) observer(request.method_text, result.route, response.status, elapsed);
  if (options.access_log && access_log) {
    access_log->info("{} {} {} {:.3f}ms rid={} path={}", request.method_text, result.route, response.status,
                     std::chrono::duration<double, std::milli>(elapsed).count(), request.request_id, request.path);
  }
  co_return !ec && keep;
}

void HttpServer::begin_shutdown() {
  impl_->draining.store(true);
  if (impl_->acceptor) {
    asio::post(impl_->acceptor->get_executor(), [this] {
      boost::system::error_code ignored;
      impl_->acceptor->close(ignored);
    });
  }
  for (auto& state : impl_->contexts) {
    asio::post(*state->context, [s = state.get()] {
      s->draining = true;
      for (auto& connection : s->connections) {
        if (connection.idle) connection.stream->cancel();
      }
    });
  }
}

bool HttpServer::wait_drained(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->drained_mutex);
  return impl_->drained_cv.wait_for(lock, timeout, [this] { return open_connections_.load() == 0; });
}

}  // namespace ticketing::infra::http
