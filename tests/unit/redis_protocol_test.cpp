// RESP encoding, reply conversion, URL parsing and SHA-1 of the Redis client: everything that
// needs no server.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "infra/redis/redis_connection.hpp"
#include "infra/redis/redis_options.hpp"
#include "infra/redis/redis_reply.hpp"
#include "infra/redis/sha1.hpp"

namespace ticketing::infra::redis {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;
using Type = RedisReply::Type;

std::string encode(std::vector<std::string_view> args) {
  std::string out;
  append_command(out, args);
  return out;
}

// Feeds raw RESP bytes to hiredis' reader (in two halves, as a socket would deliver them) and
// converts every reply.
std::vector<RedisReply> parse(std::string_view wire) {
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
  std::vector<RedisReply> out;
  std::size_t half = wire.size() / 2;
  for (std::string_view chunk : {wire.substr(0, half), wire.substr(half)}) {
    EXPECT_EQ(redisReaderFeed(reader.get(), chunk.data(), chunk.size()), REDIS_OK);
    for (;;) {
      void* raw = nullptr;
      EXPECT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK) << reader->errstr;
      if (raw == nullptr) break;
      out.push_back(from_hiredis(*static_cast<redisReply*>(raw)));
      freeReplyObject(raw);
    }
  }
  return out;
}

TEST(RedisRespEncoding, EncodesArgumentsAsBulkStrings) {
  EXPECT_EQ(encode({"SET", "key", "value"}), "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  EXPECT_EQ(encode({"PING"}), "*1\r\n$4\r\nPING\r\n");
}

TEST(RedisRespEncoding, EmptyArgumentIsAZeroLengthBulk) {
  EXPECT_EQ(encode({"SET", "k", ""}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST(RedisRespEncoding, IsBinarySafe) {
  const std::string binary("a\0b\r\nc\xff", 7);
  EXPECT_EQ(encode({"SET", binary}), "*2\r\n$3\r\nSET\r\n$7\r\n"s + binary + "\r\n");
}

TEST(RedisRespEncoding, LongArgumentLengthIsDecimal) {
  const std::string big(123456, 'x');
  const std::string out = encode({big});
  EXPECT_EQ(out.substr(0, 13), "*1\r\n$123456\r\n");
  EXPECT_EQ(out.size(), 13 + big.size() + 2);
}

TEST(RedisRespEncoding, AppendsToExistingBufferForPipelining) {
  std::string out = "prefix";
  std::string_view a[] = {"GET", "a"};
  std::string_view b[] = {"GET", "b"};
  append_command(out, a);
  append_command(out, b);
  EXPECT_EQ(out, "prefix*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n");
}

TEST(RedisRespEncoding, BuildingBlocksMatchAppendCommand) {
  std::string pieces;
  append_array_header(pieces, 2);
  append_bulk(pieces, "GET");
  append_bulk(pieces, "");
  EXPECT_EQ(pieces, encode({"GET", ""}));
}

TEST(RedisRespEncoding, EncodedCommandRoundTripsThroughTheParser) {
  // A RESP request is itself an array of bulk strings, so the reply parser can check it.
  const std::string binary("\0\r\n", 3);
  auto replies = parse(encode({"EVALSHA", "abc", "1", binary, ""}));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0], RedisReply::make_array({RedisReply::make_string("EVALSHA"), RedisReply::make_string("abc"),
                                                RedisReply::make_string("1"), RedisReply::make_string(binary),
                                                RedisReply::make_string("")}));
}

TEST(RedisReplyConversion, ScalarTypes) {
  auto replies = parse("+OK\r\n-ERR wrong type\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n");
  ASSERT_EQ(replies.size(), 8u);
  EXPECT_EQ(replies[0].type, Type::kStatus);
  EXPECT_TRUE(replies[0].is_status("OK"));
  EXPECT_EQ(replies[1].type, Type::kError);
  EXPECT_TRUE(replies[1].is_error());
  EXPECT_EQ(replies[1].str, "ERR wrong type");
  EXPECT_EQ(replies[2].type, Type::kInteger);
  EXPECT_EQ(replies[2].integer, 42);
  EXPECT_EQ(replies[3].integer, -7);
  EXPECT_EQ(replies[4].type, Type::kString);
  EXPECT_EQ(replies[4].str, "hello");
  EXPECT_EQ(replies[5].type, Type::kString);
  EXPECT_EQ(replies[5].str, "");
  EXPECT_TRUE(replies[6].is_nil());
  EXPECT_TRUE(replies[7].is_nil()) << "a nil array is nil too";
  EXPECT_FALSE(replies[0].is_error());
}

TEST(RedisReplyConversion, BinaryBulkString) {
  auto replies = parse("$4\r\na\0\r\n\r\n"sv);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].str, std::string("a\0\r\n", 4));
}

TEST(RedisReplyConversion, NestedArrays) {
  auto replies = parse("*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$-1\r\n*0\r\n");
  ASSERT_EQ(replies.size(), 1u);
  const RedisReply& r = replies[0];
  ASSERT_EQ(r.type, Type::kArray);
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_EQ(r.elements[0], RedisReply::make_integer(1));
  ASSERT_EQ(r.elements[1].type, Type::kArray);
  ASSERT_EQ(r.elements[1].elements.size(), 2u);
  EXPECT_EQ(r.elements[1].elements[0], RedisReply::make_string("a"));
  EXPECT_EQ(r.elements[1].elements[1], RedisReply::make_array({RedisReply::make_nil()}));
  EXPECT_EQ(r.elements[2], RedisReply::make_array({}));
  EXPECT_EQ(r.to_string(), R"([(integer) 1, ["a", [(nil)]], []])");
}

TEST(RedisReplyConversion, ToStringEscapesBinary) {
  EXPECT_EQ(RedisReply::make_string(std::string("a\"\0", 3)).to_string(), R"("a\"\x00")");
  EXPECT_EQ(RedisReply::make_error("ERR x").to_string(), "(error) ERR x");
}

TEST(RedisUrl, HostPortOnly) {
  RedisOptions o = parse_redis_url("redis://127.0.0.1:16379");
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 16379);
  EXPECT_EQ(o.password, "");
  EXPECT_EQ(o.username, "");
  EXPECT_EQ(o.db, 0);
  EXPECT_EQ(o.command_timeout, RedisOptions{}.command_timeout) << "timeouts keep their defaults";
}

TEST(RedisUrl, PasswordAndDb) {
  RedisOptions o = parse_redis_url("redis://:s3cret@redis.internal:6380/3");
  EXPECT_EQ(o.host, "redis.internal");
  EXPECT_EQ(o.port, 6380);
  EXPECT_EQ(o.password, "s3cret");
  EXPECT_EQ(o.db, 3);
}

TEST(RedisUrl, PercentEncodedPasswordWithReservedCharacters) {
  RedisOptions o = parse_redis_url("redis://:p%40ss%2Fw%3Ad@localhost:6379/0");
  EXPECT_EQ(o.password, "p@ss/w:d");
  EXPECT_EQ(o.host, "localhost");
}

TEST(RedisUrl, AclUserPortDefaultAndIpv6) {
  RedisOptions o = parse_redis_url("redis://app:pw@[::1]/2");
  EXPECT_EQ(o.username, "app");
  EXPECT_EQ(o.password, "pw");
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 6379);
  EXPECT_EQ(o.db, 2);
  EXPECT_EQ(parse_redis_url("redis://cache").port, 6379);
  EXPECT_EQ(parse_redis_url("REDIS://cache:1/").db, 0) << "scheme is case-insensitive; trailing slash is db 0";
}

TEST(RedisUrl, RejectsEverythingElseWithAClearMessage) {
  const char* bad[] = {
      "",
      "127.0.0.1:6379",
      "http://127.0.0.1:6379",
      "rediss://127.0.0.1:6379",
      "redis://",
      "redis://:6379",
      "redis://host:",
      "redis://host:0",
      "redis://host:65536",
      "redis://host:12ab",
      "redis://host:-1",
      "redis://host:6379/x",
      "redis://host:6379/-1",
      "redis://host:6379/1/2",
      "redis://host:6379/99999999999",
      "redis://host:6379?db=1",
      "redis://user@host:6379",
      "redis://:@host:6379",
      "redis://:pw%4@host:6379",
      "redis://:pw%zz@host:6379",
      "redis://[::1:6379",
      "redis://[::1]x",
      "redis://ho st:6379",
  };
  for (const char* url : bad) {
    try {
      parse_redis_url(url);
      ADD_FAILURE() << "accepted " << url;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("invalid Redis URL"), std::string::npos) << e.what();
    }
  }
}

TEST(RedisUrl, ErrorsAndRedactionNeverShowThePassword) {
  try {
    parse_redis_url("redis://:topsecret@host:99999");
    FAIL() << "accepted a bad port";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("port"), std::string::npos) << e.what();
  }
  RedisOptions o = parse_redis_url("redis://app:topsecret@host:1/4");
  EXPECT_EQ(redacted_url(o), "redis://app:***@host:1/4");
  EXPECT_EQ(redacted_url(parse_redis_url("redis://[::1]:7")), "redis://[::1]:7");
}

TEST(RedisSha1, StandardTestVectors) {
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(sha1_hex("The quick brown fox jumps over the lazy dog"), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
  EXPECT_EQ(sha1_hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(RedisSha1, PaddingBoundaries) {
  // 55/56/63/64 bytes straddle the one-block/two-block padding cases. Expected values from sha1sum.
  EXPECT_EQ(sha1_hex(std::string(55, 'a')), "c1c8bbdc22796e28c0e15163d20899b65621d65a");
  EXPECT_EQ(sha1_hex(std::string(56, 'a')), "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  EXPECT_EQ(sha1_hex(std::string(63, 'a')), "03f09f5b158a7a8cdad920bddc29b81c18a551f5");
  EXPECT_EQ(sha1_hex(std::string(64, 'a')), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

TEST(RedisScriptTest, FromSourceMatchesRedisScriptLoad) {
  // SCRIPT LOAD "return 1" answers e0e1f9fabfc9d4800c877a703b823ac0578ff8db.
  RedisScript s = RedisScript::from_source("return 1");
  EXPECT_EQ(s.source, "return 1");
  EXPECT_EQ(s.sha1, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST(RedisConnectionOptions, ConstructingDoesNotConnect) {
  boost::asio::io_context io(1);
  RedisConnection conn(io.get_executor(), RedisOptions{});
  EXPECT_FALSE(conn.connected());
  EXPECT_EQ(conn.connect_attempts(), 0u);
  EXPECT_EQ(conn.pending(), 0u);
}

TEST(RedisConnectionOptions, RejectsNonPositiveTimeouts) {
  boost::asio::io_context io(1);
  RedisOptions zero_command;
  zero_command.command_timeout = std::chrono::milliseconds(0);
  EXPECT_THROW(RedisConnection(io.get_executor(), zero_command), std::invalid_argument);
  RedisOptions zero_connect;
  zero_connect.connect_timeout = std::chrono::milliseconds(0);
  EXPECT_THROW(RedisConnection(io.get_executor(), zero_connect), std::invalid_argument);
  RedisOptions negative_backoff;
  negative_backoff.reconnect_backoff = std::chrono::milliseconds(-1);
  EXPECT_THROW(RedisConnection(io.get_executor(), negative_backoff), std::invalid_argument);
  RedisOptions no_backoff;
  no_backoff.reconnect_backoff = std::chrono::milliseconds(0);
  EXPECT_NO_THROW(RedisConnection(io.get_executor(), no_backoff));
}

}  // namespace
}  // namespace ticketing::infra::redis

namespace ticketing::infra::redis {
namespace {

// Found by fuzz/redis_reply (corpus file oom-huge-array-header): "*720368162\r\n" made hiredis
// allocate 5.7 GB of element pointers before any element arrived.
TEST(RedisReader, RefusesArrayHeadersOverTheLimitInsteadOfAllocating) {
  std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(create_reader(), &redisReaderFree);
  const std::string huge = "*720368162\r\n";
  ASSERT_EQ(redisReaderFeed(reader.get(), huge.data(), huge.size()), REDIS_OK);
  void* reply = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader.get(), &reply), REDIS_ERR);
  EXPECT_EQ(reply, nullptr);

  std::unique_ptr<redisReader, decltype(&redisReaderFree)> fine(create_reader(), &redisReaderFree);
  const std::string ok = "*2\r\n:1\r\n$1\r\na\r\n";
  ASSERT_EQ(redisReaderFeed(fine.get(), ok.data(), ok.size()), REDIS_OK);
  ASSERT_EQ(redisReaderGetReply(fine.get(), &reply), REDIS_OK);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(from_hiredis(*static_cast<redisReply*>(reply)),
            RedisReply::make_array({RedisReply::make_integer(1), RedisReply::make_string("a")}));
  freeReplyObject(reply);
}

}  // namespace
}  // namespace ticketing::infra::redis
