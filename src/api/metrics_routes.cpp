#include "api/routes.hpp"

namespace ticketing::api {

void add_metrics_routes(Router& router, std::function<std::string()> scrape) {
  router.add(Method::kGet, "/actuator/prometheus", [scrape = std::move(scrape)](ApiRequest&) -> Task<ApiResponse> {
    ApiResponse response = json_response(200, scrape());
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    co_return response;
  });
}

}  // namespace ticketing::api
