#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <limits>

#include "api/dispatcher.hpp"
#include "api/error_mapping.hpp"
#include "api/request_params.hpp"
#include "domain/errors.hpp"
#include "run_task.hpp"
#include "support/json_writer.hpp"

using namespace ticketing;
using namespace ticketing::api;
using ticketing::support::JsonWriter;

namespace {

using ticketing::testing::run_task;

ApiRequest request(Method method, std::string target) {
  ApiRequest r;
  r.method = method;
  r.method_text = std::string(to_string(method));
  r.target = target;
  const auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  r.request_id = "rid-1";
  return r;
}

Router sample_router() {
  Router router;
  router.add(Method::kGet, "/schedules/{id}/seats", [](ApiRequest& req) -> Task<ApiResponse> {
    co_return json_response(200, "{\"id\":" + std::to_string(path_id(req, "id")) + "}");
  });
  router.add(Method::kPost, "/queue/enter", [](ApiRequest&) -> Task<ApiResponse> { co_return no_content(); });
  router.add(Method::kGet, "/boom", [](ApiRequest&) -> Task<ApiResponse> {
    throw std::runtime_error("secret internals");
    co_return no_content();
  });
  router.add(Method::kGet, "/down", [](ApiRequest&) -> Task<ApiResponse> {
    throw domain::DependencyUnavailable("redis", "connection refused");
    co_return no_content();
  });
  return router;
}

boost::json::object parse_object(const std::string& body) {
  return boost::json::parse(body).as_object();
}

}  // namespace

TEST(JsonWriter, EscapesAndReplacesInvalidUtf8) {
  JsonWriter json;
  json.begin_object().key("a").string("q\"\\\n\x01").key("b").string("\xff\xfe ok \xc3\xa9").end_object();
  const auto parsed = parse_object(json.str());
  EXPECT_EQ(parsed.at("a").as_string(), "q\"\\\n\x01");
  EXPECT_EQ(parsed.at("b").as_string(), "\xEF\xBF\xBD\xEF\xBF\xBD ok \xc3\xa9");
}

TEST(JsonWriter, WritesPlainRunsWholeAndEscapesEveryOtherByteExactly) {
  JsonWriter json;
  json.string(
      std::string_view("seat A-12 \"x\\y\" \x1f\x7f\b\f\r\t\n\x00"
                       "end\xed\xa0\x80\xf0\x9f\x8e\xb5",
                       34));
  EXPECT_EQ(json.str(), R"("seat A-12 \"x\\y\" \u001f\u007f\b\f\r\t\n\u0000end\ufffd\ufffd\ufffd)"
                        "\xf0\x9f\x8e\xb5\"");
  JsonWriter numbers;
  numbers.begin_array()
      .integer(std::numeric_limits<std::int64_t>::min())
      .integer(0)
      .integer(std::numeric_limits<std::int64_t>::max());
  numbers.end_array();
  EXPECT_EQ(numbers.str(), "[-9223372036854775808,0,9223372036854775807]");
}

TEST(JsonWriter, NestsArraysAndObjects) {
  JsonWriter json;
  json.begin_array().begin_object().key("x").integer(-5).key("p").raw_number("1.50").end_object();
  json.begin_object().key("ok").boolean(true).key("n").null().end_object().end_array();
  EXPECT_EQ(json.str(), R"([{"x":-5,"p":1.50},{"ok":true,"n":null}])");
}

TEST(ErrorMapping, EveryErrorBodyHasTheContractFields) {
  auto req = request(Method::kGet, "/x\xff?y");
  req.path = "/x\xff";
  const auto response = error_response(domain::invalid_argument("scheduleId", "must be an integer"), req);
  EXPECT_EQ(response.status, 400);
  const auto body = parse_object(response.body);
  EXPECT_EQ(body.at("code").as_string(), "INVALID_ARGUMENT");
  EXPECT_EQ(body.at("status").as_int64(), 400);
  EXPECT_EQ(body.at("requestId").as_string(), "rid-1");
  EXPECT_TRUE(body.at("path").is_string());
  EXPECT_TRUE(body.at("message").is_string());
  ASSERT_EQ(body.at("errors").as_array().size(), 1u);
  EXPECT_EQ(body.at("errors").as_array()[0].at("field").as_string(), "scheduleId");
}

// A message quoting the caller's input keeps a NUL in it (escaped), not cut there.
TEST(ErrorMapping, AMessageIsWholeAfterANul) {
  const auto req = request(Method::kPost, "/admin/venues");
  const std::string reason("price must be a decimal amount, not '1\0'", 40);
  const auto response = error_response(domain::DomainError(domain::ErrorCode::kInvalidArgument, reason), req);
  EXPECT_EQ(parse_object(response.body).at("message").as_string(), reason);
}

TEST(ErrorMapping, StatusesFollowTheTable) {
  EXPECT_EQ(error_spec(domain::ErrorCode::kSeatAlreadyHeld).status, 409);
  EXPECT_EQ(error_spec(domain::ErrorCode::kSeatAlreadyHeld).code, "SEAT_ALREADY_HELD");
  EXPECT_EQ(error_spec(domain::ErrorCode::kUnauthenticated).status, 401);
  EXPECT_EQ(error_spec(domain::ErrorCode::kIdempotencyKeyReused).status, 422);
  EXPECT_EQ(error_spec(domain::ErrorCode::kDependencyUnavailable).status, 503);
  EXPECT_EQ(error_spec(domain::ErrorCode::kHeaderTooLarge).status, 431);
  EXPECT_EQ(error_spec(domain::ErrorCode::kHeaderTooLarge).code, "REQUEST_HEADER_FIELDS_TOO_LARGE");
}

namespace {
const Header* find_header(const ApiResponse& response, std::string_view name) {
  for (const auto& h : response.headers) {
    if (h.name == name) return &h;
  }
  return nullptr;
}
}  // namespace

TEST(ErrorMapping, DependencyFailureBodyHidesTheDetailButNamesTheRequestId) {
  auto req = request(Method::kGet, "/concerts");
  req.request_id = "rid-503-a";
  const domain::DependencyUnavailable error("db", "Access denied for user 'x'@'10.0.0.5'");
  const auto response = error_response(error, req);
  EXPECT_EQ(response.status, 503);
  for (const char* secret : {"Access denied", "10.0.0.5", "'x'"}) {
    EXPECT_EQ(response.body.find(secret), std::string::npos) << secret << " leaked: " << response.body;
  }
  const auto body = parse_object(response.body);
  EXPECT_EQ(body.at("code").as_string(), "SERVICE_UNAVAILABLE");
  EXPECT_NE(std::string(body.at("message").as_string()).find("rid-503-a"), std::string::npos) << response.body;
  EXPECT_EQ(body.at("requestId").as_string(), "rid-503-a");
  const auto* retry = find_header(response, "Retry-After");
  ASSERT_NE(retry, nullptr);
  EXPECT_EQ(retry->value, "1");
  // The detail stays in the exception, for the log.
  EXPECT_NE(std::string(error.what()).find("Access denied"), std::string::npos);
}

TEST(ErrorMapping, InternalErrorBodyHidesTheDetail) {
  auto req = request(Method::kGet, "/x");
  req.request_id = "rid-500-b";
  const auto response =
      error_response(domain::DomainError(domain::ErrorCode::kInternal, "invariant broken at db01.internal:3306"), req);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body.find("db01.internal"), std::string::npos) << response.body;
  const auto message = std::string(parse_object(response.body).at("message").as_string());
  EXPECT_EQ(message, "internal error (request id rid-500-b)");
}

TEST(ErrorMapping, OtherErrorsKeepTheirMessage) {
  const auto req = request(Method::kGet, "/x");
  const auto response = error_response(domain::ErrorCode::kTooManyRequests, "slow down", req);
  EXPECT_EQ(parse_object(response.body).at("message").as_string(), "slow down");
  ASSERT_NE(find_header(response, "Retry-After"), nullptr);
  EXPECT_EQ(find_header(response, "WWW-Authenticate"), nullptr);
}

TEST(ErrorMapping, UnauthenticatedCarriesWwwAuthenticateBearer) {
  const auto req = request(Method::kPost, "/tickets/hold");
  const auto response = error_response(domain::ErrorCode::kUnauthenticated, "an admission token is required", req);
  EXPECT_EQ(response.status, 401);
  const auto* challenge = find_header(response, "WWW-Authenticate");
  ASSERT_NE(challenge, nullptr);
  EXPECT_EQ(challenge->value, "Bearer");
  EXPECT_EQ(find_header(response, "Retry-After"), nullptr);
  // Not on a 403.
  EXPECT_EQ(find_header(error_response(domain::ErrorCode::kForbidden, "not yours", req), "WWW-Authenticate"), nullptr);
}

TEST(Dispatcher, RoutesAndExtractsIds) {
  Dispatcher dispatcher(sample_router());
  auto req = request(Method::kGet, "/schedules/7/seats");
  const auto result = run_task(dispatcher.dispatch(req));
  EXPECT_EQ(result.response.status, 200);
  EXPECT_EQ(result.response.body, "{\"id\":7}");
  EXPECT_EQ(result.route, "/schedules/{id}/seats");
}

TEST(Dispatcher, BadIdsAre400NamingTheField) {
  Dispatcher dispatcher(sample_router());
  for (const char* id : {"abc", "-1", "0", "01", "9223372036854775808", "1.5", "%31"}) {
    auto req = request(Method::kGet, std::string("/schedules/") + id + "/seats");
    const auto result = run_task(dispatcher.dispatch(req));
    EXPECT_EQ(result.response.status, 400) << id;
    EXPECT_EQ(parse_object(result.response.body).at("errors").as_array()[0].at("field").as_string(), "id");
  }
}

TEST(Dispatcher, UnknownRouteIs404AndWrongMethodIs405WithAllow) {
  Dispatcher dispatcher(sample_router());
  auto missing = request(Method::kGet, "/nope");
  const auto not_found = run_task(dispatcher.dispatch(missing));
  EXPECT_EQ(not_found.response.status, 404);
  EXPECT_EQ(not_found.route, "UNKNOWN");

  auto wrong = request(Method::kDelete, "/schedules/1/seats");
  const auto not_allowed = run_task(dispatcher.dispatch(wrong));
  EXPECT_EQ(not_allowed.response.status, 405);
  ASSERT_EQ(not_allowed.response.headers.size(), 1u);
  EXPECT_EQ(not_allowed.response.headers[0].name, "Allow");
  EXPECT_EQ(not_allowed.response.headers[0].value, "GET, HEAD");

  auto trailing = request(Method::kGet, "/schedules/1/seats/");
  EXPECT_EQ(run_task(dispatcher.dispatch(trailing)).response.status, 404);
}

// DESIGN.md §5: a known path with the wrong method is 405 — also when a template with a parameter
// where that path has a literal would match it.
TEST(Dispatcher, ALiteralPathIsNotAParameterOfAnotherRoute) {
  Router router;
  router.add(Method::kPost, "/payment/ready", [](ApiRequest&) -> Task<ApiResponse> { co_return no_content(); });
  router.add(Method::kGet, "/payment/{orderNo}", [](ApiRequest& req) -> Task<ApiResponse> {
    co_return json_response(200, "\"" + req.path_params.at(0).second + "\"");
  });
  Dispatcher dispatcher(std::move(router));
  auto get_ready = request(Method::kGet, "/payment/ready");
  const auto not_allowed = run_task(dispatcher.dispatch(get_ready));
  EXPECT_EQ(not_allowed.response.status, 405);
  ASSERT_EQ(not_allowed.response.headers.size(), 1u);
  EXPECT_EQ(not_allowed.response.headers[0].value, "POST");
  EXPECT_EQ(not_allowed.route, "/payment/ready");
  auto put_ready = request(Method::kPut, "/payment/ready");
  EXPECT_EQ(run_task(dispatcher.dispatch(put_ready)).response.headers.at(0).value, "POST");
  auto get_order = request(Method::kGet, "/payment/ORD-1");
  const auto order = run_task(dispatcher.dispatch(get_order));
  EXPECT_EQ(order.response.status, 200);
  EXPECT_EQ(order.response.body, "\"ORD-1\"");
  auto post_order = request(Method::kPost, "/payment/ORD-1");
  EXPECT_EQ(run_task(dispatcher.dispatch(post_order)).response.headers.at(0).value, "GET, HEAD");
}

TEST(Dispatcher, HeadMatchesGetAndUnknownMethodIs501) {
  Dispatcher dispatcher(sample_router());
  auto head = request(Method::kHead, "/schedules/3/seats");
  EXPECT_EQ(run_task(dispatcher.dispatch(head)).response.status, 200);
  auto other = request(Method::kOther, "/schedules/3/seats");
  other.method_text = "BREW";
  EXPECT_EQ(run_task(dispatcher.dispatch(other)).response.status, 501);
  // A 10,000-character method or a 16 KiB path is named in the message, not echoed whole (the
  // error body's `path` field keeps the path).
  for (const bool known_path : {true, false}) {
    auto long_method = request(Method::kOther, known_path ? "/schedules/3/seats" : "/nowhere");
    long_method.method_text = std::string(10'000, 'M');
    const auto answer = run_task(dispatcher.dispatch(long_method)).response;
    EXPECT_EQ(answer.status, 501);
    EXPECT_LT(answer.body.size(), 1'000u) << answer.body.size();
  }
  auto long_path = request(Method::kGet, "/" + std::string(16'000, 'p'));
  const auto missing = run_task(dispatcher.dispatch(long_path)).response;
  EXPECT_EQ(missing.status, 404);
  EXPECT_LT(parse_object(missing.body).at("message").as_string().size(), 200u);
}

TEST(Dispatcher, UnexpectedExceptionsBecome500WithoutDetails) {
  Dispatcher dispatcher(sample_router());
  auto req = request(Method::kGet, "/boom");
  const auto result = run_task(dispatcher.dispatch(req));
  EXPECT_EQ(result.response.status, 500);
  EXPECT_EQ(result.response.body.find("secret internals"), std::string::npos);
}

TEST(Dispatcher, DependencyDownIs503WithRetryAfter) {
  Dispatcher dispatcher(sample_router());
  auto req = request(Method::kGet, "/down");
  const auto result = run_task(dispatcher.dispatch(req));
  EXPECT_EQ(result.response.status, 503);
  ASSERT_FALSE(result.response.headers.empty());
  EXPECT_EQ(result.response.headers[0].name, "Retry-After");
  EXPECT_EQ(result.response.body.find("connection refused"), std::string::npos) << result.response.body;
  EXPECT_NE(result.response.body.find("rid-1"), std::string::npos);
}

TEST(RequestParams, QueryIdsAreStrict) {
  auto req = request(Method::kGet, "/queue/status?userId=5&scheduleId=1%30");
  EXPECT_EQ(query_id(req, "userId"), 5);
  EXPECT_EQ(query_id(req, "scheduleId"), 10);
  auto repeated = request(Method::kGet, "/x?userId=5&userId=6");
  EXPECT_THROW(query_id(repeated, "userId"), domain::DomainError);
  auto missing = request(Method::kGet, "/x?other=1");
  EXPECT_THROW(query_id(missing, "userId"), domain::DomainError);
  auto broken = request(Method::kGet, "/x?userId=%3");
  EXPECT_THROW(query_id(broken, "userId"), domain::DomainError);
  auto negative = request(Method::kGet, "/x?userId=-5");
  EXPECT_THROW(query_id(negative, "userId"), domain::DomainError);
}
