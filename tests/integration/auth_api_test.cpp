// Accounts, sign-in and authorization end to end (DESIGN.md §5 "Exact rules", §12): who may see and
// do what, 401 vs 403, sign-up and log-in rules and limits, refresh rotation, access-token strictness,
// and the signed gateway callback.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <regex>
#include <set>
#include <thread>

#include "domain/ports/clock.hpp"
#include "infra/security/gateway_signature.hpp"
#include "infra/security/jws.hpp"
#include "infra/security/jwt_access_token_service.hpp"
#include "infra/security/random.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;

namespace {

constexpr const char* kDemoPassword = "demo-password";  // infra/mysql/demo_seed.hpp

json::object body_of(const HttpResponse& r) {
  return json::parse(r.body).as_object();
}

std::string code_of(const HttpResponse& r) {
  try {
    return std::string(body_of(r).at("code").as_string());
  } catch (const std::exception&) {
    return "<no code: " + r.raw.substr(0, 300) + ">";
  }
}

std::vector<std::string> error_fields(const HttpResponse& r) {
  std::vector<std::string> fields;
  const auto body = body_of(r);  // named: a range-for over a temporary's member would dangle
  for (const auto& e : body.at("errors").as_array()) fields.emplace_back(e.at("field").as_string());
  return fields;
}

std::map<std::string, std::string> bearer(const std::string& token, std::map<std::string, std::string> more = {}) {
  more["Authorization"] = "Bearer " + token;
  return more;
}

// An address nobody else uses, also across runs against the same database.
std::string fresh_email(const std::string& prefix) {
  return fmt::format("{}-{}@example.com", prefix, infra::security::random_hex(6));
}

std::string db_value(const std::string& sql) {
  auto db = test_db();
  const auto rows = db->query(sql);
  return rows.rows.empty() || !rows.rows[0][0] ? std::string("NULL") : *rows.rows[0][0];
}

std::string quoted(const std::string& text) {
  return json::serialize(json::value(text));
}

HttpResponse sign_up(std::uint16_t port, const std::string& email, const std::string& password,
                     const std::string& name = "Fan") {
  return http(port, "POST", "/auth/signup",
              fmt::format(R"({{"email":{},"password":{},"name":{}}})", quoted(email), quoted(password), quoted(name)));
}

HttpResponse log_in(std::uint16_t port, const std::string& email, const std::string& password) {
  return http(port, "POST", "/auth/login",
              fmt::format(R"({{"email":{},"password":{}}})", quoted(email), quoted(password)));
}

HttpResponse refresh(std::uint16_t port, const std::string& refresh_token) {
  return http(port, "POST", "/auth/refresh", fmt::format(R"({{"refreshToken":{}}})", quoted(refresh_token)));
}

struct Session {
  std::string access;
  std::string refresh;
};

Session session_of(const HttpResponse& r) {
  if (r.status != 200) throw std::runtime_error("no session: " + r.raw);
  const auto body = body_of(r);
  return {std::string(body.at("accessToken").as_string()), std::string(body.at("refreshToken").as_string())};
}

void expect_unauthenticated(const HttpResponse& r, const std::string& what) {
  EXPECT_EQ(r.status, 401) << what << "\n" << r.raw;
  EXPECT_EQ(code_of(r), "UNAUTHENTICATED") << what;
  EXPECT_EQ(r.header("www-authenticate"), "Bearer") << what;
}

// A Retry-After of whole seconds, at least 1 and at most `max_seconds`.
void expect_retry_after(const HttpResponse& r, long max_seconds) {
  const std::string value = r.header("retry-after");
  ASSERT_TRUE(std::regex_match(value, std::regex("[1-9][0-9]*"))) << "Retry-After: '" << value << "'";
  EXPECT_LE(std::stol(value), max_seconds);
}

// The body with the parts that differ per request (requestId) removed.
json::object without_request_id(const HttpResponse& r) {
  auto body = body_of(r);
  body.erase("requestId");
  return body;
}

std::string order_no_of(const HttpResponse& r) {
  return std::string(body_of(r).at("orderNo").as_string());
}

HttpResponse ready(std::uint16_t port, const std::string& queue_token, std::int64_t user, std::int64_t schedule,
                   const std::vector<std::string>& seats) {
  return seat_call(port, "/payment/ready", queue_token, user, schedule, seats,
                   {{"Idempotency-Key", fmt::format("auth-{}-{}", user, schedule)}});
}

std::int64_t live_rows(std::int64_t schedule) {
  return std::stoll(
      db_value(fmt::format("SELECT COUNT(*) FROM reservation WHERE schedule_id = {} AND active = 1", schedule)));
}

}  // namespace

// --- who sees what ------------------------------------------------------------------------------

// Someone else's order is 404 exactly like an unknown one; the /me lists hold only the caller's rows.
TEST(AuthApiOwnership, OthersOrdersAndReservationsAreInvisible) {
  constexpr std::int64_t kA = 1901, kB = 1902;
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto tokens = admit_users(server.port(), schedule, kA, 2);
  const auto a_hold = seat_call(server.port(), "/tickets/hold", tokens.at(kA), kA, schedule, {"S-1"});
  ASSERT_EQ(a_hold.status, 200) << a_hold.raw;
  const auto b_hold = seat_call(server.port(), "/tickets/hold", tokens.at(kB), kB, schedule, {"S-2", "S-3"});
  ASSERT_EQ(b_hold.status, 200) << b_hold.raw;
  const auto a_order = ready(server.port(), tokens.at(kA), kA, schedule, {"S-1"});
  ASSERT_EQ(a_order.status, 201) << a_order.raw;
  const auto b_order = ready(server.port(), tokens.at(kB), kB, schedule, {"S-2"});
  ASSERT_EQ(b_order.status, 201) << b_order.raw;
  const std::string b_order_no = order_no_of(b_order);

  // B can read it, A cannot, and A's 404 says nothing an unknown order's 404 would not.
  const auto own = http(server.port(), "GET", "/payment/" + b_order_no, "", as_user(kB));
  ASSERT_EQ(own.status, 200);
  // An answer about a person is kept by no cache on the way (every signed-in route).
  EXPECT_EQ(own.header("cache-control"), "no-store");
  EXPECT_EQ(http(server.port(), "GET", "/me/reservations", "", as_user(kB)).header("cache-control"), "no-store");
  EXPECT_EQ(http(server.port(), "GET", "/me/orders", "", as_user(kB)).header("cache-control"), "no-store");
  EXPECT_EQ(http(server.port(), "GET", "/me/tickets", "", as_user(kB)).header("cache-control"), "private, no-store");
  const auto foreign = http(server.port(), "GET", "/payment/" + b_order_no, "", as_user(kA));
  const std::string unknown_no = "ORD-20000101-000000000000";
  const auto unknown = http(server.port(), "GET", "/payment/" + unknown_no, "", as_user(kA));
  ASSERT_EQ(foreign.status, 404) << foreign.raw;
  EXPECT_EQ(foreign.header("cache-control"), "no-store") << "a refusal about a person is not cached either";
  ASSERT_EQ(unknown.status, 404) << unknown.raw;
  auto shape = [](const HttpResponse& r, const std::string& order_no) {
    auto body = without_request_id(r);
    std::string text = json::serialize(body);
    for (std::size_t at; (at = text.find(order_no)) != std::string::npos;) text.replace(at, order_no.size(), "<no>");
    return text;
  };
  EXPECT_EQ(shape(foreign, b_order_no), shape(unknown, unknown_no));
  EXPECT_EQ(code_of(foreign), "NOT_FOUND");
  EXPECT_EQ(foreign.body.find("S-2"), std::string::npos) << "leaks B's seats";

  // /me/orders: A's order is there, B's is not, and every listed order is A's.
  const auto a_orders = http(server.port(), "GET", "/me/orders", "", as_user(kA));
  ASSERT_EQ(a_orders.status, 200) << a_orders.raw;
  std::set<std::string> listed;
  const auto a_order_list = json::parse(a_orders.body);
  for (const auto& order : a_order_list.as_array()) {
    listed.emplace(order.at("orderNo").as_string());
    EXPECT_EQ(db_value(fmt::format("SELECT user_id FROM payment_order WHERE order_no = '{}'",
                                   std::string(order.at("orderNo").as_string()))),
              std::to_string(kA));
  }
  EXPECT_TRUE(listed.count(order_no_of(a_order)));
  EXPECT_FALSE(listed.count(b_order_no));
  const auto b_orders = http(server.port(), "GET", "/me/orders", "", as_user(kB));
  EXPECT_NE(b_orders.body.find(b_order_no), std::string::npos);
  EXPECT_EQ(b_orders.body.find(order_no_of(a_order)), std::string::npos);

  // /me/reservations: A's S-1 is there, none of B's reservations, every row is A's.
  std::set<std::int64_t> b_ids;
  const auto b_hold_body = body_of(b_hold);
  for (const auto& id : b_hold_body.at("reservationIds").as_array()) b_ids.insert(id.as_int64());
  const auto a_reservations = http(server.port(), "GET", "/me/reservations", "", as_user(kA));
  ASSERT_EQ(a_reservations.status, 200) << a_reservations.raw;
  bool saw_s1 = false;
  const auto a_reservation_list = json::parse(a_reservations.body);
  for (const auto& row : a_reservation_list.as_array()) {
    const auto id = row.at("reservationId").as_int64();
    EXPECT_FALSE(b_ids.count(id)) << "A sees B's reservation " << id;
    EXPECT_EQ(db_value(fmt::format("SELECT user_id FROM reservation WHERE id = {}", id)), std::to_string(kA));
    if (row.at("scheduleId").as_int64() == schedule) {
      EXPECT_EQ(row.at("seatNo").as_string(), "S-1");
      saw_s1 = true;
    }
  }
  EXPECT_TRUE(saw_s1);
}

// 403: a valid queue token of another user or for another schedule; someone else's hold.
TEST(AuthApiOwnership, QueueTokensAndHoldsBelongToTheirUserAndSchedule) {
  constexpr std::int64_t kA = 1903, kB = 1904;
  const auto schedule = create_schedule(-60, 10);
  const auto other_schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto tokens = admit_users(server.port(), schedule, kA, 2);
  const auto a_other_token = admit_users(server.port(), other_schedule, kA, 1).at(kA);

  // A's access token with B's queue token.
  for (const char* path : {"/tickets/hold", "/tickets/release"}) {
    const auto r = seat_call(server.port(), path, tokens.at(kB), kA, schedule, {"S-1"});
    EXPECT_EQ(r.status, 403) << path << "\n" << r.raw;
    EXPECT_EQ(code_of(r), "FORBIDDEN") << path;
  }
  const auto ready_with_b = seat_call(server.port(), "/payment/ready", tokens.at(kB), kA, schedule, {"S-1"},
                                      {{"Idempotency-Key", "auth-foreign-token"}});
  EXPECT_EQ(ready_with_b.status, 403) << ready_with_b.raw;
  // A's own token, but for the other schedule.
  const auto wrong_schedule = seat_call(server.port(), "/tickets/hold", a_other_token, kA, schedule, {"S-1"});
  EXPECT_EQ(wrong_schedule.status, 403) << wrong_schedule.raw;
  EXPECT_EQ(code_of(wrong_schedule), "FORBIDDEN");
  EXPECT_EQ(live_rows(schedule), 0) << "a refused hold wrote a reservation";
  EXPECT_EQ(live_rows(other_schedule), 0);

  // B holds S-1; A (with A's own valid token) cannot release it.
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", tokens.at(kB), kB, schedule, {"S-1"}).status, 200);
  const auto release = seat_call(server.port(), "/tickets/release", tokens.at(kA), kA, schedule, {"S-1"});
  EXPECT_EQ(release.status, 403) << release.raw;
  EXPECT_EQ(code_of(release), "FORBIDDEN");
  EXPECT_EQ(db_value(fmt::format("SELECT user_id FROM reservation WHERE schedule_id = {} AND seat_no = 'S-1' AND "
                                 "active = 1 AND status = 'HELD'",
                                 schedule)),
            std::to_string(kB))
      << "B's hold must survive";
  // The tokens themselves are fine: each works for its owner.
  EXPECT_EQ(seat_call(server.port(), "/tickets/hold", tokens.at(kA), kA, schedule, {"S-2"}).status, 200);
  EXPECT_EQ(seat_call(server.port(), "/tickets/hold", a_other_token, kA, other_schedule, {"S-2"}).status, 200);
}

// DESIGN.md §5: "Auth is checked before the body is read": a revoked queue token is 401 and
// someone else's is 403 whatever the body, its Content-Type or the Idempotency-Key.
TEST(AuthApiOwnership, ARevokedOrForeignQueueTokenBeatsABadBody) {
  constexpr std::int64_t kA = 1905, kB = 1906;
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto tokens = admit_users(server.port(), schedule, kA, 2);
  ASSERT_EQ(http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", schedule), "", as_user(kB)).status, 204);
  struct Bad {
    const char* what;
    std::string body;
    std::string content_type;
  };
  const std::vector<Bad> bad_requests{
      {"malformed JSON", "{", "application/json"},
      {"text/plain", fmt::format(R"({{"scheduleId":{},"seatNos":["S-1"]}})", schedule), "text/plain"},
      {"unknown field", fmt::format(R"({{"scheduleId":{},"seatNos":["S-1"],"x":1}})", schedule), "application/json"}};
  for (const char* path : {"/tickets/hold", "/tickets/release", "/payment/ready"}) {
    for (const auto& bad : bad_requests) {
      // B left the queue: B's token is revoked (no Idempotency-Key on ready either).
      const auto revoked = http(server.port(), "POST", path, bad.body,
                                as_user(kB, {{"Queue-Token", tokens.at(kB)}, {"Content-Type", bad.content_type}}));
      EXPECT_EQ(revoked.status, 401) << path << ", " << bad.what << "\n" << revoked.raw;
      EXPECT_EQ(code_of(revoked), "UNAUTHENTICATED") << path << ", " << bad.what;
      // A's valid token on B's request.
      const auto foreign = http(server.port(), "POST", path, bad.body,
                                as_user(kB, {{"Queue-Token", tokens.at(kA)}, {"Content-Type", bad.content_type}}));
      EXPECT_EQ(foreign.status, 403) << path << ", " << bad.what << "\n" << foreign.raw;
    }
  }
  // A body over http.max-body: someone else's token is seen in the headers alone (403 before the
  // body); a revoked slot is asked of Redis before the size is answered (401, not 413).
  const std::string oversized(70'000, ' ');
  const auto foreign_big = http(server.port(), "POST", "/tickets/hold", oversized,
                                as_user(kB, {{"Queue-Token", tokens.at(kA)}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(foreign_big.status, 403) << foreign_big.raw;
  const auto revoked_big = http(server.port(), "POST", "/tickets/hold", oversized,
                                as_user(kB, {{"Queue-Token", tokens.at(kB)}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(revoked_big.status, 401) << revoked_big.raw;
  // A's own token with the same bad bodies is judged on the body.
  const auto own = http(server.port(), "POST", "/tickets/hold", "{",
                        as_user(kA, {{"Queue-Token", tokens.at(kA)}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(own.status, 400) << own.raw;
  EXPECT_EQ(live_rows(schedule), 0);
}

// --- 401 ----------------------------------------------------------------------------------------

TEST(AuthApiUnauthenticated, DeleteQueueWithoutATokenIs401WithWwwAuthenticate) {
  const auto schedule = create_schedule(-60, 0);
  TestServer server(kFastAdmission);
  const auto r = http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}", schedule));
  expect_unauthenticated(r, "DELETE /queue");
  const auto body = body_of(r);
  EXPECT_EQ(body.at("status").as_int64(), 401);
  EXPECT_EQ(body.at("path").as_string(), "/queue");
  EXPECT_EQ(body.at("requestId").as_string(), r.header("x-request-id"));
}

// Every endpoint that acts for or reads about a person, with no token and with unusable ones; a
// garbage body changes nothing (authentication comes before the body is read).
TEST(AuthApiUnauthenticated, EveryPersonalEndpointIs401WithoutAUsableToken) {
  constexpr std::int64_t kUser = 1905;
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto queue_token = admit_users(server.port(), schedule, kUser, 1).at(kUser);
  const std::string seats = fmt::format(R"({{"scheduleId":{},"seatNos":["S-1"]}})", schedule);
  struct Endpoint {
    const char* method;
    std::string target;
    std::string body;
  };
  const std::vector<Endpoint> endpoints{
      {"POST", "/queue/enter", fmt::format(R"({{"scheduleId":{}}})", schedule)},
      {"GET", fmt::format("/queue/status?scheduleId={}", schedule), ""},
      {"DELETE", fmt::format("/queue?scheduleId={}", schedule), ""},
      {"POST", "/tickets/hold", seats},
      {"POST", "/tickets/release", seats},
      {"POST", "/payment/ready", seats},
      {"GET", "/payment/ORD-20000101-000000000000", ""},
      {"GET", "/me", ""},
      {"GET", "/me/orders", ""},
      {"GET", "/me/reservations", ""},
      {"POST", "/auth/logout", ""},
  };
  const std::vector<std::pair<std::string, std::optional<std::string>>> authorizations{
      {"no Authorization", std::nullopt},
      {"another scheme", "Basic dXNlcjE5MDU6ZGVtby1wYXNzd29yZA=="},
      {"empty bearer", "Bearer "},
      {"not a JWT", "Bearer not-a-token"},
      {"token without scheme", access_token(kUser)},
  };
  for (const auto& endpoint : endpoints) {
    for (const auto& [label, authorization] : authorizations) {
      // Booking calls carry a valid queue token: only the access token is missing.
      std::map<std::string, std::string> headers{{"Queue-Token", queue_token}, {"Idempotency-Key", "auth-401"}};
      if (authorization) headers["Authorization"] = *authorization;
      const std::string what = std::string(endpoint.method) + " " + endpoint.target + " (" + label + ")";
      expect_unauthenticated(http(server.port(), endpoint.method, endpoint.target, endpoint.body, headers), what);
      if (!endpoint.body.empty()) {
        expect_unauthenticated(http(server.port(), endpoint.method, endpoint.target, "{not json", headers),
                               what + " with a bad body");
      }
    }
  }
  EXPECT_EQ(live_rows(schedule), 0) << "an unauthenticated call wrote something";
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM payment_order WHERE schedule_id = {}", schedule)), "0");
  // The user is still admitted: the unauthenticated DELETE /queue did not take the slot away.
  const auto status =
      http(server.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(kUser));
  ASSERT_EQ(status.status, 200) << status.raw;
  EXPECT_EQ(body_of(status).at("status").as_string(), "ADMITTED");
}

// --- identity comes from the token only ---------------------------------------------------------

TEST(AuthApiIdentity, AUserIdInTheBodyOrQueryIs400) {
  constexpr std::int64_t kUser = 1906;
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto queue_token = admit_users(server.port(), schedule, kUser, 1).at(kUser);
  auto expect_user_id_rejected = [](const HttpResponse& r, const std::string& what) {
    EXPECT_EQ(r.status, 400) << what << "\n" << r.raw;
    EXPECT_EQ(code_of(r), "INVALID_ARGUMENT") << what;
    if (r.status == 400) {
      EXPECT_EQ(error_fields(r), std::vector<std::string>{"userId"}) << what;
    }
  };
  expect_user_id_rejected(http(server.port(), "POST", "/queue/enter",
                               fmt::format(R"({{"scheduleId":{},"userId":{}}})", schedule, kUser), as_user(kUser)),
                          "enter");
  const std::string seats_with_user =
      fmt::format(R"({{"scheduleId":{},"seatNos":["S-1"],"userId":{}}})", schedule, kUser);
  expect_user_id_rejected(
      http(server.port(), "POST", "/tickets/hold", seats_with_user, as_user(kUser, {{"Queue-Token", queue_token}})),
      "hold");
  expect_user_id_rejected(http(server.port(), "POST", "/payment/ready", seats_with_user,
                               as_user(kUser, {{"Queue-Token", queue_token}, {"Idempotency-Key", "auth-userid"}})),
                          "ready");
  expect_user_id_rejected(
      http(server.port(), "GET", fmt::format("/queue/status?scheduleId={}&userId={}", schedule, kUser), "",
           as_user(kUser)),
      "status");
  expect_user_id_rejected(
      http(server.port(), "DELETE", fmt::format("/queue?scheduleId={}&userId={}", schedule, kUser), "", as_user(kUser)),
      "leave");
  EXPECT_EQ(live_rows(schedule), 0);
  // The refused leave left the slot alone.
  const auto status =
      http(server.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(kUser));
  ASSERT_EQ(status.status, 200) << status.raw;
  EXPECT_EQ(body_of(status).at("status").as_string(), "ADMITTED");
}

// --- sign-up ------------------------------------------------------------------------------------

TEST(AuthApiSignUp, CreatesANormalisedFanAccountAndRefusesDuplicates) {
  prepare_test_database();
  TestServer server;
  const std::string email = fresh_email("fan");
  std::string shouted = email;
  for (char& c : shouted) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string password = "a long enough password";
  const auto created = sign_up(server.port(), "  " + shouted + " ", password, "  Zo\xc3\xab Fan ");
  ASSERT_EQ(created.status, 201) << created.raw;
  const auto body = body_of(created);
  EXPECT_EQ(body.size(), 3u) << created.body;
  EXPECT_EQ(body.at("email").as_string(), email);
  EXPECT_EQ(body.at("name").as_string(), "Zo\xc3\xab Fan");
  const auto id = body.at("id").as_int64();
  EXPECT_EQ(db_value(fmt::format("SELECT email FROM user_account WHERE id = {}", id)), email);
  EXPECT_EQ(db_value(fmt::format("SELECT role FROM user_account WHERE id = {}", id)), "FAN");
  const auto hash = db_value(fmt::format("SELECT password_hash FROM user_account WHERE id = {}", id));
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find(password), std::string::npos);
  EXPECT_EQ(created.body.find(password), std::string::npos);

  // The new account signs in, by any spelling of its address.
  const auto login = log_in(server.port(), shouted, password);
  ASSERT_EQ(login.status, 200) << login.raw;
  EXPECT_EQ(body_of(login).at("user").at("id").as_int64(), id);

  for (const std::string& again : {email, shouted, " " + email}) {
    const auto duplicate = sign_up(server.port(), again, "another password!");
    EXPECT_EQ(duplicate.status, 409) << again << "\n" << duplicate.raw;
    EXPECT_EQ(code_of(duplicate), "EMAIL_TAKEN") << again;
  }
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM user_account WHERE email = '{}'", email)), "1");
  EXPECT_EQ(log_in(server.port(), email, "another password!").status, 401) << "the duplicate changed the password";
}

TEST(AuthApiSignUp, InvalidFieldsAre400NamingThemAndWriteNothing) {
  prepare_test_database();
  TestServer server;
  const auto count_before = db_value("SELECT COUNT(*) FROM user_account");
  const auto all_bad = sign_up(server.port(), "not-an-email", "short", "   ");
  ASSERT_EQ(all_bad.status, 400) << all_bad.raw;
  EXPECT_EQ(code_of(all_bad), "INVALID_ARGUMENT");
  EXPECT_EQ(error_fields(all_bad), (std::vector<std::string>{"email", "password", "name"}));

  const std::string email = fresh_email("short");
  const auto short_password = sign_up(server.port(), email, "123456789");
  ASSERT_EQ(short_password.status, 400) << short_password.raw;
  EXPECT_EQ(error_fields(short_password), std::vector<std::string>{"password"});
  const auto long_password = sign_up(server.port(), email, std::string(129, 'p'));
  EXPECT_EQ(error_fields(long_password), std::vector<std::string>{"password"});
  const auto empty_name = sign_up(server.port(), email, "long enough password", "");
  EXPECT_EQ(error_fields(empty_name), std::vector<std::string>{"name"});
  EXPECT_EQ(http(server.port(), "POST", "/auth/signup",
                 fmt::format(R"({{"email":"{}","password":"long enough password"}})", email))
                .status,
            400)
      << "missing name";
  // What the body lacks and what breaks the rules, named in one answer; limits as documented.
  const auto missing_and_bad = http(server.port(), "POST", "/auth/signup", R"({"email":"bad","password":"short"})",
                                    {{"Content-Type", "application/json"}});
  ASSERT_EQ(missing_and_bad.status, 400) << missing_and_bad.raw;
  EXPECT_EQ(error_fields(missing_and_bad), (std::vector<std::string>{"name", "email", "password"}));
  const auto wrong_type =
      http(server.port(), "POST", "/auth/signup",
           fmt::format(R"({{"email":"{}","password":12345678901,"name":"{}"}})", email, std::string(2000, 'n')),
           {{"Content-Type", "application/json"}});
  ASSERT_EQ(wrong_type.status, 400) << wrong_type.raw;
  EXPECT_EQ(error_fields(wrong_type), (std::vector<std::string>{"password", "name"}));
  EXPECT_NE(wrong_type.body.find("must be 1 to 100 bytes"), std::string::npos) << wrong_type.body;
  EXPECT_EQ(http(server.port(), "POST", "/auth/signup",
                 fmt::format(R"({{"email":"{}","password":"long enough password","name":"F","role":"ADMIN"}})", email))
                .status,
            400)
      << "a role cannot be asked for";

  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM user_account WHERE email = '{}'", email)), "0");
  EXPECT_EQ(db_value("SELECT COUNT(*) FROM user_account"), count_before);
}

// --- log-in -------------------------------------------------------------------------------------

TEST(AuthApiLogIn, ReturnsBothTokensAndTheRefreshCookie) {
  constexpr std::int64_t kUser = 1907;
  ensure_users(kUser);
  TestServer server;
  const auto r = log_in(server.port(), fmt::format("User{}@Example.com", kUser), kDemoPassword);
  ASSERT_EQ(r.status, 200) << r.raw;
  const auto body = body_of(r);
  EXPECT_EQ(body.at("tokenType").as_string(), "Bearer");
  EXPECT_EQ(body.at("expiresIn").as_int64(), 900);
  EXPECT_EQ(body.at("user").at("id").as_int64(), kUser);
  EXPECT_EQ(body.at("user").at("role").as_string(), "FAN");
  EXPECT_FALSE(body.at("user").as_object().contains("passwordHash"));
  EXPECT_EQ(r.header("cache-control"), "no-store");
  const auto session = session_of(r);
  const std::string cookie = r.header("set-cookie");
  EXPECT_EQ(cookie.rfind("refresh_token=" + session.refresh + ";", 0), 0u) << cookie;
  for (const char* attribute : {"; HttpOnly", "; SameSite=Strict", "; Path=/auth"}) {
    EXPECT_NE(cookie.find(attribute), std::string::npos) << attribute << " missing: " << cookie;
  }
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "the test profile has cookie-secure=false";

  const auto me = http(server.port(), "GET", "/me", "", bearer(session.access));
  ASSERT_EQ(me.status, 200) << me.raw;
  EXPECT_EQ(body_of(me).at("id").as_int64(), kUser);
  EXPECT_EQ(body_of(me).at("email").as_string(), fmt::format("user{}@example.com", kUser));
}

TEST(AuthApiLogIn, UnknownEmailAndWrongPasswordGetTheSameAnswer) {
  prepare_test_database();
  TestServer server;
  const std::string email = fresh_email("same");
  ASSERT_EQ(sign_up(server.port(), email, "the right password").status, 201);
  const auto wrong_password = log_in(server.port(), email, "the wrong password");
  const auto unknown_email = log_in(server.port(), fresh_email("nobody"), "the right password");
  ASSERT_EQ(wrong_password.status, 401) << wrong_password.raw;
  ASSERT_EQ(unknown_email.status, 401) << unknown_email.raw;
  EXPECT_EQ(code_of(wrong_password), "INVALID_CREDENTIALS");
  EXPECT_EQ(without_request_id(wrong_password), without_request_id(unknown_email));
  EXPECT_EQ(wrong_password.header("set-cookie"), "");
  // A session route's refusal is no more for a cache than its answer (docs/security.md).
  EXPECT_EQ(wrong_password.header("cache-control"), "no-store");
  EXPECT_EQ(http(server.port(), "POST", "/auth/refresh", R"({"refreshToken":"xxx"})").header("cache-control"),
            "no-store");
  // Any string is only a wrong password or an unknown address (security.md), whatever its length.
  for (const auto& [address, password] : std::vector<std::pair<std::string, std::string>>{
           {email, std::string(2000, 'p')}, {std::string(2000, 'e'), "the right password"}}) {
    const auto refused = log_in(server.port(), address, password);
    EXPECT_EQ(refused.status, 401) << address.size() << "/" << password.size() << ": " << refused.raw;
  }
  // An empty one is a malformed request, not a guess.
  EXPECT_EQ(log_in(server.port(), email, "").status, 400);
  EXPECT_EQ(log_in(server.port(), "", "the right password").status, 400);
}

// Ten failures lock the account for the window: the 11th attempt and even the right password get
// 429 with Retry-After, and nothing is verified or started.
TEST(AuthApiLogIn, EleventhFailedLoginIsLimitedEvenWithTheRightPassword) {
  prepare_test_database();
  TestServer server;
  const std::string email = fresh_email("lockout");
  const auto created = sign_up(server.port(), email, "the right password");
  ASSERT_EQ(created.status, 201);
  const auto id = body_of(created).at("id").as_int64();
  for (int attempt = 1; attempt <= 10; ++attempt) {
    const auto r = log_in(server.port(), email, "the wrong password");
    ASSERT_EQ(r.status, 401) << "attempt " << attempt << "\n" << r.raw;
  }
  const auto limited = log_in(server.port(), email, "the wrong password");
  ASSERT_EQ(limited.status, 429) << limited.raw;
  EXPECT_EQ(code_of(limited), "TOO_MANY_REQUESTS");
  expect_retry_after(limited, 15 * 60);
  const auto right = log_in(server.port(), email, "the right password");
  EXPECT_EQ(right.status, 429) << right.raw;
  expect_retry_after(right, 15 * 60);
  EXPECT_EQ(right.header("set-cookie"), "");
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM refresh_token WHERE user_id = {}", id)), "0");
  // Only that account is locked.
  ensure_users(1908);
  EXPECT_EQ(log_in(server.port(), "user1908@example.com", kDemoPassword).status, 200);
}

// Parallel wrong guesses cannot slip under the limit: each attempt takes its place in the count
// before the password is checked, so at most 10 of 40 concurrent guesses are checked at all.
TEST(AuthApiLogIn, ParallelGuessesAreLimitedLikeSequentialOnes) {
  prepare_test_database();
  TestServer server({"auth.address-limit=100000", "auth.address-failure-limit=100000"});
  const std::string email = fresh_email("parallel");
  ASSERT_EQ(sign_up(server.port(), email, "the right password").status, 201);
  std::atomic<int> checked{0};
  std::atomic<int> limited{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      const auto r = log_in(server.port(), email, "wrong guess " + std::to_string(i));
      (r.status == 401 ? checked : r.status == 429 ? limited : other)++;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_LE(checked.load(), 10) << "more guesses were checked than the limit allows";
  EXPECT_EQ(checked.load() + limited.load(), 40);
}

// Behind a trusted proxy the client is the rightmost X-Forwarded-For entry over all header lines:
// a client's own line in front of the proxy's cannot pick its bucket (found by review).
TEST(AuthApiLogIn, AClientCannotChooseItsAddressBehindATrustedProxy) {
  prepare_test_database();
  RedisInspector redis;
  for (const auto& key : redis.strings({"KEYS", "auth:limit:addr:9.9.9.9"})) redis.integer({"DEL", key});
  TestServer server({"http.trusted-proxies=127.0.0.1", "auth.address-limit=3"});
  const std::string body = R"({"email":"nobody@example.com","password":"whatever-password"})";
  std::vector<int> statuses;
  for (int i = 1; i <= 5; ++i) {
    const std::string request = fmt::format(
        "POST /auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
        "X-Forwarded-For: 1.1.1.{}\r\nX-Forwarded-For: 9.9.9.9\r\nContent-Length: {}\r\n\r\n{}",
        i, body.size(), body);
    statuses.push_back(parse_response(raw_exchange(server.port(), request)).status);
  }
  EXPECT_EQ(statuses, (std::vector<int>{401, 401, 401, 429, 429}));
  for (const auto& key : redis.strings({"KEYS", "auth:limit:addr*:9.9.9.9"})) redis.integer({"DEL", key});
}

// auth.address-limit counts log-ins and sign-ups per client address.
TEST(AuthApiLogIn, PerAddressLimitCoversLogInAndSignUp) {
  RedisInspector redis;
  auto clear_address_counters = [&] {
    for (const auto& key : redis.strings({"KEYS", "auth:limit:addr:*"})) redis.integer({"DEL", key});
  };
  clear_address_counters();  // other tests of this run also signed in from 127.0.0.1
  ensure_users(1909);
  {
    TestServer server({"auth.address-limit=5"});
    EXPECT_EQ(log_in(server.port(), "user1909@example.com", kDemoPassword).status, 200);
    EXPECT_EQ(log_in(server.port(), "user1909@example.com", "a wrong password").status, 401);
    EXPECT_EQ(sign_up(server.port(), fresh_email("addr"), "long enough password").status, 201);
    EXPECT_EQ(log_in(server.port(), fresh_email("nobody"), "a wrong password").status, 401);
    EXPECT_EQ(log_in(server.port(), "user1909@example.com", kDemoPassword).status, 200);
    const auto limited = log_in(server.port(), "user1909@example.com", kDemoPassword);
    EXPECT_EQ(limited.status, 429) << limited.raw;
    EXPECT_EQ(code_of(limited), "TOO_MANY_REQUESTS");
    expect_retry_after(limited, 60);
    const std::string email = fresh_email("addr-limited");
    const auto signup = sign_up(server.port(), email, "long enough password");
    EXPECT_EQ(signup.status, 429) << signup.raw;
    expect_retry_after(signup, 60);
    EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM user_account WHERE email = '{}'", email)), "0");
  }
  clear_address_counters();
}

// --- refresh and log-out ------------------------------------------------------------------------

TEST(AuthApiRefresh, RotatesAndASpentTokenEndsTheWholeSession) {
  constexpr std::int64_t kUser = 1910;
  ensure_users(kUser);
  TestServer server;
  const auto first = session_of(log_in(server.port(), fmt::format("user{}@example.com", kUser), kDemoPassword));
  const auto rotated = refresh(server.port(), first.refresh);
  const auto second = session_of(rotated);
  EXPECT_NE(second.refresh, first.refresh);
  EXPECT_EQ(body_of(rotated).at("user").at("id").as_int64(), kUser);
  EXPECT_EQ(rotated.header("set-cookie").rfind("refresh_token=" + second.refresh + ";", 0), 0u);
  EXPECT_EQ(http(server.port(), "GET", "/me", "", bearer(second.access)).status, 200);

  const auto reused = refresh(server.port(), first.refresh);
  expect_unauthenticated(reused, "reused refresh token");
  expect_unauthenticated(refresh(server.port(), second.refresh), "refresh token of a revoked family");
  expect_unauthenticated(http(server.port(), "GET", "/me", "", bearer(second.access)), "access token after reuse");
  expect_unauthenticated(http(server.port(), "GET", "/me", "", bearer(first.access)), "first access token");
  // In the database the whole family (R1 spent, R2 never used) is revoked.
  const std::string family = fmt::format(
      "family_id = (SELECT family_id FROM (SELECT family_id FROM refresh_token WHERE user_id = {} ORDER BY id DESC "
      "LIMIT 1) AS latest)",
      kUser);
  EXPECT_EQ(db_value("SELECT COUNT(*) FROM refresh_token WHERE " + family), "2");
  EXPECT_EQ(db_value("SELECT COUNT(*) FROM refresh_token WHERE revoked_at IS NULL AND " + family), "0");

  // Unknown and missing tokens.
  expect_unauthenticated(refresh(server.port(), "never-issued"), "unknown refresh token");
  expect_unauthenticated(http(server.port(), "POST", "/auth/refresh"), "no token at all");
}

TEST(AuthApiRefresh, TheCookieAloneRefreshes) {
  constexpr std::int64_t kUser = 1911;
  ensure_users(kUser);
  TestServer server;
  const auto login = log_in(server.port(), fmt::format("user{}@example.com", kUser), kDemoPassword);
  const auto first = session_of(login);
  const auto r =
      http(server.port(), "POST", "/auth/refresh", "", {{"Cookie", "theme=dark; refresh_token=" + first.refresh}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const auto second = session_of(r);
  EXPECT_NE(second.refresh, first.refresh);
  EXPECT_EQ(r.header("set-cookie").rfind("refresh_token=" + second.refresh + ";", 0), 0u);
  EXPECT_EQ(http(server.port(), "GET", "/me", "", bearer(second.access)).status, 200);
  // The spent cookie is refused like a spent body token.
  expect_unauthenticated(
      http(server.port(), "POST", "/auth/refresh", "", {{"Cookie", "refresh_token=" + first.refresh}}), "spent cookie");
}

TEST(AuthApiLogOut, EndsThatSessionOnly) {
  constexpr std::int64_t kUser = 1912;
  ensure_users(kUser);
  TestServer server;
  const std::string email = fmt::format("user{}@example.com", kUser);
  const auto session = session_of(log_in(server.port(), email, kDemoPassword));
  const auto other_device = session_of(log_in(server.port(), email, kDemoPassword));
  // A body is not needed, but one that is sent must be valid (an empty object): a refused logout ends nothing.
  for (const std::string body : {"{", R"({"all":true})", "[]", "{}x"}) {
    const auto refused = http(server.port(), "POST", "/auth/logout", body,
                              bearer(session.access, {{"Content-Type", "application/json"}}));
    EXPECT_EQ(refused.status, 400) << body << ": " << refused.raw;
  }
  EXPECT_EQ(
      http(server.port(), "POST", "/auth/logout", "x", bearer(session.access, {{"Content-Type", "text/plain"}})).status,
      415);
  EXPECT_EQ(http(server.port(), "GET", "/me", "", bearer(session.access)).status, 200);
  const auto out =
      http(server.port(), "POST", "/auth/logout", "{}", bearer(session.access, {{"Content-Type", "application/json"}}));
  ASSERT_EQ(out.status, 204) << out.raw;
  EXPECT_EQ(out.header("set-cookie").rfind("refresh_token=;", 0), 0u) << out.header("set-cookie");
  EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos);
  expect_unauthenticated(http(server.port(), "GET", "/me", "", bearer(session.access)), "access token after logout");
  expect_unauthenticated(refresh(server.port(), session.refresh), "refresh token after logout");
  expect_unauthenticated(http(server.port(), "POST", "/auth/logout", "", bearer(session.access)), "second logout");
  // The other sign-in of the same user goes on.
  EXPECT_EQ(http(server.port(), "GET", "/me", "", bearer(other_device.access)).status, 200);
  EXPECT_EQ(refresh(server.port(), other_device.refresh).status, 200);
}

// A logout on one instance ends the session's access tokens on another within about a second
// (Redis sorted set auth:revoked-sessions, synced every second), also for an instance that started
// after the logout (its first sync reads the whole set).
TEST(AuthApiLogOut, ReachesTheOtherInstances) {
  constexpr std::int64_t kUser = 1913;
  ensure_users(kUser);
  TestServer a;
  TestServer b;
  const std::string email = fmt::format("user{}@example.com", kUser);
  const auto session = session_of(log_in(a.port(), email, kDemoPassword));
  ASSERT_EQ(http(b.port(), "GET", "/me", "", bearer(session.access)).status, 200);
  ASSERT_EQ(http(a.port(), "POST", "/auth/logout", "", bearer(session.access)).status, 204);
  EXPECT_TRUE(wait_for([&] { return http(b.port(), "GET", "/me", "", bearer(session.access)).status == 401; },
                       std::chrono::seconds(5), std::chrono::milliseconds(100)));
  TestServer late;
  EXPECT_TRUE(wait_for([&] { return http(late.port(), "GET", "/me", "", bearer(session.access)).status == 401; },
                       std::chrono::seconds(5), std::chrono::milliseconds(100)));
}

// --- access-token strictness --------------------------------------------------------------------

namespace {

std::string b64url(std::string_view data) {
  std::string out;
  infra::security::append_base64url(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}

std::string hmac_sha512(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha512(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string payload_segment(const std::string& token) {
  const auto dot1 = token.find('.');
  return token.substr(dot1 + 1, token.find('.', dot1 + 1) - dot1 - 1);
}

}  // namespace

TEST(AuthApiAccessToken, ExpiredTamperedForeignAndUnsignedTokensAre401) {
  constexpr std::int64_t kUser = 1913;
  const auto schedule = create_schedule(-60, 0);
  TestServer server(kFastAdmission);
  const auto queue_token = admit_users(server.port(), schedule, kUser, 1).at(kUser);
  const auto config = test_config();
  const infra::security::JwtAccessTokenService tokens(config.security.access_token_secret);
  const auto now = domain::SystemClock().now();
  const domain::AccessClaims live{domain::UserId{kUser}, domain::Role::kFan, "0123456789abcdef0123456789abcdef", now,
                                  now + std::chrono::minutes(15)};
  const std::string valid = tokens.issue(live);
  ASSERT_EQ(http(server.port(), "GET", "/me", "", bearer(valid)).status, 200) << "the control token must work";

  auto expired_claims = live;
  expired_claims.issued_at = now - std::chrono::hours(2);
  expired_claims.expires_at = now - std::chrono::hours(1);
  const std::string expired = tokens.issue(expired_claims);

  std::string tampered = valid;
  const auto middle = tampered.find('.') + 10;  // inside the payload
  tampered[middle] = tampered[middle] == 'A' ? 'B' : 'A';

  const infra::security::JwtAccessTokenService queue_key(config.security.token_secret);
  const std::string queue_key_signed = queue_key.issue(live);

  const std::string none = b64url(R"({"alg":"none","typ":"JWT"})") + "." + payload_segment(valid) + ".";
  const std::string hs512_input = b64url(R"({"alg":"HS512","typ":"JWT"})") + "." + payload_segment(valid);
  const std::string hs512 = hs512_input + "." + b64url(hmac_sha512(config.security.access_token_secret, hs512_input));

  for (const auto& [label, token] :
       std::vector<std::pair<std::string, std::string>>{{"expired", expired},
                                                        {"tampered", tampered},
                                                        {"signed with the queue-token secret", queue_key_signed},
                                                        {"alg none", none},
                                                        {"alg HS512", hs512},
                                                        {"a queue token", queue_token}}) {
    expect_unauthenticated(http(server.port(), "GET", "/me", "", bearer(token)), label + " on /me");
    expect_unauthenticated(
        http(server.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", bearer(token)),
        label + " on /queue/status");
  }
}

// --- the gateway's signed callback --------------------------------------------------------------

namespace {

struct ReadyOrder {
  std::string order_no;
  std::string body;  // {"orderNo": ...} as the gateway sends it
};

ReadyOrder make_order(std::uint16_t port, std::int64_t user, std::int64_t schedule, const std::string& seat) {
  const auto token = admit_users(port, schedule, user, 1).at(user);
  const auto held = seat_call(port, "/tickets/hold", token, user, schedule, {seat});
  if (held.status != 200) throw std::runtime_error("hold failed: " + held.raw);
  const auto order = ready(port, token, user, schedule, {seat});
  if (order.status != 201) throw std::runtime_error("ready failed: " + order.raw);
  const std::string order_no = order_no_of(order);
  return {order_no, fmt::format(R"({{"orderNo":"{}"}})", order_no)};
}

HttpResponse callback(std::uint16_t port, const std::string& body, std::map<std::string, std::string> headers) {
  headers["Content-Type"] = "application/json";
  return http(port, "POST", "/payment/mock-success", body, headers);
}

std::string outbox_rows(const std::string& order_no) {
  return db_value(fmt::format(
      "SELECT COUNT(*) FROM outbox_event WHERE type = 'PaymentCompleted' AND payload LIKE '%{}%'", order_no));
}

std::string order_status(const std::string& order_no) {
  return db_value(fmt::format("SELECT status FROM payment_order WHERE order_no = '{}'", order_no));
}

}  // namespace

TEST(AuthApiGateway, OnlyAFreshSignatureOverThisBodyRecordsThePaymentOnce) {
  constexpr std::int64_t kUser = 1914;
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto order = make_order(server.port(), kUser, schedule, "S-1");
  const auto config = test_config();

  const std::string other_body = R"({"orderNo":"ORD-20000101-000000000000"})";
  const auto wrong_body = callback(server.port(), order.body, {{"Gateway-Signature", gateway_signature(other_body)}});
  EXPECT_EQ(wrong_body.status, 401) << wrong_body.raw;
  EXPECT_EQ(code_of(wrong_body), "UNAUTHENTICATED");
  const auto ten_minutes_ago =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
      600;
  const auto stale = callback(server.port(), order.body,
                              {{"Gateway-Signature", infra::security::sign_gateway_payload(
                                                         config.payment.gateway_secret, ten_minutes_ago, order.body)}});
  EXPECT_EQ(stale.status, 401) << stale.raw;
  EXPECT_EQ(code_of(stale), "UNAUTHENTICATED");
  EXPECT_EQ(order_status(order.order_no), "READY") << "a refused callback wrote something";
  EXPECT_EQ(outbox_rows(order.order_no), "0");

  const std::string signature = gateway_signature(order.body);
  const auto paid = callback(server.port(), order.body, {{"Gateway-Signature", signature}});
  ASSERT_EQ(paid.status, 202) << paid.raw;
  EXPECT_EQ(body_of(paid).at("status").as_string(), "CONFIRMING");
  EXPECT_EQ(outbox_rows(order.order_no), "1");
  const auto paid_at = db_value(fmt::format("SELECT paid_at FROM payment_order WHERE order_no = '{}'", order.order_no));
  ASSERT_NE(paid_at, "NULL");

  // The same signed callback again (the gateway retries): 200, nothing new.
  const auto replay = callback(server.port(), order.body, {{"Gateway-Signature", signature}});
  EXPECT_EQ(replay.status, 200) << replay.raw;
  EXPECT_EQ(body_of(replay).at("orderNo").as_string(), order.order_no);
  EXPECT_EQ(outbox_rows(order.order_no), "1");
  EXPECT_EQ(db_value(fmt::format("SELECT paid_at FROM payment_order WHERE order_no = '{}'", order.order_no)), paid_at);
}

TEST(AuthApiGateway, PlainSecretIsRefusedWhenNotEnabled) {
  constexpr std::int64_t kUser = 1915;
  const auto schedule = create_schedule(-60, 10);
  TestServer server(with(kFastAdmission, {"payment.gateway-plain-secret=false"}));
  const auto order = make_order(server.port(), kUser, schedule, "S-1");
  const auto config = test_config();
  const auto plain = callback(server.port(), order.body, {{"X-Gateway-Secret", config.payment.gateway_secret}});
  EXPECT_EQ(plain.status, 401) << plain.raw;
  EXPECT_EQ(code_of(plain), "UNAUTHENTICATED");
  EXPECT_EQ(order_status(order.order_no), "READY");
  EXPECT_EQ(outbox_rows(order.order_no), "0");
  // A signature still works on this server.
  EXPECT_EQ(callback(server.port(), order.body, {{"Gateway-Signature", gateway_signature(order.body)}}).status, 202);
}
