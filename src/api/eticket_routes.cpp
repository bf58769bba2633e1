// E-tickets (DESIGN.md §13, docs/tickets.md): the caller's tickets and the gates' key document.
#include "api/identity.hpp"
#include "api/routes.hpp"
#include "application/ticket_service.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

// Gates refresh the key document about once a minute; a refund reaches them within that.
constexpr const char* kKeyDocumentCacheControl = "public, max-age=60";

Task<ApiResponse> my_tickets(application::TicketService& tickets, const ApiRequest& request) {
  const auto mine = co_await tickets.tickets_of(acting_user(request));
  JsonWriter json;
  json.begin_object().key("tickets").begin_array();
  for (const auto& ticket : mine) {
    const auto& t = ticket.record;
    json.begin_object()
        .key("ticketId")
        .string(std::to_string(t.id.value))
        .key("orderNo")
        .string(t.order_no)
        .key("scheduleId")
        .integer(t.schedule.value)
        .key("concertTitle")
        .string(t.concert_title)
        .key("showAt")
        .string(domain::to_iso8601(t.show_at))
        .key("seatNo")
        .string(t.seat_no)
        .key("section")
        .string(t.section)
        .key("price")
        .raw_number(t.price.to_decimal_string())
        .key("status")
        .string(domain::to_string(t.status))
        .key("issuedAt")
        .string(domain::to_iso8601(t.confirmed_at))
        .key("qrPayload");
    if (ticket.qr_payload) {
      json.string(*ticket.qr_payload);
    } else {
      json.null();
    }
    json.end_object();
  }
  json.end_array().end_object();
  auto response = json_response(200, std::move(json).str());
  // The payloads let their bearer in: no shared cache may keep them.
  response.headers.push_back({"Cache-Control", "private, no-store"});
  co_return response;
}

Task<ApiResponse> ticket_key(application::TicketService& tickets) {
  const auto document = co_await tickets.key_document();
  JsonWriter json;
  json.reserve(128 + document.revoked.size() * 12);
  json.begin_object()
      .key("alg")
      .string(document.key.algorithm)
      .key("keyId")
      .string(document.key.key_id)
      .key("publicKey")
      .string(document.key.public_key)
      .key("revoked")
      .begin_array();
  for (const auto& id : document.revoked) json.string(std::to_string(id.value));
  json.end_array().end_object();
  auto response = json_response(200, std::move(json).str());
  response.headers.push_back({"Cache-Control", kKeyDocumentCacheControl});
  co_return response;
}

}  // namespace

void add_eticket_routes(Router& router, application::TicketService& tickets) {
  router.add(
      Method::kGet, "/me/tickets", [&tickets](ApiRequest& r) { return my_tickets(tickets, r); }, Access::kSignedIn);
  // Anonymous: gates verify offline with what this publishes.
  router.add(Method::kGet, "/.well-known/ticket-key", [&tickets](ApiRequest&) { return ticket_key(tickets); });
}

}  // namespace ticketing::api
