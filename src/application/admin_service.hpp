#pragma once
// The operator console's use cases (DESIGN.md §14, issue 16). Every change is written with its
// admin_audit row in one transaction; sale state and queue settings are then published next to the
// schedule's queue, so the next admission round of every instance follows them.
#include <optional>
#include <string>
#include <vector>

#include "application/fair_start.hpp"
#include "application/payment_service.hpp"
#include "domain/ports/catalog_repository.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/dead_letter_store.hpp"
#include "domain/ports/operator_repository.hpp"
#include "domain/ports/queue_store.hpp"
#include "domain/ports/seat_events.hpp"
#include "domain/ports/seat_lock_store.hpp"

namespace ticketing::application {

struct ScheduleStats {
  domain::ScheduleId schedule;
  domain::SaleState sale_state = domain::SaleState::kOpen;
  domain::QueueSnapshot queue;          // waiting, admitted (active), admissions/s — from Redis, all instances
  std::int64_t prequeued = 0;           // in the pre-queue (DESIGN.md §15) — from Redis, all instances
  domain::ScheduleSales sales;          // from the database, all instances
  double confirmations_per_second = 0;  // orders PAID over the last 10 s, / 10
  domain::Timestamp at{};
};

class AdminService {
 public:
  AdminService(domain::OperatorRepository& repository, domain::QueueStore& queue, domain::SeatLockStore& seat_locks,
               domain::SeatEventSink& seat_events, domain::DeadLetterStore& dead_letters,
               ConfirmationHandler& confirmation, const domain::Clock& clock, FairStart* fair_start = nullptr,
               domain::CatalogRepository* catalog = nullptr)
      : repository_(repository),
        queue_(queue),
        seat_locks_(seat_locks),
        seat_events_(seat_events),
        dead_letters_(dead_letters),
        confirmation_(confirmation),
        clock_(clock),
        fair_start_(fair_start),
        catalog_(catalog) {}

  // Every read below is audited once it is served (DESIGN.md §14: every /admin call is written to
  // admin_audit): a READ row naming who asked what; a read that fails writes nothing.

  // An admin's call that was refused (answered `status` with `code`): a REFUSED row naming the call,
  // what it was sent to and the answer (DESIGN.md §14: every /admin call). Best effort: a failure
  // to write it is logged, never the caller's answer.
  Task<void> record_refused(const domain::AuditContext& who, std::string_view call, std::string_view target, int status,
                            std::string_view code, std::string_view message);

  // Newest first, at most `limit` (1..500), older than the row `before_id` when given, only one kind
  // of row (changes, reads or refusals) when `kind` is given.
  Task<std::vector<domain::AuditEntry>> audit(const domain::AuditContext& who, int limit,
                                              std::optional<std::int64_t> before_id,
                                              std::optional<domain::AuditKind> kind);

  // 400 naming the line/field for a bad layout (`parse_errors` from reading the request come first).
  Task<domain::VenueSummary> create_venue(const domain::AuditContext& who, const std::string& name,
                                          const std::vector<domain::SeatRun>& runs,
                                          std::vector<domain::FieldError> parse_errors);
  Task<std::vector<domain::VenueSummary>> venues(const domain::AuditContext& who);
  // 404 unknown venue; 409 while a schedule of it has reservations or has opened; 400 as create.
  // Seat maps of the re-copied schedules follow within the seat-layout cache's minute.
  Task<domain::VenueSummary> replace_layout(const domain::AuditContext& who, domain::VenueId venue,
                                            const std::vector<domain::SeatRun>& runs,
                                            std::vector<domain::FieldError> parse_errors);

  Task<domain::Concert> create_concert(const domain::AuditContext& who, const std::string& title,
                                       const std::string& description);
  // 400 naming the field for times out of order or settings out of range; 404 for an unknown
  // concert or venue. New schedules start OPEN.
  Task<domain::ScheduleDetail> create_schedule(const domain::AuditContext& who, const domain::NewSchedule& request);
  // 404 when it does not exist.
  Task<domain::ScheduleDetail> schedule(const domain::AuditContext& who, domain::ScheduleId schedule);

  Task<domain::Schedule> set_sale_state(const domain::AuditContext& who, domain::ScheduleId schedule,
                                        domain::SaleState state);
  Task<domain::Schedule> update_queue_settings(const domain::AuditContext& who, domain::ScheduleId schedule,
                                               const domain::QueueSettings& patch);

  // Writes the controls of every schedule an operator ever changed (or that has any) back
  // next to its queue where they are missing (Redis flushed or failed over) or older than the
  // database's (a publication that failed or was overtaken): run periodically by the workers. Never
  // overwrites a newer change. Returns how many schedules it restored or found up to date; throws
  // one error naming how many failed (after trying every one).
  Task<std::size_t> restore_controls();

  // Cheap enough to poll every second: one Redis script, three small database queries and the
  // audit row's insert (about 2–5 ms).
  Task<ScheduleStats> stats(const domain::AuditContext& who, domain::ScheduleId schedule);

  // Exactly one of the two: an order number (0 or 1 orders) or a buyer's email (newest 50).
  Task<std::vector<domain::OrderLookup>> find_orders(const domain::AuditContext& who,
                                                     const std::optional<std::string>& order_no,
                                                     const std::optional<std::string>& email);
  // PAID → refunded: the seats go back on sale (database, Redis locks, live map) and a
  // RefundRequested goes out through the outbox. A repeat answers the refunded order and changes
  // nothing; 409 for an order that is not PAID, 404 for none.
  Task<domain::RefundResult> refund(const domain::AuditContext& who, const std::string& order_no);

  // Newest first; `before` (an id) pages further back.
  Task<std::vector<domain::DeadLetter>> dead_letters(const domain::AuditContext& who, int limit, bool pending_only,
                                                     std::optional<std::int64_t> before = std::nullopt);
  // Decodes the dead-lettered payment.completed and hands it to the same ConfirmationHandler the
  // consumer uses: idempotent by the event's id, so replaying twice confirms once. 404 unknown id,
  // 422 UNDECODABLE_EVENT naming why the payload is not an event.
  Task<domain::ConfirmOutcome> replay_dead_letter(const domain::AuditContext& who, std::int64_t id);
  // Sets a pending dead letter aside without replaying it, with a reason of 1–255 characters, not
  // only spaces (400 otherwise): only one that can never be replayed — not an event, or the payment
  // of an order that does not exist (409 CONFLICT otherwise: replay it). 404 unknown, 409 replayed
  // or discarded already.
  Task<domain::DeadLetter> discard_dead_letter(const domain::AuditContext& who, std::int64_t id, std::string reason);

 private:
  Task<void> publish(const domain::Schedule& schedule);

  domain::OperatorRepository& repository_;
  domain::QueueStore& queue_;
  domain::SeatLockStore& seat_locks_;
  domain::SeatEventSink& seat_events_;
  domain::DeadLetterStore& dead_letters_;
  ConfirmationHandler& confirmation_;
  const domain::Clock& clock_;
  FairStart* fair_start_;               // the pre-queue's size in stats (none: 0)
  domain::CatalogRepository* catalog_;  // its cached schedules are forgotten when a sale control changes
};

}  // namespace ticketing::application
