// The Redis reply parser as RedisConnection uses it: hiredis' reader fed arbitrary bytes, every
// complete reply converted by from_hiredis and rendered by to_string. Property (round trip): the
// parsed replies, encoded back to RESP here and parsed again, give the same RedisReply values.
#include "infra/redis/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

using ticketing::infra::redis::RedisReply;

namespace {

struct ReaderDeleter {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};
struct ReplyDeleter {
  void operator()(void* r) const noexcept { freeReplyObject(r); }
};

// Parses every complete reply of `bytes`, fed in pieces of `chunk` bytes (the socket splits them
// anywhere). Returns false on a protocol error.
bool parse(const char* bytes, std::size_t size, std::size_t chunk, std::vector<RedisReply>& out) {
  std::unique_ptr<redisReader, ReaderDeleter> reader(ticketing::infra::redis::create_reader());
  for (std::size_t at = 0; at < size || at == 0; at += chunk) {
    const std::size_t n = std::min(chunk, size - at);
    if (n > 0 && redisReaderFeed(reader.get(), bytes + at, n) != REDIS_OK) return false;
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) return false;
      if (raw == nullptr) break;
      std::unique_ptr<void, ReplyDeleter> owned(raw);
      out.push_back(ticketing::infra::redis::from_hiredis(*static_cast<const ::redisReply*>(raw)));
    }
    if (size == 0) break;
  }
  return true;
}

void encode(const RedisReply& r, std::string& out) {
  switch (r.type) {
    case RedisReply::Type::kNil: out += "$-1\r\n"; return;
    case RedisReply::Type::kInteger: out += ":" + std::to_string(r.integer) + "\r\n"; return;
    case RedisReply::Type::kStatus: out += "+" + r.str + "\r\n"; return;
    case RedisReply::Type::kError: out += "-" + r.str + "\r\n"; return;
    case RedisReply::Type::kString: ticketing::infra::redis::append_bulk(out, r.str); return;
    case RedisReply::Type::kArray:
      ticketing::infra::redis::append_array_header(out, r.elements.size());
      for (const auto& e : r.elements) encode(e, out);
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const char* bytes = reinterpret_cast<const char*>(data);
  // First byte: the feed size (1..32 bytes at a time), the rest: what the server sent.
  const std::size_t chunk = (data[0] & 31) + 1;
  std::vector<RedisReply> replies;
  const bool ok = parse(bytes + 1, size - 1, chunk, replies);
  for (const auto& reply : replies) (void)reply.to_string();

  // Round trip of what parsed (also when a later reply was a protocol error). Status and error
  // lines cannot hold CR/LF, and hiredis parses them up to the first "\r\n", so they re-encode as is.
  std::string wire;
  for (const auto& reply : replies) encode(reply, wire);
  std::vector<RedisReply> again;
  if (!parse(wire.data(), wire.size(), wire.size() + 1, again) || again != replies) __builtin_trap();
  (void)ok;
  return 0;
}
