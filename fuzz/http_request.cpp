// HTTP/1.1 request framing as HttpServer reads it: a Beast request_parser<string_body> with the
// server's default header and body limits (HttpServerOptions: 16 KiB, 64 KiB), fed the bytes in
// pieces the way the socket delivers them (first input byte: the piece size), header first, then
// the body, then the next request on the same connection (keep-alive), up to 4 requests.
// Properties: the parser never crashes or reads out of bounds; a message it completes has a body
// within the limit and, with a Content-Length, exactly that many bytes.
#include <algorithm>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {
constexpr std::size_t kMaxHeader = 16 * 1024;
constexpr std::size_t kMaxBody = 64 * 1024;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = static_cast<std::size_t>(data[0]) * 4 + 1;  // 1..1021 bytes per read
  std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);

  beast::flat_buffer buffer;
  for (int message = 0; message < 4; ++message) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kMaxHeader));
    parser.body_limit(kMaxBody);
    beast::error_code ec;
    while (!parser.is_done()) {
      if (buffer.size() > 0) {
        const std::size_t used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec == bhttp::error::need_more) {
          ec = {};
        } else if (ec) {
          return 0;  // the server answers 4xx and closes
        } else if (used > 0) {
          continue;
        }
      }
      if (wire.empty()) {
        parser.put_eof(ec);  // the peer closed
        if (ec) return 0;
        break;
      }
      const std::size_t n = std::min(piece, wire.size());
      auto space = buffer.prepare(n);
      std::copy_n(wire.data(), n, static_cast<char*>(space.data()));
      buffer.commit(n);
      wire.remove_prefix(n);
    }
    if (!parser.is_done()) return 0;
    const auto& request = parser.get();
    if (request.body().size() > kMaxBody) __builtin_trap();
    if (const auto length = parser.content_length(); length && *length != request.body().size()) __builtin_trap();
    if (!parser.keep_alive()) return 0;
  }
  return 0;
}
