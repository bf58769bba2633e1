#pragma once
#include <string_view>

#include "api/router.hpp"

namespace ticketing::api {

struct DispatchResult {
  ApiResponse response;
  std::string_view route;  // route template, "UNKNOWN" when no route matched (bounded for metrics)
};

// Routes a request and is the one exception → reply ladder: DomainError → its mapped status,
// anything else → 500 INTERNAL (logged, details never sent to the client).
class Dispatcher {
 public:
  explicit Dispatcher(Router router) : router_(std::move(router)) {}
  Task<DispatchResult> dispatch(ApiRequest& request) const;

 private:
  Router router_;
};

}  // namespace ticketing::api
