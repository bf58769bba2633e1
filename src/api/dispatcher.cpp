#include "api/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <exception>

#include "api/error_mapping.hpp"

namespace ticketing::api {

using domain::DomainError;
using domain::ErrorCode;

Task<DispatchResult> Dispatcher::dispatch(ApiRequest& request) const {
  static constexpr std::string_view kUnknownRoute = "UNKNOWN";
  const Router::Match match = router_.match(request);
  const std::string_view route = match.route_template.empty() ? kUnknownRoute : match.route_template;

  if (match.handler == nullptr) {
    if (request.method == Method::kOther) {
      co_return DispatchResult{
          error_response(ErrorCode::kNotImplemented, "method " + request.method_text + " is not supported", request),
          route};
    }
    if (match.route_template.empty()) {
      co_return DispatchResult{error_response(ErrorCode::kRouteNotFound, "no route for " + request.path, request),
                               route};
    }
    ApiResponse response = error_response(
        ErrorCode::kMethodNotAllowed, "method " + request.method_text + " not allowed; use " + match.allow, request);
    response.headers.push_back({"Allow", match.allow});
    co_return DispatchResult{std::move(response), route};
  }

  try {
    // Not `co_return DispatchResult{co_await ...}`: GCC 12 destroys temporaries of a co_await
    // inside an aggregate initializer twice.
    ApiResponse response = co_await (*match.handler)(request);
    co_return DispatchResult{std::move(response), route};
  } catch (const DomainError& error) {
    if (error.code() == ErrorCode::kDependencyUnavailable || error.code() == ErrorCode::kInternal) {
      spdlog::warn("request {} {} failed: {}", request.request_id, route, error.what());
    }
    co_return DispatchResult{error_response(error, request), route};
  } catch (const std::exception& error) {
    spdlog::error("request {} {} failed unexpectedly: {}", request.request_id, route, error.what());
  } catch (...) {
    spdlog::error("request {} {} failed with a non-standard exception", request.request_id, route);
  }
  co_return DispatchResult{error_response(ErrorCode::kInternal, "internal error", request), route};
}

}  // namespace ticketing::api
