#pragma once
// The request/response routes see: web/exchange.hpp's transport-neutral types under their api
// names. The Beast server converts to and from these, so route code never includes Beast (and
// compiles fast).
#include <string>

#include "web/exchange.hpp"

namespace ticketing::api {

using web::Header;
using web::Method;
using web::to_string;
using ApiRequest = web::Request;
using ApiResponse = web::Response;

ApiResponse json_response(int status, std::string body);
ApiResponse no_content();

}  // namespace ticketing::api
