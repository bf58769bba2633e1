#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "api/http_types.hpp"
#include "domain/errors.hpp"

namespace ticketing::api {

struct ErrorSpec {
  int status;
  std::string_view code;
};

// The one table from ErrorCode to HTTP status and wire code.
ErrorSpec error_spec(domain::ErrorCode code) noexcept;

// {"code","message","status","path","requestId","errors":[...]} — always valid JSON. For 500
// INTERNAL and 503 SERVICE_UNAVAILABLE the message is generic (it names only the request id): the
// exception's own text may carry host names, users or driver errors and is for the log only.
// 503 and 429 carry Retry-After; 401 carries `WWW-Authenticate: Bearer`.
// `poll_after_ms`, when given, is added as "pollAfterMs" (a queue refusal's advice, DESIGN.md §5).
ApiResponse error_response(const domain::DomainError& error, const ApiRequest& request,
                           std::optional<std::int64_t> poll_after_ms = std::nullopt);
ApiResponse error_response(domain::ErrorCode code, std::string_view message, const ApiRequest& request);
// A queue refusal's pollAfterMs: Retry-After's time when it has one, else the floor near the front.
std::int64_t poll_advice_of(const domain::DomainError& error);

}  // namespace ticketing::api
