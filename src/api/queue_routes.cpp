#include "api/identity.hpp"
#include "api/json_body.hpp"
#include "api/request_params.hpp"
#include "api/routes.hpp"
#include "application/queue_service.hpp"
#include "support/json_writer.hpp"

namespace ticketing::api {
using support::JsonWriter;
namespace {

ApiResponse queue_response(const application::QueueView& view) {
  JsonWriter json;
  if (view.status == domain::QueueStatus::kPrequeued) {
    // No position and no token before the opening's shuffle (DESIGN.md §5, §15).
    json.begin_object()
        .key("status")
        .string(domain::to_string(view.status))
        .key("opensAt")
        .string(view.opens_at ? domain::to_iso8601(*view.opens_at) : std::string())
        .key("pollAfterMs")
        .integer(view.poll_after_ms)
        .end_object();
    return json_response(200, std::move(json).str());
  }
  json.begin_object()
      .key("status")
      .string(domain::to_string(view.status))
      .key("position")
      .integer(view.position)
      .key("estimatedWaitSeconds")
      .integer(view.estimated_wait_seconds)
      .key("pollAfterMs")
      .integer(view.poll_after_ms);
  if (view.token) json.key("token").string(*view.token);
  json.end_object();
  return json_response(200, std::move(json).str());
}

Task<ApiResponse> enter(application::QueueService& queue, const ApiRequest& request) {
  auto body = JsonBody::parse(request, {"scheduleId", "powChallenge", "powNonce"});
  const auto schedule_id = body.id("scheduleId");
  // A proof-of-work solution (DESIGN.md §15): both fields or neither.
  auto challenge = body.optional_string("powChallenge", 512);
  auto nonce = body.optional_string("powNonce", domain::kMaxPowNonceLength);
  // (Only when the other is absent: a malformed one has its own problem already.)
  const bool sent_challenge = body.optional_value("powChallenge") != nullptr;
  const bool sent_nonce = body.optional_value("powNonce") != nullptr;
  if (sent_challenge != sent_nonce) {
    body.problem(sent_challenge ? "powNonce" : "powChallenge", "powChallenge and powNonce come together");
  }
  body.done();
  std::optional<application::PowSolution> solution;
  if (challenge && nonce) solution = application::PowSolution{std::move(*challenge), std::move(*nonce)};
  const auto view = co_await queue.enter(acting_user(request), domain::ScheduleId{schedule_id}, solution);
  co_return queue_response(view);
}

Task<ApiResponse> challenge(application::QueueService& queue, const ApiRequest& request) {
  const auto schedule_id = query_id(request, "scheduleId");
  const auto issued = co_await queue.challenge(acting_user(request), domain::ScheduleId{schedule_id});
  JsonWriter json;
  json.begin_object()
      .key("challenge")
      .string(issued.challenge)
      .key("difficulty")
      .integer(issued.difficulty)
      .key("expiresAt")
      .string(domain::to_iso8601(issued.expires_at))
      .key("algorithm")
      .string(domain::kPowAlgorithm)
      .end_object();
  co_return json_response(200, std::move(json).str());
}

Task<ApiResponse> status(application::QueueService& queue, const ApiRequest& request) {
  const auto schedule_id = query_id(request, "scheduleId");
  const auto view = co_await queue.status(acting_user(request), domain::ScheduleId{schedule_id});
  co_return queue_response(view);
}

Task<ApiResponse> leave(application::QueueService& queue, const ApiRequest& request) {
  const auto schedule_id = query_id(request, "scheduleId");
  co_await queue.leave(acting_user(request), domain::ScheduleId{schedule_id});
  co_return no_content();
}

}  // namespace

// Every queue answer carries pollAfterMs (DESIGN.md §5): a refusal's is added by the dispatcher
// (Dispatcher::refusal), for every route under /queue.
void add_queue_routes(Router& router, application::QueueService& queue) {
  router.add(
      Method::kPost, "/queue/enter", [&queue](ApiRequest& request) { return enter(queue, request); },
      Access::kSignedIn);
  router.add(
      Method::kGet, "/queue/status", [&queue](ApiRequest& request) { return status(queue, request); },
      Access::kSignedIn);
  router.add(
      Method::kGet, "/queue/challenge", [&queue](ApiRequest& request) { return challenge(queue, request); },
      Access::kSignedIn);
  router.add(
      Method::kDelete, "/queue", [&queue](ApiRequest& request) { return leave(queue, request); }, Access::kSignedIn);
}

}  // namespace ticketing::api
