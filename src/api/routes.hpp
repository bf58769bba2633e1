#pragma once
// Each feature registers its routes here; handlers call exactly one application service.
#include <functional>
#include <optional>
#include <string>

#include "api/router.hpp"

namespace ticketing::application {
class AdminService;
class AuthService;
class CatalogQueries;
class FairStart;
class HealthService;
class QueueService;
class HoldService;
class PaymentService;
class TicketService;
class WebApp;
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
// GET /schedules/{id}/fairness: the pre-queue shuffle's commitment and reveal (DESIGN.md §15).
void add_fairness_routes(Router& router, application::FairStart& fair_start);
void add_ticket_routes(Router& router, application::HoldService& holds);
void add_payment_routes(Router& router, application::PaymentService& payments);
// E-tickets: GET /me/tickets, GET /.well-known/ticket-key.
void add_eticket_routes(Router& router, application::TicketService& tickets);
// /admin/...: the operator console's API (role ADMIN, DESIGN.md §14).
void add_admin_routes(Router& router, application::AdminService& admin);
// GET /actuator/prometheus: the Prometheus text exposition from `scrape`.
void add_metrics_routes(Router& router, std::function<std::string()> scrape);
// GET / and GET /assets/{file}: the built web app (DESIGN.md §13).
void add_web_app_routes(Router& router, const application::WebApp& app);
// The app's index.html for a browser page load the dispatcher falls back to (SPA routes); nullopt
// when the app is not built.
std::optional<ApiResponse> web_app_page(const application::WebApp& app, const ApiRequest& request);
// POST /dev/gateway/pay: the mock gateway page's "Pay" (payment.mock-gateway; never in prod).
void add_mock_gateway_routes(Router& router, application::PaymentService& payments);

}  // namespace ticketing::api
