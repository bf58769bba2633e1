#pragma once
// The acting user is resolved once per request from the access token (the dispatcher does it for
// every route that is not public, DESIGN.md §5 "Identity"); handlers read it here and pass the
// UserId down. Nothing a client writes in a body or query names the caller.
#include <optional>
#include <string>

#include "api/http_types.hpp"
#include "domain/ids.hpp"

namespace ticketing::api {

// The signed-in caller; throws 401 on a route registered as public (a wiring bug, never a pass).
const domain::Principal& principal_of(const ApiRequest& request);
inline domain::UserId acting_user(const ApiRequest& request) {
  return principal_of(request).user;
}

// The token of an `Authorization: Bearer <token>` header; nullopt when absent or another scheme.
std::optional<std::string> bearer_token(const ApiRequest& request);
// The admission token of the `Queue-Token` header (booking endpoints); nullopt when absent.
std::optional<std::string> queue_token(const ApiRequest& request);
// The value of cookie `name` from the Cookie header(s); nullopt when absent.
std::optional<std::string> cookie(const ApiRequest& request, std::string_view name);

}  // namespace ticketing::api
