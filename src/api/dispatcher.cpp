#include "api/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <exception>

#include "api/error_mapping.hpp"
#include "api/identity.hpp"
#include "api/request_params.hpp"
#include "support/utf8.hpp"

namespace ticketing::api {

using domain::DomainError;
using domain::ErrorCode;

namespace {

// A method or path as an error message names it: at most 100 bytes (a 16 KiB target or a 10,000
// character method is not echoed whole), cut at a UTF-8 boundary.
std::string shown(std::string_view text) {
  constexpr std::size_t kMaxShown = 100;
  if (text.size() <= kMaxShown) return std::string(text);
  return std::string(support::utf8_prefix(text, kMaxShown)) + "...";
}

}  // namespace

bool wants_page(const ApiRequest& request, bool path_is_a_route) {
  if (request.method != Method::kGet && request.method != Method::kHead) return false;
  if (request.path.starts_with("/actuator/") || request.path.starts_with("/assets/")) return false;
  const auto* accept = request.header("Accept");
  if (accept == nullptr || accept->find("text/html") == std::string::npos) return false;
  if (!path_is_a_route) return true;
  const auto* mode = request.header("Sec-Fetch-Mode");
  return mode != nullptr && *mode == "navigate";
}

void Dispatcher::authorize(ApiRequest& request, Access access) const {
  if (access == Access::kPublic) return;
  if (!authenticate_) throw DomainError(ErrorCode::kUnauthenticated, "sign-in is not available on this instance");
  request.principal = authenticate_(bearer_token(request));
  if (access == Access::kAdmin && request.principal->role != domain::Role::kAdmin) {
    throw DomainError(ErrorCode::kForbidden, "this needs an operator (ADMIN) account");
  }
}

void Dispatcher::check_caller(ApiRequest& request, Access access) const {
  authorize(request, access);
  // An operator's call is refused inside its route instead, where the refusal is audited (§14).
  if (access != Access::kAdmin) refuse_user_id_param(request);
}

std::optional<ApiResponse> Dispatcher::over_address_limit(const ApiRequest& request, const Router::Match& match) const {
  if (!limits_ || request.remote_address.empty()) return std::nullopt;
  const std::string_view path = request.path;
  if (path.starts_with("/actuator/") || path.starts_with("/payment/") || path.starts_with("/dev/")) return std::nullopt;
  if (match.handler != nullptr && match.access != Access::kPublic) return std::nullopt;
  const bool sign_in = path.starts_with("/auth/");
  AddressLimiter* limiter = sign_in ? limits_->sign_in.get() : limits_->anonymous.get();
  if (limiter == nullptr) return std::nullopt;
  for (const auto& range : limits_->exempt) {
    if (range.contains(request.remote_address)) return std::nullopt;
  }
  const auto retry_after = limiter->take(request.remote_address);
  if (!retry_after) return std::nullopt;
  (sign_in ? limits_->refused_sign_in : limits_->refused_anonymous).fetch_add(1, std::memory_order_relaxed);
  const domain::RetryLater error(
      ErrorCode::kTooManyRequests,
      fmt::format("too many requests from this address; retry in {} s", retry_after->count()), *retry_after);
  return refusal(error, request, match);  // a sign-in route's refusal is a session's: no-store
}

Task<DispatchResult> Dispatcher::dispatch(ApiRequest& request) const {
  static constexpr std::string_view kUnknownRoute = "UNKNOWN";
  const Router::Match match = router_.match(request);
  const std::string_view route = match.route_template.empty() ? kUnknownRoute : match.route_template;
  // Before anything else runs (page, handler, body parsing): a refused request writes nothing.
  if (auto refused = over_address_limit(request, match)) co_return DispatchResult{std::move(*refused), route};
  if (page_ && wants_page(request, !match.route_template.empty()) && match.route_template != "/") {
    static constexpr std::string_view kPageRoute = "PAGE";
    if (auto page = page_(request)) co_return DispatchResult{std::move(*page), kPageRoute};
  }

  if (match.handler == nullptr) {
    if (match.route_template.empty()) {
      co_return DispatchResult{
          request.method == Method::kOther
              ? error_response(ErrorCode::kNotImplemented, "method " + shown(request.method_text) + " is not supported",
                               request)
              : error_response(ErrorCode::kRouteNotFound, "no route for " + shown(request.path), request),
          route};
    }
    // A known path's refusal like any other of its route (a queue route's carries pollAfterMs).
    ApiResponse response =
        request.method == Method::kOther
            ? refusal(
                  DomainError(ErrorCode::kNotImplemented, "method " + shown(request.method_text) + " is not supported"),
                  request, match)
            : refusal(DomainError(ErrorCode::kMethodNotAllowed,
                                  "method " + request.method_text + " not allowed; use " + match.allow),
                      request, match);
    if (request.method != Method::kOther) response.headers.push_back({"Allow", match.allow});
    co_return DispatchResult{std::move(response), route};
  }

  try {
    // Not `co_return DispatchResult{co_await ...}`: GCC 12 destroys temporaries of a co_await
    // inside an aggregate initializer twice.
    check_caller(request, match.access);  // before the body is read and before anything is written
    ApiResponse response = co_await (*match.handler)(request);
    keep_private(response, match);
    co_return DispatchResult{std::move(response), route};
  } catch (const DomainError& error) {
    if (error.code() == ErrorCode::kDependencyUnavailable || error.code() == ErrorCode::kInternal) {
      spdlog::warn("request {} {} failed: {}", request.request_id, route, error.what());
    } else if (const auto* contention = dynamic_cast<const domain::Contention*>(&error)) {
      spdlog::info("request {} {} answered 409, contention: {}", request.request_id, route, contention->detail());
    }
    co_return DispatchResult{refusal(error, request, match), route};
  } catch (const std::exception& error) {
    spdlog::error("request {} {} failed unexpectedly: {}", request.request_id, route, error.what());
  } catch (...) {
    spdlog::error("request {} {} failed with a non-standard exception", request.request_id, route);
  }
  co_return DispatchResult{error_response(ErrorCode::kInternal, "internal error", request), route};
}

Task<std::optional<DispatchResult>> Dispatcher::refuse_oversized(ApiRequest& request) const {
  auto refused = refuse_before_body(request);
  if (refused) co_return refused;
  const Router::Match match = router_.match(request);
  if (match.handler == nullptr || match.store_check == nullptr) co_return std::nullopt;
  std::optional<domain::DomainError> error;
  bool unavailable = false;
  try {
    co_await (*match.store_check)(request);
  } catch (const DomainError& e) {
    error = e;  // a copy: what it was is kept below
    unavailable = dynamic_cast<const domain::DependencyUnavailable*>(&e) != nullptr;
  } catch (const std::exception&) {
    co_return std::nullopt;  // the 413 it gets is an answer too
  }
  if (!error || unavailable) co_return std::nullopt;
  co_return DispatchResult{refusal(*error, request, match), match.route_template};
}

// An answer about a person (or for an operator) is kept by no cache on the way, nor by the
// browser's, unless its route says otherwise (an e-ticket's own header).
void Dispatcher::keep_private(ApiResponse& response, const Router::Match& match) {
  // Sign-in, sign-up, refresh: public routes, but their answers — refusals too — are a session's.
  if (match.access == Access::kPublic && !match.route_template.starts_with("/auth/")) return;
  const auto is_cache_control = [](const web::Header& header) {
    return std::equal(header.name.begin(), header.name.end(), std::string_view("Cache-Control").begin(),
                      std::string_view("Cache-Control").end(), [](char a, char b) {
                        return std::tolower(static_cast<unsigned char>(a)) ==
                               std::tolower(static_cast<unsigned char>(b));
                      });
  };
  if (std::none_of(response.headers.begin(), response.headers.end(), is_cache_control)) {
    response.headers.push_back({"Cache-Control", "no-store"});
  }
}

// A matched route's refusal: the error body, kept private like the route's answers; a queue
// route's carries pollAfterMs (DESIGN.md §5: every queue answer) — its handler's refusals, the
// caller checks made here (401, a userId parameter) and a 503 alike.
ApiResponse Dispatcher::refusal(const DomainError& error, const ApiRequest& request, const Router::Match& match) {
  const std::string_view route = match.route_template;
  const bool queue_route = route == "/queue" || route.starts_with("/queue/");
  const auto advice = queue_route && error.code() != ErrorCode::kInternal
                          ? std::optional<std::int64_t>(poll_advice_of(error))
                          : std::nullopt;
  ApiResponse response = error_response(error, request, advice);
  keep_private(response, match);
  return response;
}

ApiResponse Dispatcher::reject(ErrorCode code, std::string_view message, const ApiRequest& request) const {
  // The server's own refusals (a body over the limit, a malformed request) on a known path are
  // answered like the route's (a queue route's carry pollAfterMs).
  ApiRequest matched = request;
  const Router::Match match = router_.match(matched);
  if (match.route_template.empty()) return error_response(code, message, request);
  return refusal(DomainError(code, std::string(message)), request, match);
}

std::optional<DispatchResult> Dispatcher::refuse_before_body(ApiRequest& request) const {
  const Router::Match match = router_.match(request);
  if (match.handler == nullptr || (match.access == Access::kPublic && match.header_check == nullptr)) {
    return std::nullopt;
  }
  try {
    // The checks dispatch() makes before the handler, then the route's own.
    check_caller(request, match.access);
    if (match.header_check != nullptr) (*match.header_check)(request);
  } catch (const DomainError& error) {
    return DispatchResult{refusal(error, request, match), match.route_template};
  } catch (const std::exception&) {
    return std::nullopt;  // dispatch() meets it again once the body is in, and answers and logs it
  }
  return std::nullopt;
}

}  // namespace ticketing::api
