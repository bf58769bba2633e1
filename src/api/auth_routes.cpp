// Accounts and sessions (DESIGN.md §5, §12): /auth/* and /me.
#include <fmt/format.h>

#include "api/identity.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "application/auth_service.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

constexpr std::string_view kRefreshCookie = "refresh_token";
// Generous: the service says what is acceptable (400 naming the field, or 401 for a wrong password).
constexpr std::size_t kMaxTextField = 1024;

void write_account(JsonWriter& json, const domain::Account& account) {
  json.begin_object()
      .key("id")
      .integer(account.id.value)
      .key("email")
      .string(account.email)
      .key("name")
      .string(account.name)
      .key("role")
      .string(domain::to_string(account.role))
      .end_object();
}

// HttpOnly so scripts cannot read it; SameSite=Strict and Path=/auth so the browser sends it only
// to our own /auth calls; state-changing calls need the Authorization header anyway (no CSRF).
std::string refresh_cookie(const AuthRouteOptions& options, std::string_view value, std::int64_t max_age) {
  return fmt::format("{}={}; Max-Age={}; Path=/auth; HttpOnly; SameSite=Strict{}", kRefreshCookie, value, max_age,
                     options.secure_cookie ? "; Secure" : "");
}

ApiResponse with_no_store(ApiResponse response) {
  response.headers.push_back({"Cache-Control", "no-store"});
  return response;
}

ApiResponse session_response(const AuthRouteOptions& options, const application::SignedIn& session) {
  JsonWriter json;
  json.begin_object()
      .key("accessToken")
      .string(session.access_token)
      .key("tokenType")
      .string("Bearer")
      .key("expiresIn")
      .integer(session.expires_in.count())
      .key("refreshToken")
      .string(session.refresh_token)
      .key("user");
  write_account(json, session.account);
  json.end_object();
  ApiResponse response = with_no_store(json_response(200, std::move(json).str()));
  response.headers.push_back(
      {"Set-Cookie", refresh_cookie(options, session.refresh_token, session.refresh_expires_in.count())});
  return response;
}

Task<ApiResponse> sign_up(application::AuthService& auth, const ApiRequest& request) {
  // The service's rules name every bad field in one 400, with what the body itself lacked.
  auto body = JsonBody::parse(request, {"email", "password", "name"});
  auto email = body.text("email");
  auto password = body.text("password");
  auto name = body.text("name");
  auto read_errors = std::move(body).problems();
  const auto account = co_await auth.sign_up(std::move(email), std::move(password), std::move(name),
                                             request.remote_address, std::move(read_errors));
  JsonWriter json;
  json.begin_object()
      .key("id")
      .integer(account.id.value)
      .key("email")
      .string(account.email)
      .key("name")
      .string(account.name)
      .end_object();
  ApiResponse response = json_response(201, std::move(json).str());
  response.headers.push_back({"Location", "/me"});
  co_return response;
}

Task<ApiResponse> log_in(application::AuthService& auth, const AuthRouteOptions& options, const ApiRequest& request) {
  // Any non-empty string: a malformed address or a password outside 10..128 bytes is simply wrong
  // (401, and counts as a failed sign-in); an empty one is a malformed request (400, counts nothing).
  auto body = JsonBody::parse(request, {"email", "password"});
  auto email = body.text("email");
  auto password = body.text("password");
  for (const char* field : {"email", "password"}) {
    const auto* value = body.optional_value(field);
    if (value != nullptr && value->is_string() && value->as_string().empty()) body.problem(field, "must not be empty");
  }
  body.done();
  const auto session = co_await auth.log_in(std::move(email), std::move(password), request.remote_address);
  co_return session_response(options, session);
}

Task<ApiResponse> refresh(application::AuthService& auth, const AuthRouteOptions& options, const ApiRequest& request) {
  // The token comes in the body (apps) or, for the browser, in the HttpOnly cookie.
  std::optional<std::string> token;
  if (!request.body.empty()) {
    auto body = JsonBody::parse(request, {"refreshToken"});
    token = body.string("refreshToken", kMaxTextField);
    body.done();
  } else {
    token = cookie(request, kRefreshCookie);
  }
  const auto session = co_await auth.refresh(std::move(token));
  co_return session_response(options, session);
}

Task<ApiResponse> log_out(application::AuthService& auth, const AuthRouteOptions& options, const ApiRequest& request) {
  // No body is needed; one that is sent is held to the rules of every body (DESIGN.md §5: JSON,
  // no unknown fields), and a refused one ends nothing.
  if (!request.body.empty()) JsonBody::parse(request, {}).done();
  co_await auth.log_out(principal_of(request));
  ApiResponse response = no_content();
  response.headers.push_back({"Set-Cookie", refresh_cookie(options, "", 0)});
  co_return response;
}

Task<ApiResponse> me(application::AuthService& auth, const ApiRequest& request) {
  const auto account = co_await auth.me(principal_of(request));
  JsonWriter json;
  write_account(json, account);
  co_return with_no_store(json_response(200, std::move(json).str()));
}

}  // namespace

void add_auth_routes(Router& router, application::AuthService& auth, AuthRouteOptions options) {
  router.add(Method::kPost, "/auth/signup", [&auth](ApiRequest& r) { return sign_up(auth, r); });
  router.add(Method::kPost, "/auth/login", [&auth, options](ApiRequest& r) { return log_in(auth, options, r); });
  router.add(Method::kPost, "/auth/refresh", [&auth, options](ApiRequest& r) { return refresh(auth, options, r); });
  router.add(
      Method::kPost, "/auth/logout", [&auth, options](ApiRequest& r) { return log_out(auth, options, r); },
      Access::kSignedIn);
  router.add(
      Method::kGet, "/me", [&auth](ApiRequest& r) { return me(auth, r); }, Access::kSignedIn);
}

}  // namespace ticketing::api
