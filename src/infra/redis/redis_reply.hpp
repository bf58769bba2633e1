#pragma once
// A Redis reply as a plain value type, and RESP command encoding.
// hiredis (0.14) is used only as a RESP parser; its C structs never leave src/infra/redis.
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;  // hiredis' C structs; declared here so callers need not include hiredis.
struct redisReader;

namespace ticketing::infra::redis {

struct RedisReply {
  enum class Type { kString, kStatus, kError, kInteger, kNil, kArray };

  Type type = Type::kNil;
  std::string str;                   // kString, kStatus, kError (binary safe)
  long long integer = 0;             // kInteger
  std::vector<RedisReply> elements;  // kArray

  bool is_error() const noexcept { return type == Type::kError; }
  bool is_nil() const noexcept { return type == Type::kNil; }
  bool is_string() const noexcept { return type == Type::kString; }
  bool is_status() const noexcept { return type == Type::kStatus; }
  bool is_integer() const noexcept { return type == Type::kInteger; }
  bool is_array() const noexcept { return type == Type::kArray; }
  // True for a status reply equal to `status` ("OK", "PONG", ...).
  bool is_status(std::string_view status) const noexcept { return type == Type::kStatus && str == status; }

  // Human-readable rendering for logs and test failure messages (strings are quoted and escaped).
  std::string to_string() const;

  static RedisReply make_string(std::string s) { return {Type::kString, std::move(s), 0, {}}; }
  static RedisReply make_status(std::string s) { return {Type::kStatus, std::move(s), 0, {}}; }
  static RedisReply make_error(std::string s) { return {Type::kError, std::move(s), 0, {}}; }
  static RedisReply make_integer(long long v) { return {Type::kInteger, {}, v, {}}; }
  static RedisReply make_nil() { return {}; }
  static RedisReply make_array(std::vector<RedisReply> items) { return {Type::kArray, {}, 0, std::move(items)}; }

  friend bool operator==(const RedisReply&, const RedisReply&) = default;
};

std::string_view to_string(RedisReply::Type type) noexcept;

// hiredis 0.14 allocates an array's element pointers as soon as it reads the header "*<n>", so a
// reply header of a few bytes could ask for gigabytes (found by fuzz/redis_reply). Readers made by
// create_reader() refuse arrays longer than this: the reader reports an error (a protocol error for
// RedisConnection, which drops the link) instead.
inline constexpr int kMaxReplyArrayElements = 1 << 24;
// A hiredis reader with that limit; free it with redisReaderFree.
::redisReader* create_reader();

// Deep copy of a reply produced by hiredis' reader (the caller still frees `reply`).
RedisReply from_hiredis(const ::redisReply& reply);

// The next complete reply buffered in `reader` (a copy; hiredis' object is freed), or nullopt when
// more bytes are needed. Throws std::runtime_error("protocol error: ...") when the stream is not RESP.
std::optional<RedisReply> next_reply(::redisReader& reader);

// RESP encoding: appends `*N\r\n` then `$len\r\narg\r\n` per argument. Binary safe (arguments may
// contain NUL, CR, LF) and allocation-free beyond growing `out`.
void append_command(std::string& out, std::span<const std::string_view> args);
// The two building blocks of append_command, for callers that assemble a command from several
// ranges without first collecting them into one array (EVALSHA sha numkeys keys... args...).
void append_array_header(std::string& out, std::size_t count);
void append_bulk(std::string& out, std::string_view arg);

}  // namespace ticketing::infra::redis
