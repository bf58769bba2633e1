#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "api/router.hpp"
#include "web/request_dispatcher.hpp"

namespace ticketing::api {

using web::DispatchResult;

// Routes a request and is the one exception → reply ladder: DomainError → its mapped status,
// anything else → 500 INTERNAL (logged, details never sent to the client).
// Routes that are not public resolve the caller from `Authorization: Bearer <access token>` with
// `authenticate` (throws 401) before the handler runs; a `userId` query parameter is refused (400):
// identity comes from the token only.
// The HTTP server sees it as a web::RequestDispatcher (src/app wires it in).
class Dispatcher final : public web::RequestDispatcher {
 public:
  using Authenticator = std::function<domain::Principal(const std::optional<std::string>& bearer_token)>;
  explicit Dispatcher(Router router, Authenticator authenticate = {})
      : router_(std::move(router)), authenticate_(std::move(authenticate)) {}
  Task<DispatchResult> dispatch(ApiRequest& request) const override;
  // The error response of api/error_mapping.hpp, for requests the server could not parse.
  ApiResponse reject(domain::ErrorCode code, std::string_view message, const ApiRequest& request) const override;

 private:
  void authorize(ApiRequest& request, Access access) const;

  Router router_;
  Authenticator authenticate_;
};

}  // namespace ticketing::api
