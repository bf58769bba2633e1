#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/address_limiter.hpp"
#include "api/router.hpp"
#include "web/request_dispatcher.hpp"

namespace ticketing::api {

using web::DispatchResult;

// Per client address limits (docs/limits.md): `sign_in` for /auth/*, `anonymous` for the other
// routes anyone may call (catalog, seat map and its stream, fairness, ticket key, the web app,
// unknown paths). Not limited by address: routes that need an access token (their caller is known,
// and NAT puts many fans behind one address), /actuator/* (probes, scrapes) and the payment
// gateway's signed callback. Addresses in `exempt` are never limited. A null limiter: no limit.
struct AddressLimits {
  std::vector<AddressRange> exempt;
  std::unique_ptr<AddressLimiter> anonymous;
  std::unique_ptr<AddressLimiter> sign_in;
  std::atomic<std::uint64_t> refused_anonymous{0};
  std::atomic<std::uint64_t> refused_sign_in{0};
};

// Routes a request and is the one exception → reply ladder: DomainError → its mapped status,
// anything else → 500 INTERNAL (logged, details never sent to the client).
// Routes that are not public resolve the caller from `Authorization: Bearer <access token>` with
// `authenticate` (throws 401) before the handler runs; a `userId` query parameter is refused (400):
// identity comes from the token only.
// The HTTP server sees it as a web::RequestDispatcher (src/app wires it in).
class Dispatcher final : public web::RequestDispatcher {
 public:
  using Authenticator = std::function<domain::Principal(const std::optional<std::string>& bearer_token)>;
  // The web app's page for a browser's page load (see wants_page); nullopt: no app here.
  using PageFallback = std::function<std::optional<ApiResponse>(const ApiRequest&)>;
  explicit Dispatcher(Router router, Authenticator authenticate = {}, PageFallback page = {},
                      std::shared_ptr<AddressLimits> limits = {})
      : router_(std::move(router)),
        authenticate_(std::move(authenticate)),
        page_(std::move(page)),
        limits_(std::move(limits)) {}
  Task<DispatchResult> dispatch(ApiRequest& request) const override;
  // The error response of api/error_mapping.hpp, for requests the server could not parse.
  ApiResponse reject(domain::ErrorCode code, std::string_view message, const ApiRequest& request) const override;
  // The 401/403 that authorize() would answer, decided on the header before the body is read.
  std::optional<DispatchResult> refuse_before_body(ApiRequest& request) const override;
  Task<std::optional<DispatchResult>> refuse_oversized(ApiRequest& request) const override;

 private:
  void authorize(ApiRequest& request, Access access) const;
  static void keep_private(ApiResponse& response, const Router::Match& match);
  static ApiResponse refusal(const domain::DomainError& error, const ApiRequest& request, const Router::Match& match);
  // authorize(), then a `userId` query parameter is refused: what every route checks before its handler.
  void check_caller(ApiRequest& request, Access access) const;
  // The 429 for a request over its address's limit; nullopt when within it.
  std::optional<ApiResponse> over_address_limit(const ApiRequest& request, const Router::Match& match) const;

  Router router_;
  Authenticator authenticate_;
  PageFallback page_;
  std::shared_ptr<AddressLimits> limits_;
};

// Whether a request is a browser loading one of the web app's pages, which get index.html (the app
// routes itself): a GET/HEAD accepting text/html for a path no route knows, or a top-level
// navigation (`Sec-Fetch-Mode: navigate`, which fetch/XHR/EventSource never send) to a GET route,
// so reloading /me/tickets shows the page, not its JSON. Never /actuator/* or /assets/*.
bool wants_page(const ApiRequest& request, bool path_is_a_route);

}  // namespace ticketing::api
