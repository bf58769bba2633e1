#include <spdlog/spdlog.h>

#include "api/routes.hpp"
#include "application/health_service.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

Task<ApiResponse> health(application::HealthService& service) {
  using application::HealthStatus;
  const auto report = co_await service.check();
  JsonWriter json;
  const char* overall = application::to_string(report.status);
  json.begin_object().key("status").string(overall).key("components").begin_object();
  for (const auto& component : report.components) {
    json.key(component.name).begin_object().key("status").string(application::to_string(component.status));
    if (component.status == HealthStatus::kDegraded) {
      // A degraded component's detail is the probe's own wording: it says why, to the client too.
      json.key("detail").string(component.detail);
      spdlog::warn("health: {} is degraded: {}", component.name, component.detail);
    } else if (!component.detail.empty()) {
      // The driver's text names hosts and users ("Access denied for user ..."): the log gets it, the
      // (unauthenticated) client only the status.
      spdlog::warn("health: {} is down: {}", component.name, component.detail);
    }
    json.end_object();
  }
  json.end_object().end_object();
  // DEGRADED still serves (200): only a component that is DOWN makes the instance unready.
  const bool down = report.status == HealthStatus::kDown;
  ApiResponse response = json_response(down ? 503 : 200, std::move(json).str());
  if (down) response.headers.push_back({"Retry-After", "5"});
  co_return response;
}

// Liveness: this process accepts and answers requests, whatever its dependencies say. Load
// balancers and container checks use it: every instance shares the database, Redis and Kafka, so
// taking all of them out because a shared dependency is down (the readiness above) would turn a
// Kafka outage, which no request notices, into a full one.
Task<ApiResponse> liveness() {
  co_return json_response(200, R"({"status":"UP"})");
}

}  // namespace

void add_health_routes(Router& router, application::HealthService& service) {
  router.add(Method::kGet, "/actuator/health", [&service](ApiRequest&) { return health(service); });
  router.add(Method::kGet, "/actuator/health/liveness", [](ApiRequest&) { return liveness(); });
}

}  // namespace ticketing::api
