#pragma once
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

// {"code","message","status","path","requestId","errors":[...]} — always valid JSON.
ApiResponse error_response(const domain::DomainError& error, const ApiRequest& request);
ApiResponse error_response(domain::ErrorCode code, std::string_view message, const ApiRequest& request);

}  // namespace ticketing::api
