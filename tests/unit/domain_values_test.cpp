#include <gtest/gtest.h>

#include "domain/catalog.hpp"
#include "domain/ids.hpp"
#include "domain/money.hpp"
#include "domain/queue.hpp"
#include "domain/time.hpp"

using namespace ticketing::domain;

TEST(CanonicalId, AcceptsPlainPositiveDecimals) {
  EXPECT_EQ(parse_canonical_id("1"), 1);
  EXPECT_EQ(parse_canonical_id("42"), 42);
  EXPECT_EQ(parse_canonical_id("9223372036854775807"), INT64_MAX);
}

TEST(CanonicalId, RejectsEverythingElse) {
  for (const char* bad : {"", "0", "00", "01", "-1", "+1", " 1", "1 ", "1e3", "1.0", "0x10", "abc", "1a",
                          "9223372036854775808", "18446744073709551616", "99999999999999999999", "\"1\"", "１"}) {
    EXPECT_FALSE(parse_canonical_id(bad).has_value()) << bad;
  }
}

TEST(Money, FormatsTwoDecimals) {
  EXPECT_EQ(Money{15000}.to_decimal_string(), "150.00");
  EXPECT_EQ(Money{5}.to_decimal_string(), "0.05");
  EXPECT_EQ(Money{-250}.to_decimal_string(), "-2.50");
}

TEST(Money, ParsesDecimalColumns) {
  EXPECT_EQ(Money::from_decimal_string("150.00"), Money{15000});
  EXPECT_EQ(Money::from_decimal_string("150"), Money{15000});
  EXPECT_EQ(Money::from_decimal_string("0.5"), Money{50});
  EXPECT_FALSE(Money::from_decimal_string("1.005").has_value());
  EXPECT_FALSE(Money::from_decimal_string("1.2.3").has_value());
  EXPECT_FALSE(Money::from_decimal_string("abc").has_value());
  EXPECT_FALSE(Money::from_decimal_string("").has_value());
}

// Found by fuzz/payment_event (corpus file crash-amount-15-digits): a 15-digit amount was accepted
// but its own two-decimal form (18 characters) was not, and 17 digits overflowed the cents.
TEST(Money, EveryAcceptedAmountRoundTripsAndNoneOverflows) {
  EXPECT_EQ(Money::from_decimal_string("99999999999999.99"), Money{9'999'999'999'999'999});
  EXPECT_EQ(Money::from_decimal_string(Money{9'999'999'999'999'999}.to_decimal_string()), Money{9'999'999'999'999'999});
  EXPECT_FALSE(Money::from_decimal_string("111111111150020").has_value());
  EXPECT_FALSE(Money::from_decimal_string("99999999999999999").has_value());
  EXPECT_FALSE(Money::from_decimal_string("-99999999999999999").has_value());
  EXPECT_FALSE(Money::from_decimal_string(".").has_value());
  EXPECT_FALSE(Money::from_decimal_string("-.").has_value());
  EXPECT_EQ(Money::from_decimal_string(".5"), Money{50});
}

TEST(Time, RoundTripsSqlDatetime) {
  const auto t = parse_sql_datetime("2026-11-24 18:30:05.250");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(to_iso8601(*t), "2026-11-24T18:30:05.250Z");
  EXPECT_EQ(to_sql_datetime(*t), "2026-11-24 18:30:05.250");
  EXPECT_EQ(to_iso8601(*parse_sql_datetime("2026-01-02 03:04:05")), "2026-01-02T03:04:05Z");
}

TEST(Time, RejectsMalformedDatetimes) {
  for (const char* bad : {"", "2026-11-24", "2026-13-01 00:00:00", "2026-02-30 00:00:00", "2026-11-24T18:30:05",
                          "2026-11-24 25:00:00", "2026-11-24 18:30:05.", "2026-11-24 18:30:05.1234567"}) {
    EXPECT_FALSE(parse_sql_datetime(bad).has_value()) << bad;
  }
}

TEST(SeatNo, ValidatesShape) {
  EXPECT_TRUE(is_valid_seat_no("A-12"));
  EXPECT_TRUE(is_valid_seat_no("T-500"));
  EXPECT_FALSE(is_valid_seat_no(""));
  EXPECT_FALSE(is_valid_seat_no("-A"));
  EXPECT_FALSE(is_valid_seat_no("A 1"));
  EXPECT_FALSE(is_valid_seat_no("A:1"));
  EXPECT_FALSE(is_valid_seat_no("ABCDEFGHIJKLMNOPQ"));
}

TEST(PollAfter, GrowsWithTheWaitBetweenOneAndThirtySeconds) {
  using ticketing::domain::poll_after_ms;
  using ticketing::domain::QueueStatus;
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 0), 1'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 2), 1'000) << "near the front";
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 20), 5'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 100), 25'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 3'600), 30'000) << "far back";
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, -5), 1'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kAdmitted, 0), 5'000);
  for (std::int64_t wait = 0; wait < 500; ++wait) {
    EXPECT_LE(poll_after_ms(QueueStatus::kWaiting, wait), poll_after_ms(QueueStatus::kWaiting, wait + 1));
  }
}

// DESIGN.md §15: about a second near the front, growing with the distance to it. A waiter at the
// front is told to come back within a second however long the wait looks (a full house, slots
// that lapse only after minutes): the freed slot is theirs next. Far back the wait decides.
TEST(PollAfter, NearTheFrontIsAboutASecondWhateverTheWait) {
  using ticketing::domain::poll_after_ms;
  using ticketing::domain::QueueStatus;
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 298, 1), 1'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 298, 3), 3'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 298, 40), 30'000);
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 8, 5), 2'000) << "a short wait still decides";
  EXPECT_EQ(poll_after_ms(QueueStatus::kWaiting, 298, 0), 30'000) << "position unknown: the wait alone";
  for (std::int64_t position = 1; position < 100; ++position) {
    EXPECT_LE(poll_after_ms(QueueStatus::kWaiting, 298, position),
              poll_after_ms(QueueStatus::kWaiting, 298, position + 1));
  }
}
