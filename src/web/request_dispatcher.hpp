#pragma once
// What the HTTP server calls for each request. Implemented by api::Dispatcher; the server
// (infra/http) sees only this interface, and src/app hands it the api's dispatcher.
#include <optional>
#include <string_view>

#include "domain/async.hpp"
#include "domain/errors.hpp"
#include "web/exchange.hpp"

namespace ticketing::web {

struct DispatchResult {
  Response response;
  std::string_view route;  // route template, "UNKNOWN" when no route matched (bounded for metrics)
};

class RequestDispatcher {
 public:
  virtual ~RequestDispatcher() = default;

  // Answers a parsed request. Never throws: every failure is already a response.
  virtual Task<DispatchResult> dispatch(Request& request) const = 0;

  // The answer to a request the server refused before dispatching it (unparseable, body too
  // large): the same error body and headers a route's failure would get.
  virtual Response reject(domain::ErrorCode code, std::string_view message, const Request& request) const = 0;

  // The answer to a request its header alone refuses (a route that needs an access token without
  // a valid one, an operator route for a fan), or nullopt. `request` has no body yet: the server
  // asks before it reads a body that has not arrived, and before it answers `Expect:
  // 100-continue` (DESIGN.md §5: auth is checked before the body is read). Never throws.
  virtual std::optional<DispatchResult> refuse_before_body(Request& request) const {
    (void)request;
    return std::nullopt;
  }

  // refuse_before_body() for a request whose body is over the limit (refused anyway, 413): also
  // the route's checks that ask a store (a Queue-Token's slot given up is 401, not 413). Never throws.
  virtual Task<std::optional<DispatchResult>> refuse_oversized(Request& request) const {
    co_return refuse_before_body(request);
  }
};

}  // namespace ticketing::web
