#include "api/json_body.hpp"

#include <gtest/gtest.h>

using namespace ticketing;
using namespace ticketing::api;

namespace {

ApiRequest post(std::string body, std::string content_type = "application/json") {
  ApiRequest r;
  r.method = Method::kPost;
  r.path = "/queue/enter";
  r.body = std::move(body);
  if (!content_type.empty()) r.headers.push_back({"Content-Type", std::move(content_type)});
  return r;
}

domain::DomainError error_of(const ApiRequest& request) {
  try {
    auto body = JsonBody::parse(request, {"userId", "scheduleId", "seatNos"});
    body.id("userId");
    body.id("scheduleId");
    body.done();
  } catch (const domain::DomainError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << request.body;
  return domain::DomainError(domain::ErrorCode::kInternal, "none");
}

}  // namespace

TEST(JsonBody, ReadsValidBody) {
  auto body = JsonBody::parse(post(R"({"userId": 7, "scheduleId": 9223372036854775807, "seatNos": ["A-1","B-2"]})"),
                              {"userId", "scheduleId", "seatNos"});
  EXPECT_EQ(body.id("userId"), 7);
  EXPECT_EQ(body.id("scheduleId"), INT64_MAX);
  EXPECT_EQ(body.string_array("seatNos", 1, 4, 16), (std::vector<std::string>{"A-1", "B-2"}));
  EXPECT_NO_THROW(body.done());
}

TEST(JsonBody, ContentTypeMustBeJson) {
  EXPECT_EQ(error_of(post(R"({"userId":1,"scheduleId":1})", "text/plain")).code(),
            domain::ErrorCode::kUnsupportedMediaType);
  EXPECT_EQ(error_of(post(R"({"userId":1,"scheduleId":1})", "")).code(), domain::ErrorCode::kUnsupportedMediaType);
  EXPECT_EQ(error_of(post(R"({"userId":1,"scheduleId":1})", "application/json; charset=latin1")).code(),
            domain::ErrorCode::kUnsupportedMediaType);
  EXPECT_TRUE(is_json_content_type("Application/JSON; charset=UTF-8"));
  EXPECT_TRUE(is_json_content_type("application/json;charset=utf-8"));
  EXPECT_FALSE(is_json_content_type("application/jsonx"));
}

TEST(JsonBody, MalformedBodiesAre400) {
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  for (const std::string& bad :
       {std::string(""), std::string("{"), std::string("{\"userId\":1,\"scheduleId\":1} x"),
        std::string("{\"userId\":1,\"userId\":2,\"scheduleId\":1}"), std::string("[1,2]"), std::string("null"),
        std::string("{\"userId\":1,\"scheduleId\":1,\"extra\":true}"),
        std::string("{\"userId\":\"1\",\"scheduleId\":1}"), std::string("{\"userId\":-1,\"scheduleId\":1}"),
        std::string("{\"userId\":0,\"scheduleId\":1}"), std::string("{\"userId\":1.0,\"scheduleId\":1}"),
        std::string("{\"userId\":1e3,\"scheduleId\":1}"),
        std::string("{\"userId\":9223372036854775808,\"scheduleId\":1}"),
        std::string("{\"userId\":null,\"scheduleId\":1}"), std::string("{\"scheduleId\":1}"),
        std::string("{\"userId\":1,\"scheduleId\":1,\"seatNos\":") + deep + "}",
        std::string("{\"userId\":1,\"scheduleId\":1,\"seatNos\":\"\xff\"}"), std::string("{'userId':1}"),
        std::string("{\"userId\":1,/*c*/\"scheduleId\":1}")}) {
    const auto error = error_of(post(bad));
    EXPECT_EQ(error.code(), domain::ErrorCode::kInvalidArgument) << bad;
  }
}

// DESIGN.md §5: a malformed id is 400 naming the field — also when it is not even valid JSON.
TEST(JsonBody, ABareMalformedNumberNamesItsField) {
  for (const std::string value : {"02", "+2", "0x2", "2.", ".5", "1e", "-", "NaN", "Infinity", "tru"}) {
    const auto error = error_of(post("{\"userId\":1, \"scheduleId\": " + value + "}"));
    EXPECT_EQ(error.code(), domain::ErrorCode::kInvalidArgument) << value;
    ASSERT_EQ(error.errors().size(), 1u) << value;
    EXPECT_EQ(error.errors()[0].field, "scheduleId") << value;
  }
  // In the first field too, and whatever follows.
  EXPECT_EQ(error_of(post(R"({"userId":01,"scheduleId":1})")).errors().at(0).field, "userId");
  // Not a scalar's fault: the body is named.
  for (const std::string bad :
       {R"({"userId":1 "scheduleId":2})", R"({"userId":1"scheduleId":2})", R"({"userId":1])",
        R"({"userId":"1,"scheduleId":2})", R"({"userId":[02],"scheduleId":1})", R"({"other":02,"scheduleId":1})",
        R"({"userId":)", "{\"userId\":1,\"seatNos\":[\"A:1x\x01\"]}", "{\"userId\":1,\"seatNos\":[\"A\", 02]}"}) {
    const auto error = error_of(post(bad));
    ASSERT_EQ(error.errors().size(), 1u) << bad;
    EXPECT_EQ(error.errors()[0].field, "body") << bad;
  }
}

TEST(JsonBody, NamesEveryBadField) {
  const auto error = error_of(post(R"({"userId":"x","scheduleId":-3,"bogus":1})"));
  std::vector<std::string> fields;
  for (const auto& e : error.errors()) fields.push_back(e.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"bogus", "userId", "scheduleId"}));
}

TEST(JsonBody, DuplicateKeysInNestedObjectsAreFound) {
  auto request = post(R"({"userId":1,"scheduleId":1,"seatNos":[{"a":1,"a":2}]})");
  EXPECT_THROW(JsonBody::parse(request, {"userId", "scheduleId", "seatNos"}), domain::DomainError);
  // Same key in sibling objects is fine.
  auto siblings = post(R"({"userId":1,"scheduleId":1,"seatNos":[{"a":1},{"a":2}]})");
  EXPECT_NO_THROW(JsonBody::parse(siblings, {"userId", "scheduleId", "seatNos"}));
}

TEST(JsonBody, StringArraysAreChecked) {
  auto body = JsonBody::parse(post(R"({"seatNos":["A-1", 5, ""]})"), {"seatNos"});
  body.string_array("seatNos", 1, 4, 16);
  try {
    body.done();
    FAIL();
  } catch (const domain::DomainError& e) {
    ASSERT_EQ(e.errors().size(), 2u);
    EXPECT_EQ(e.errors()[0].field, "seatNos[1]");
    EXPECT_EQ(e.errors()[1].field, "seatNos[2]");
  }
  auto too_many = JsonBody::parse(post(R"({"seatNos":["a","b","c","d","e"]})"), {"seatNos"});
  too_many.string_array("seatNos", 1, 4, 16);
  EXPECT_THROW(too_many.done(), domain::DomainError);
}

// The message is a C string inside the exception: a member name with a NUL must not cut it short,
// and control characters are shown escaped; `errors` keeps the names as sent.
TEST(JsonBody, MemberNamesWithControlCharactersAreShownWholeInTheMessage) {
  const auto error = error_of(post(std::string(R"({"userId":1,"scheduleId":1,"a\u0000b":1,"zzz":2})")));
  const std::string message = error.what();
  EXPECT_NE(message.find("a\\u0000b unknown field"), std::string::npos) << message;
  EXPECT_NE(message.find("zzz unknown field"), std::string::npos) << message;
  ASSERT_EQ(error.errors().size(), 2U);
  EXPECT_EQ(error.errors()[0].field, std::string("a\0b", 3));
}

// Thousands of unknown members: the answer names the first 20, not all of them.
TEST(JsonBody, AnAnswerNamesAtMostTwentyProblems) {
  std::string body = R"({"userId":1,"scheduleId":1)";
  for (int i = 0; i < 5000; ++i) body += ",\"k" + std::to_string(i) + "\":0";
  body += "}";
  const auto error = error_of(post(body));
  ASSERT_EQ(error.errors().size(), 20U);
  EXPECT_EQ(error.errors().front().field, "k0");
  EXPECT_LT(std::string(error.what()).size(), 1000U);
}

TEST(JsonBody, TwoContentTypesAre400) {
  auto request = post(R"({"userId":1,"scheduleId":1})");
  request.headers.push_back({"content-type", "text/plain"});
  const auto error = error_of(request);
  EXPECT_EQ(error.code(), domain::ErrorCode::kInvalidArgument);
  ASSERT_EQ(error.errors().size(), 1U);
  EXPECT_EQ(error.errors()[0].field, "Content-Type");
}
