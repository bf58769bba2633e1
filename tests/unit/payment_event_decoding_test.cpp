// What a dead letter's error says about a message that is not a PaymentCompleted event: the
// parser's reason, or the first field that is wrong, by name (the operator reads it in the console).
#include <gtest/gtest.h>

#include <string>

#include "infra/events/payment_events.hpp"

namespace {

using ticketing::infra::events::decode_payment_completed;

const std::string kGood =
    R"({"eventId":"62a9229e-9d5f-4706-b5cf-6040da16fb71","type":"PaymentCompleted","orderNo":"ORD-20261206-a4ce0af1695a",)"
    R"("userId":91000,"scheduleId":68,"seatNos":["A-1-1","A-1-2"],"amount":"300.00","paidAt":"2026-12-06T00:40:19.148Z"})";

// `kGood` with `from` replaced by `to` (once).
std::string with(const std::string& from, const std::string& to) {
  std::string text = kGood;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::string error_of(const std::string& text) {
  std::string error;
  const auto event = decode_payment_completed(text, error);
  EXPECT_FALSE(event.has_value()) << text;
  return error;
}

TEST(PaymentEventDecoding, TheGoodEventDecodes) {
  std::string error;
  const auto event = decode_payment_completed(kGood, error);
  ASSERT_TRUE(event.has_value()) << error;
  EXPECT_EQ(event->order_no, "ORD-20261206-a4ce0af1695a");
  EXPECT_EQ(event->seat_nos.size(), 2u);
}

TEST(PaymentEventDecoding, TextThatIsNoJsonSaysWhyNotOnlyThatItIsNoObject) {
  EXPECT_EQ(error_of(""), "not JSON: empty");
  for (const std::string text : {std::string("this is not json"), kGood + "xyz", "\xEF\xBB\xBF" + kGood,
                                 with("A-1-1", "A-\xC3\x28"), std::string(100000, '[')}) {
    const auto error = error_of(text);
    EXPECT_TRUE(error.starts_with("not JSON: ")) << error;
    EXPECT_GT(error.size(), std::string("not JSON: ").size()) << error;
  }
  EXPECT_EQ(error_of(kGood + "xyz"), "not JSON: extra data at byte " + std::to_string(kGood.size()));
  EXPECT_EQ(error_of("[1,2]"), "not a JSON object");
}

TEST(PaymentEventDecoding, AMissingOrMalformedFieldIsNamed) {
  const struct {
    std::string text;
    std::string field;
  } cases[] = {
      {with(R"("userId":91000)", R"("userId":"91000")"), "userId"},
      {with(R"("userId":91000)", R"("userId":-91000)"), "userId"},
      {with(R"("userId":91000)", R"("userId":99999999999999999999999)"), "userId"},
      {with(R"("userId":91000)", R"("userId":91000.0)"), "userId"},
      {with(R"("userId":91000)", R"("userId":null)"), "userId"},
      {with("62a9229e-9d5f-4706-b5cf-6040da16fb71", "62a9229e-9d5f-4706-b5cf-6040da16fb71x"), "eventId"},
      {with(R"("amount":"300.00")", R"("amount":300)"), "amount"},
      {with(R"("scheduleId":68,)", ""), "scheduleId"},
      {with(R"(["A-1-1","A-1-2"])", "[]"), "seatNos"},
      {with(R"("paidAt":"2026-12-06T00:40:19.148Z")", R"("paidAt":1)"), "paidAt"},
      {with(R"("orderNo":"ORD-20261206-a4ce0af1695a",)", ""), "orderNo"},
  };
  for (const auto& c : cases) {
    const auto error = error_of(c.text);
    EXPECT_TRUE(error.starts_with("missing or malformed field " + c.field + " (")) << c.text << "\n" << error;
  }
}

}  // namespace
