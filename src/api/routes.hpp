#pragma once
// Each feature registers its routes here; handlers call exactly one application service.
#include <functional>
#include <string>

#include "api/router.hpp"

namespace ticketing::application {
class CatalogQueries;
class HealthService;
class QueueService;
class HoldService;
class PaymentService;
}  // namespace ticketing::application

namespace ticketing::api {

void add_catalog_routes(Router& router, application::CatalogQueries& catalog);
void add_health_routes(Router& router, application::HealthService& service);
void add_queue_routes(Router& router, application::QueueService& queue);
void add_ticket_routes(Router& router, application::HoldService& holds);
void add_payment_routes(Router& router, application::PaymentService& payments);
// GET /actuator/prometheus: the Prometheus text exposition from `scrape`.
void add_metrics_routes(Router& router, std::function<std::string()> scrape);

}  // namespace ticketing::api
