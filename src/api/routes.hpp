#pragma once
// Each feature registers its routes here; handlers call exactly one application service.
#include <functional>
#include <string>

#include "api/router.hpp"

namespace ticketing::application {
class AuthService;
class CatalogQueries;
class HealthService;
class QueueService;
class HoldService;
class PaymentService;
}  // namespace ticketing::application

namespace ticketing::web {
class SeatMapStreams;
}  // namespace ticketing::web

namespace ticketing::api {

struct AuthRouteOptions {
  bool secure_cookie = true;  // the refresh cookie's Secure attribute (off only in dev/test over http)
};
void add_auth_routes(Router& router, application::AuthService& auth, AuthRouteOptions options);
void add_catalog_routes(Router& router, application::CatalogQueries& catalog);
// GET /schedules/{id}/seats/stream: the live seat map (Server-Sent Events, docs/live-seat-map.md).
void add_seat_stream_routes(Router& router, web::SeatMapStreams& streams);
void add_health_routes(Router& router, application::HealthService& service);
void add_queue_routes(Router& router, application::QueueService& queue);
void add_ticket_routes(Router& router, application::HoldService& holds);
void add_payment_routes(Router& router, application::PaymentService& payments);
// GET /actuator/prometheus: the Prometheus text exposition from `scrape`.
void add_metrics_routes(Router& router, std::function<std::string()> scrape);

}  // namespace ticketing::api
