#include "infra/redis/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <charconv>
#include <new>
#include <stdexcept>

namespace ticketing::infra::redis {

namespace {

void append_decimal(std::string& out, std::size_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

void render(const RedisReply& r, std::string& out) {
  switch (r.type) {
    case RedisReply::Type::kNil: out += "(nil)"; return;
    case RedisReply::Type::kInteger: out += "(integer) " + std::to_string(r.integer); return;
    case RedisReply::Type::kStatus: out += r.str; return;
    case RedisReply::Type::kError: out += "(error) " + r.str; return;
    case RedisReply::Type::kString: {
      out += '"';
      for (unsigned char c : r.str) {
        if (c == '"' || c == '\\') {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        }
      }
      out += '"';
      return;
    }
    case RedisReply::Type::kArray:
      out += '[';
      for (std::size_t i = 0; i < r.elements.size(); ++i) {
        if (i != 0) out += ", ";
        render(r.elements[i], out);
      }
      out += ']';
      return;
  }
}

void* (*default_create_array)(const redisReadTask*, int) = nullptr;

void* limited_create_array(const redisReadTask* task, int elements) {
  if (elements < 0 || elements > kMaxReplyArrayElements) return nullptr;  // the reader reports an error
  return default_create_array(task, elements);
}

// hiredis' default reply functions (only reachable through a reader), with createArray limited.
redisReplyObjectFunctions* limited_functions() {
  static redisReplyObjectFunctions functions = [] {
    redisReader* probe = redisReaderCreate();
    if (probe == nullptr) throw std::bad_alloc();
    redisReplyObjectFunctions copy = *probe->fn;
    redisReaderFree(probe);
    default_create_array = copy.createArray;
    copy.createArray = limited_create_array;
    return copy;
  }();
  return &functions;
}

}  // namespace

redisReader* create_reader() {
  return redisReaderCreateWithFunctions(limited_functions());
}

std::string_view to_string(RedisReply::Type type) noexcept {
  switch (type) {
    case RedisReply::Type::kString: return "string";
    case RedisReply::Type::kStatus: return "status";
    case RedisReply::Type::kError: return "error";
    case RedisReply::Type::kInteger: return "integer";
    case RedisReply::Type::kNil: return "nil";
    case RedisReply::Type::kArray: return "array";
  }
  return "unknown";
}

std::string RedisReply::to_string() const {
  std::string out;
  render(*this, out);
  return out;
}

std::optional<RedisReply> next_reply(::redisReader& reader) {
  void* raw = nullptr;
  if (redisReaderGetReply(&reader, &raw) != REDIS_OK) {
    throw std::runtime_error(std::string("protocol error: ") + reader.errstr);
  }
  if (raw == nullptr) return std::nullopt;
  RedisReply reply = from_hiredis(*static_cast<const ::redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

RedisReply from_hiredis(const ::redisReply& reply) {
  RedisReply out;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply.integer;
      break;
    case REDIS_REPLY_NIL: out.type = RedisReply::Type::kNil; break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply.elements);
      for (std::size_t i = 0; i < reply.elements; ++i) out.elements.push_back(from_hiredis(*reply.element[i]));
      break;
    default:
      // hiredis 0.14 knows no other types (no RESP3); a new one would be a library upgrade.
      throw std::logic_error("unknown hiredis reply type " + std::to_string(reply.type));
  }
  return out;
}

void append_array_header(std::string& out, std::size_t count) {
  out += '*';
  append_decimal(out, count);
  out += "\r\n";
}

void append_bulk(std::string& out, std::string_view arg) {
  out += '$';
  append_decimal(out, arg.size());
  out += "\r\n";
  out.append(arg.data(), arg.size());
  out += "\r\n";
}

void append_command(std::string& out, std::span<const std::string_view> args) {
  append_array_header(out, args.size());
  for (std::string_view arg : args) append_bulk(out, arg);
}

}  // namespace ticketing::infra::redis
