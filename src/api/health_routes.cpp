#include <spdlog/spdlog.h>

#include "support/json_writer.hpp"
#include "api/routes.hpp"
#include "application/health_service.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

Task<ApiResponse> health(application::HealthService& service) {
  const auto report = co_await service.check();
  JsonWriter json;
  json.begin_object().key("status").string(report.up ? "UP" : "DOWN").key("components").begin_object();
  for (const auto& component : report.components) {
    json.key(component.name).begin_object().key("status").string(component.up ? "UP" : "DOWN");
    // The driver's text names hosts and users ("Access denied for user ..."): the log gets it, the
    // (unauthenticated) client only the status.
    if (!component.detail.empty()) spdlog::warn("health: {} is down: {}", component.name, component.detail);
    json.end_object();
  }
  json.end_object().end_object();
  ApiResponse response = json_response(report.up ? 200 : 503, std::move(json).str());
  if (!report.up) response.headers.push_back({"Retry-After", "5"});
  co_return response;
}

}  // namespace

void add_health_routes(Router& router, application::HealthService& service) {
  router.add(Method::kGet, "/actuator/health", [&service](ApiRequest&) { return health(service); });
}

}  // namespace ticketing::api
