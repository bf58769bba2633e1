#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_types.hpp"

namespace ticketing::api {

// A `{name}` path segment that must be a canonical id; 400 INVALID_ARGUMENT naming `name` otherwise.
std::int64_t path_id(const ApiRequest& request, std::string_view name);

// A query parameter, percent-decoded; nullopt when absent. Repeated parameters are a 400.
std::optional<std::string> query_param(const ApiRequest& request, std::string_view name);
// 400 INVALID_ARGUMENT when the query names a `userId`: the caller is the token's user, never a
// parameter (every signed-in route, DESIGN.md §5).
void refuse_user_id_param(const ApiRequest& request);
// A required id query parameter: missing or malformed → 400 naming it.
std::int64_t query_id(const ApiRequest& request, std::string_view name);
// An optional whole-number query parameter from `min` to `max` (plain decimal: no sign, no leading
// zeros); nullopt when absent, 400 naming it for anything else.
std::optional<std::int64_t> query_int(const ApiRequest& request, std::string_view name, std::int64_t min,
                                      std::int64_t max);

// True when `header` (an If-None-Match value: a list of entity tags, weak or strong) names `etag`
// or is "*".
bool etag_matches(std::string_view header, std::string_view etag);

}  // namespace ticketing::api
