// The web app's files (DESIGN.md §13): index.html (revalidated every time) and content-hashed
// assets (cached forever), all under a strict Content-Security-Policy.
#include <strings.h>

#include <algorithm>
#include <string>

#include "api/request_params.hpp"
#include "api/routes.hpp"
#include "application/web_app.hpp"
#include "domain/errors.hpp"

namespace ticketing::api {
namespace {

using application::WebFile;

// Scripts, styles, images, fetch/EventSource and workers from this origin only: no inline script,
// no eval, no third-party anything; and nobody may frame the app (clickjacking on the pay button).
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

ApiResponse file_response(const WebFile& file, const ApiRequest& request) {
  ApiResponse response;
  response.headers.push_back({"ETag", file.etag});
  response.headers.push_back({"Cache-Control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache"});
  response.headers.push_back({"X-Content-Type-Options", "nosniff"});
  if (file.content_type.starts_with("text/html")) {
    response.headers.push_back({"Content-Security-Policy", std::string(kContentSecurityPolicy)});
    response.headers.push_back({"Referrer-Policy", "same-origin"});
  }
  if (const auto* if_none_match = request.header("If-None-Match");
      if_none_match != nullptr && etag_matches(*if_none_match, file.etag)) {
    response.status = 304;
    response.content_type.clear();
    return response;
  }
  response.status = 200;
  response.content_type = file.content_type;
  response.body = file.body;
  return response;
}

// The page in the language the request's Accept-Language prefers (DESIGN.md §13).
const WebFile* index_for(const application::WebApp& app, const ApiRequest& request) {
  // Several Accept-Language lines are one comma-separated list (RFC 9110 §5.3).
  std::string accept_language;
  for (const auto& header : request.headers) {
    if (strcasecmp(header.name.c_str(), "Accept-Language") != 0) continue;
    if (!accept_language.empty()) accept_language += ',';
    accept_language += header.value;
  }
  return app.index_page(application::preferred_language(accept_language));
}

const WebFile& index_page(const application::WebApp& app, const ApiRequest& request) {
  const auto* index = index_for(app, request);
  if (index == nullptr) {
    throw domain::DomainError(domain::ErrorCode::kRouteNotFound,
                              "the web app is not built on this server (scripts/build; web.root)");
  }
  return *index;
}

}  // namespace

void add_web_app_routes(Router& router, const application::WebApp& app) {
  router.add(Method::kGet, "/", [&app](ApiRequest& request) -> Task<ApiResponse> {
    auto page = file_response(index_page(app, request), request);
    page.headers.push_back({"Vary", "Accept-Language"});
    co_return page;
  });
  router.add(Method::kGet, "/assets/{file}", [&app](ApiRequest& request) -> Task<ApiResponse> {
    const auto* name = request.path_param("file");
    const auto* file = name == nullptr ? nullptr : app.file("assets/" + *name);
    if (file == nullptr) throw domain::DomainError(domain::ErrorCode::kRouteNotFound, "no such asset");
    co_return file_response(*file, request);
  });
}

std::optional<ApiResponse> web_app_page(const application::WebApp& app, const ApiRequest& request) {
  const auto* index = index_for(app, request);
  if (index == nullptr) return std::nullopt;
  auto page = file_response(*index, request);
  // The same URL answers JSON to fetch(): a cache must keep the two apart (and the two languages).
  page.headers.push_back({"Vary", "Accept, Sec-Fetch-Mode, Accept-Language"});
  return page;
}

}  // namespace ticketing::api
