// The operator console's pure rules (domain/operator_console.hpp): layouts from CSV and runs,
// schedule times, queue settings, sale states.
#include "domain/operator_console.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <string>

#include "domain/catalog.hpp"
#include "domain/time.hpp"

using namespace ticketing::domain;

namespace {

std::vector<FieldError> layout_errors(const std::string& csv) {
  std::vector<FieldError> errors;
  const auto runs = parse_layout_csv(csv, errors);
  try {
    build_layout(runs, errors);
  } catch (const DomainError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    return error.errors();
  }
  return {};
}

Timestamp at(int hours) {
  return Timestamp{std::chrono::hours(480000 + hours)};
}

}  // namespace

TEST(LayoutCsv, RangesAndSingleSeatsMakeNumberedSeats) {
  std::vector<FieldError> errors;
  const auto runs = parse_layout_csv(
      "section,row,seats,tier,price\n"
      "A,3,1-3,VIP,150.00\r\n"
      "\n"
      "B,,7,R,80\n",
      errors);
  ASSERT_TRUE(errors.empty());
  const auto layout = build_layout(runs);
  ASSERT_EQ(layout.seats.size(), 4u);
  EXPECT_EQ(layout.seats[0].seat_no, "A-3-1");
  EXPECT_EQ(layout.seats[2].seat_no, "A-3-3");
  EXPECT_EQ(layout.seats[3].seat_no, "B-7");  // no row: numbered per section, like the demo's
  EXPECT_EQ(layout.seats[3].section, "B");
  EXPECT_EQ(layout.seats[0].price.cents, 15000);
  ASSERT_EQ(layout.tiers.size(), 2u);
  EXPECT_EQ(layout.tiers[1].first, "R");
}

// As spreadsheets save CSV: a UTF-8 byte order mark, a capitalised header, quoted fields (a quote
// inside written twice).
TEST(OperatorText, BlankIsOnlySpacesUnicodesToo) {
  EXPECT_TRUE(is_blank_text(""));
  EXPECT_TRUE(is_blank_text("   "));
  EXPECT_TRUE(is_blank_text(
      "\xE3\x80\x80 \xC2\xA0\xE2\x80\x89\xE2\x80\x8A\xE2\x80\xAF"));  // U+3000 U+00A0 U+2009 U+200A U+202F
  EXPECT_FALSE(is_blank_text(" a "));
  EXPECT_FALSE(is_blank_text("\xE2\x80\x8B"));  // U+200B, a zero-width space, is no space separator
  EXPECT_FALSE(is_blank_text("\t"));
  EXPECT_FALSE(is_blank_text("\xE3\x80"));  // a cut U+3000
}

TEST(OperatorReason, OneTo255CharactersNotOnlySpaces) {
  EXPECT_TRUE(is_reason_text("x"));
  EXPECT_TRUE(is_reason_text(std::string(255, 'x')));
  EXPECT_FALSE(is_reason_text(std::string(256, 'x')));
  EXPECT_FALSE(is_reason_text(""));
  EXPECT_FALSE(is_reason_text("   \t "));
  EXPECT_FALSE(is_reason_text("\xE3\x80\x80\xC2\xA0")) << "U+3000 U+00A0: only spaces";
  std::string korean;
  for (int i = 0; i < 255; ++i) korean += "\xEC\x82\xAC";  // 사: 3 bytes, one character
  EXPECT_TRUE(is_reason_text(korean)) << "characters are counted, not bytes (765 here)";
  EXPECT_FALSE(is_reason_text(korean + "\xEC\x82\xAC"));
  // Text, as every free text an operator stores: no NUL or other control character, no invalid
  // UTF-8, no bidirectional override.
  EXPECT_FALSE(is_reason_text(std::string("a\0b", 3)));
  EXPECT_FALSE(is_reason_text("line\nbreak"));
  EXPECT_FALSE(is_reason_text("bad \xff byte"));
  EXPECT_FALSE(is_reason_text("rlo \xE2\x80\xAE"));
}

TEST(LayoutCsv, AFileOfBadLinesGetsAShortAnswer) {
  // 5,000 bad lines fit the 64 KiB body; the answer names the first ~100, not all (it was 7x the file).
  std::string csv;
  for (int i = 1; i <= 5000; ++i) csv += "B," + std::to_string(i) + ",x,R,9\n";
  const auto errors = layout_errors(csv);
  ASSERT_FALSE(errors.empty());
  EXPECT_LE(errors.size(), 101u);
  EXPECT_EQ(errors.front().field, "line 1");
}

TEST(LayoutCsv, ReadsWhatSpreadsheetsWrite) {
  std::vector<FieldError> errors;
  const auto runs = parse_layout_csv(
      "\xEF\xBB\xBFSection,Row,Seats,Tier,Price\r\n"
      "\"A\",\"3\",\"1-2\",\"VIP\",\"150.00\"\r\n"
      " \"B\" ,,7,R,80\r\n",
      errors);
  ASSERT_TRUE(errors.empty()) << errors[0].field << ": " << errors[0].reason;
  const auto layout = build_layout(runs);
  ASSERT_EQ(layout.seats.size(), 3u);
  EXPECT_EQ(layout.seats[0].seat_no, "A-3-1");
  EXPECT_EQ(layout.seats[2].seat_no, "B-7");
  EXPECT_EQ(layout.seats[0].price.cents, 15000);
}

TEST(LayoutCsv, TenThousandSeatsFitInAHundredLines) {
  std::string csv;
  for (int row = 1; row <= 100; ++row) csv += "A," + std::to_string(row) + ",1-100,S,99.50\n";
  EXPECT_LT(csv.size(), 64u * 1024);  // under http.max-body: no larger limit needed
  std::vector<FieldError> errors;
  const auto layout = build_layout(parse_layout_csv(csv, errors), errors);
  EXPECT_EQ(layout.seats.size(), 10'000u);
}

struct BadLayout {
  const char* name;
  std::string csv;
  std::string field;
  std::string reason_part;
};

// Printed by name, so test names (and ctest's) stay short.
void PrintTo(const BadLayout& c, std::ostream* out) {
  *out << c.name;
}

class BadLayouts : public ::testing::TestWithParam<BadLayout> {};

TEST_P(BadLayouts, AreRefusedNamingTheLine) {
  const auto& c = GetParam();
  const auto errors = layout_errors(c.csv);
  ASSERT_FALSE(errors.empty()) << c.name;
  EXPECT_EQ(errors[0].field, c.field) << c.name;
  EXPECT_NE(errors[0].reason.find(c.reason_part), std::string::npos) << c.name << ": " << errors[0].reason;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadLayouts,
    ::testing::Values(
        BadLayout{"duplicate", "A,3,1-20,S,10\nA,3,12,S,10\n", "line 2", "duplicate seat A-3-12"},
        BadLayout{"too few fields", "A,3,1-20,S\n", "line 1", "expected 5 fields"},
        BadLayout{"a comma inside quotes is one field", "\"A,B\",3,1-20,S,10\n", "line 1", "section"},
        BadLayout{"unclosed quote", "\"A,3,1-20,S,10\n", "line 1", "quoted field"},
        BadLayout{"text after a closing quote", "\"A\"x,3,1-20,S,10\n", "line 1", "quoted field"},
        BadLayout{"bad range", "A,3,5-2,S,10\n", "line 1", "seats must run"},
        BadLayout{"not a number", "A,3,x,S,10\n", "line 1", "seat number or a range"},
        BadLayout{"negative price", "A,3,1-2,S,-1\n", "line 1", "price"},
        BadLayout{"garbage price", "A,3,1-2,S,12.345\n", "line 1", "price"},
        BadLayout{"minus zero price", "A,3,1-2,S,-0\n", "line 1", "price"},
        BadLayout{"price without units", "A,3,1-2,S,.5\n", "line 1", "price"},
        BadLayout{"price ending in a point", "A,3,1-2,S,5.\n", "line 1", "price"},
        BadLayout{"price with a plus", "A,3,1-2,S,+5\n", "line 1", "price"},
        // DECIMAL(12,2): a larger price would reach the database and fail there (500).
        BadLayout{"price over the column", "A,3,1-2,S,10000000000.00\n", "line 1", "9999999999.99"},
        BadLayout{"tier with two prices", "A,1,1-2,S,10\nB,1,1-2,S,11\n", "line 2", "tier S already costs"},
        BadLayout{"bad section name", "A B,1,1-2,S,10\n", "line 1", "section"},
        BadLayout{"seat number too long", "ABCDEFGHIJ,1234567,1-2,S,10\n", "line 1", "longer than 16"},
        BadLayout{"empty", "section,row,seats,tier,price\n", "layout", "at least one seat"},
        BadLayout{"too many seats", "A,1,1-60000,S,1\nB,1,1-50000,S,1\n", "line 2", "at most 100000 seats"}),
    [](const auto& info) {
      std::string name = info.param.name;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(ScheduleTimes, YearsOutsideTwoThousandToNineThousandNineHundredNinetyNineAreRefused) {
  const auto parsed = [](const char* text) { return *parse_iso8601(text); };
  const auto year_zero = schedule_time_problems({parsed("9999-12-31T23:59:59Z"), parsed("0000-01-01T00:00:00Z"), {}});
  ASSERT_EQ(year_zero.size(), 1u);
  EXPECT_EQ(year_zero[0].field, "bookingOpensAt");
  const auto old = schedule_time_problems({at(10), at(1), parsed("1999-12-31T23:59:59Z")});
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].field, "prequeueOpensAt");
  EXPECT_TRUE(
      schedule_time_problems({parsed("9999-12-31T23:59:59Z"), parsed("2000-01-01T00:00:00Z"), std::nullopt}).empty());
}

TEST(ScheduleTimes, OpeningBeforeTheShowAndPrequeueBeforeOpening) {
  EXPECT_TRUE(schedule_time_problems({at(10), at(1), at(0)}).empty());
  EXPECT_TRUE(schedule_time_problems({at(10), at(1), std::nullopt}).empty());

  const auto late_opening = schedule_time_problems({at(10), at(10), std::nullopt});
  ASSERT_EQ(late_opening.size(), 1u);
  EXPECT_EQ(late_opening[0].field, "bookingOpensAt");

  const auto late_prequeue = schedule_time_problems({at(10), at(1), at(1)});
  ASSERT_EQ(late_prequeue.size(), 1u);
  EXPECT_EQ(late_prequeue[0].field, "prequeueOpensAt");
}

TEST(ScheduleTimes, ANewScheduleIsForAShowStillToCome) {
  EXPECT_NO_THROW(check_new_schedule({at(10), at(1), std::nullopt}, {}, at(9)));
  for (const auto now : {at(10), at(11)}) {
    try {
      check_new_schedule({at(10), at(1), std::nullopt}, {}, now);
      ADD_FAILURE() << "a show at or before now was accepted";
    } catch (const DomainError& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
      ASSERT_FALSE(error.errors().empty());
      EXPECT_EQ(error.errors()[0].field, "showAt");
    }
  }
}

TEST(PriceTiers, DearestFirstEachSectionOnce) {
  EXPECT_TRUE(price_tiers({}).empty());
  const auto tiers = price_tiers({{"B", Money{5000}},
                                  {"A", Money{15000}},
                                  {"C", Money{5000}},
                                  {"A", Money{15000}},
                                  {"B", Money{5000}},
                                  {"VIP", Money{15000}}});
  ASSERT_EQ(tiers.size(), 2u);
  EXPECT_EQ(tiers[0].price.cents, 15000);
  EXPECT_EQ(tiers[0].sections, (std::vector<std::string>{"A", "VIP"}));
  EXPECT_EQ(tiers[1].price.cents, 5000);
  EXPECT_EQ(tiers[1].sections, (std::vector<std::string>{"B", "C"}));
}

TEST(Prices, DigitsWithAtMostTwoDecimals) {
  for (const char* good : {"0", "150", "150.5", "150.50", "007.10", "9999999999.99"}) {
    EXPECT_TRUE(parse_price(good).has_value()) << good;
  }
  EXPECT_EQ(parse_price("150.5")->cents, 15050);
  for (const char* bad : {"", "-0", "-1", ".5", "5.", "+5", "1e3", "1.234", " 5", "5 ", "1,5", "10000000000"}) {
    EXPECT_FALSE(parse_price(bad).has_value()) << bad;
  }
}

TEST(QueueSettings, OutOfRangeValuesNameTheirField) {
  EXPECT_TRUE(queue_settings_problems({}).empty());
  EXPECT_TRUE(queue_settings_problems({100, 10, 4}).empty());
  const auto problems = queue_settings_problems({0, kAdmitPerSecondLimit + 1, 51});
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].field, "maxActive");
  EXPECT_EQ(problems[1].field, "admitPerSecond");
  EXPECT_EQ(problems[2].field, "maxSeatsPerUser");
}

TEST(SaleState, RoundTripsAndRefusesOthers) {
  for (const auto state : {SaleState::kOpen, SaleState::kPaused, SaleState::kClosed}) {
    EXPECT_EQ(sale_state_from(to_string(state)), state);
  }
  EXPECT_FALSE(sale_state_from("open"));
  EXPECT_FALSE(sale_state_from(""));
}

TEST(Iso8601, ParsesWhatItWrites) {
  const Timestamp t{std::chrono::milliseconds(1'790'000'000'250)};
  EXPECT_EQ(parse_iso8601(to_iso8601(t)), t);
  EXPECT_EQ(parse_iso8601("2026-12-24T19:00:00Z"), parse_sql_datetime("2026-12-24 19:00:00"));
  EXPECT_FALSE(parse_iso8601("2026-12-24 19:00:00Z"));
  EXPECT_FALSE(parse_iso8601("2026-12-24T19:00:00+09:00"));
  EXPECT_FALSE(parse_iso8601("2026-13-24T19:00:00Z"));
}
