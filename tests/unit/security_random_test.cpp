// The CSPRNG helpers and the ids built on them (order numbers, event ids).
#include <gtest/gtest.h>

#include <array>
#include <regex>
#include <set>
#include <string>

#include "domain/time.hpp"
#include "infra/events/payment_events.hpp"
#include "infra/mysql/mysql_payment_repository.hpp"
#include "infra/security/random.hpp"

using namespace ticketing;
namespace security = ticketing::infra::security;

namespace {

bool all_of_alphabet(const std::string& text, std::string_view alphabet) {
  return text.find_first_not_of(alphabet) == std::string::npos;
}

constexpr std::string_view kLowerHex = "0123456789abcdef";
constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

TEST(SecurityRandom, RandomBytesFillsTheWholeBuffer) {
  // 64 bytes all left at the sentinel would be a 2^-512 event: the buffer was not written.
  std::array<unsigned char, 64> buffer;
  buffer.fill(0xA5);
  security::random_bytes(buffer.data(), buffer.size());
  int untouched = 0;
  for (const unsigned char b : buffer) untouched += b == 0xA5 ? 1 : 0;
  EXPECT_LT(untouched, 16);
  security::random_bytes(nullptr, 0);  // a no-op, not a crash
}

TEST(SecurityRandom, HexHasTwoLowercaseDigitsPerByte) {
  for (const std::size_t n : {0u, 1u, 6u, 16u, 33u}) {
    const auto hex = security::random_hex(n);
    EXPECT_EQ(hex.size(), 2 * n) << n;
    EXPECT_TRUE(all_of_alphabet(hex, kLowerHex)) << hex;
  }
}

TEST(SecurityRandom, Base64UrlIsUnpaddedWithTheUrlAlphabet) {
  // RFC 4648 §5 without padding: ceil(4n/3) characters.
  const std::pair<std::size_t, std::size_t> lengths[] = {{0, 0}, {1, 2}, {2, 3}, {3, 4}, {4, 6}, {5, 7}, {32, 43}};
  for (const auto& [bytes, chars] : lengths) {
    const auto text = security::random_base64url(bytes);
    EXPECT_EQ(text.size(), chars) << bytes;
    EXPECT_TRUE(all_of_alphabet(text, kBase64Url)) << text;
    EXPECT_EQ(text.find('='), std::string::npos);
  }
  // The last character of a 1- or 2-byte tail carries only 2 or 4 bits: its unused low bits are zero.
  for (int i = 0; i < 50; ++i) {
    const auto one = security::random_base64url(1);
    EXPECT_EQ(kBase64Url.find(one[1]) & 0x0F, 0u) << one;
    const auto two = security::random_base64url(2);
    EXPECT_EQ(kBase64Url.find(two[2]) & 0x03, 0u) << two;
  }
}

TEST(SecurityRandom, TwoCallsDiffer) {
  EXPECT_NE(security::random_hex(16), security::random_hex(16));
  EXPECT_NE(security::random_base64url(16), security::random_base64url(16));
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(security::random_hex(8));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(SecurityRandom, EventIdsAreVersion4Uuids) {
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const auto id = infra::events::new_event_id();
    ASSERT_TRUE(std::regex_match(id, uuid)) << id;
    EXPECT_EQ(id[14], '4') << "version nibble: " << id;
    EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos) << "variant nibble: " << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(SecurityRandom, OrderNumbersKeepTheirFormat) {
  const auto now = domain::parse_sql_datetime("2026-11-24 18:30:00.250");
  ASSERT_TRUE(now.has_value());
  const std::regex order("ORD-20261124-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const auto order_no = infra::mysql::new_order_no(*now);
    ASSERT_TRUE(std::regex_match(order_no, order)) << order_no;
    seen.insert(order_no);
  }
  EXPECT_EQ(seen.size(), 200u);
}
