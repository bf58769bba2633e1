#pragma once
// The acting user is resolved once per request, here. Today the original design's `userId` field
// is trusted (DESIGN.md §5 "Identity"); an access token can replace this function later without
// touching the application layer, which only ever receives a UserId.
#include <optional>
#include <string>

#include "api/http_types.hpp"
#include "domain/ids.hpp"

namespace ticketing::api {

inline domain::UserId acting_user(const ApiRequest&, std::int64_t claimed_user_id) {
  return domain::UserId{claimed_user_id};
}

// The token of an `Authorization: Bearer <token>` header; nullopt when absent or another scheme.
std::optional<std::string> bearer_token(const ApiRequest& request);

}  // namespace ticketing::api
