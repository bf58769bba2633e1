#pragma once
// The booking state machine (DESIGN.md §5 "Holds", "Orders"; §7): pure decisions over the rows a
// transaction locked. Each returns the writes to apply and the SeatChanged events to emit once the
// transaction has committed. The repositories (MySQL, and the in-memory fakes of the unit tests)
// only load rows, call these and apply what they return.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/payment.hpp"
#include "domain/ports/payment_repository.hpp"
#include "domain/ports/reservation_repository.hpp"
#include "domain/reservation.hpp"
#include "domain/seat_change.hpp"

namespace ticketing::domain {

// The order a reservation row is linked to (reservation.payment_order_id), as far as the rules
// need it.
struct OrderRef {
  std::int64_t id = 0;
  OrderStatus status = OrderStatus::kReady;
  Timestamp expires_at;
};

// A live (active = 1) reservation row.
struct SeatRow {
  ReservationId id;
  ScheduleId schedule;
  std::string seat_no;
  UserId owner;
  ReservationStatus status = ReservationStatus::kHeld;
  Timestamp expires_at;
  Timestamp created_at;
  std::optional<OrderRef> order;
};

// True while the order may still be paid (READY, unexpired) or is being confirmed (CONFIRMING):
// its holds are its own, whatever their expires_at says.
bool order_keeps_seats(const OrderRef& order, Timestamp now) noexcept;

// THE rule for taking a hold away: a HELD row past its expiry whose order (if any) does not keep
// its seats. Used by the hold (taking a seat over) and by the expiry job.
bool hold_is_stale(const SeatRow& row, Timestamp now) noexcept;

// ---- hold -----------------------------------------------------------------------------------

struct HoldInput {
  UserId user;
  ScheduleId schedule;
  std::vector<std::string> seats;  // in request order, no duplicates
  Timestamp now;
  Timestamp expires_at;  // now + hold.ttl
  int max_seats_per_user = 4;
  // The user's live rows on the schedule that are not stale (CONFIRMED, or HELD and not
  // hold_is_stale): HELD unexpired, CONFIRMED, and the holds of an order that keeps its seats.
  std::int64_t live_seats = 0;
  // The live rows of the requested seats (any owner).
  std::vector<SeatRow> live_rows;
  // The user's own live rows on the schedule for other seats that are stale (hold_is_stale): they
  // end with this hold, as the expiry job would end them, so the seat slots they occupy are free.
  std::vector<SeatRow> own_stale_rows = {};
};

struct HoldDecision {
  HoldOutcome
      outcome;  // kind; taken_seats / live_seats; events when kHeld (seats left empty: ids come from the insert)
  std::vector<ReservationId> expire;  // stale rows → EXPIRED, before the insert
  std::vector<std::string> insert;    // seats to insert as HELD until expires_at, in request order
};

// Limit first (LimitExceeded{live}); then SeatsTaken{the requested seats with a live row that is
// not stale, own seats included, in request order}; else Hold: expire the stale rows (of the
// requested seats, and the user's own stale holds), insert the seats; events: the expired seats
// (if any), then the held seats.
HoldDecision decide_hold(const HoldInput& input);

// ---- release --------------------------------------------------------------------------------

struct ReleaseInput {
  UserId user;
  ScheduleId schedule;
  std::vector<std::string> seats;
  Timestamp now;
  std::vector<SeatRow> live_rows;  // the live rows of the requested seats
};

struct ReleaseDecision {
  ReleaseOutcome outcome;
  std::vector<ReservationId> cancel;  // kReleased: HELD rows → CANCELLED
};

// Precedence: a seat held by someone else (403) > a seat in a READY/CONFIRMING order > a sold seat
// > a seat not held (no live row, or a stale one: hold_is_stale) > Released. A missing or stale row
// counts as "not held" whoever owned it.
ReleaseDecision decide_release(const ReleaseInput& input);

// ---- ready ----------------------------------------------------------------------------------

// The order this user already made under the request's Idempotency-Key.
struct KeyedOrder {
  std::string fingerprint;
  PaymentOrder order;
};

// One of the user's live HELD rows among the requested seats, with the seat's price.
struct HeldSeatRow {
  SeatRow row;
  Money price;
};

struct ReadyInput {
  ReadyRequest request;
  Timestamp now;
  Timestamp order_expires_at;  // now + payment.order-ttl
  std::string new_order_no;    // the number a created order gets
  std::optional<KeyedOrder> keyed;
  // The user's live HELD rows of the requested seats; after a refusal, also other users' live rows
  // of the refused seats (someone else's live hold is a 403).
  std::vector<HeldSeatRow> held;
  std::vector<std::string> unknown_seats;  // requested seats that are not on the schedule
};

struct ReadyDecision {
  ReadyOutcome outcome;             // kCreated: the order to insert (id 0 until inserted)
  std::vector<ReservationId> link;  // kCreated: rows linked to the order, their expiry raised to its expiry
  bool commit = false;              // kCreated and kReplayed commit; refusals roll back
};

// Precedence: a keyed order (other fingerprint → KeyReused, same → Replay, the order as created)
// > SeatsUnknown (among the seats not held) > SeatsHeldByOthers (someone else's live hold)
// > SeatsInPayment > SeatsNotHeld (missing or stale)
// > Create{amount = sum of prices, expires_at = min(order ttl, earliest hold + hold.max-total)}.
// A repository that finds no keyed order reads the key again after a SeatsInPayment (a parallel
// duplicate of the request may have won the seats) and decides again.
ReadyDecision decide_ready(const ReadyInput& input);

// ---- the gateway's success callback ----------------------------------------------------------

struct OrderState {
  PaymentOrder order;
  std::optional<Timestamp> paid_at;
};

struct GatewayDecision {
  PaymentRecord record;  // kind and the order as it is afterwards
  // Writes to the order row (nothing for kAlreadyRecorded / kNotFound).
  bool write_order = false;  // status, fail_reason, paid_at below
  std::optional<Timestamp> paid_at;
  bool emit_payment_completed = false;       // outbox PaymentCompleted{order, paid_at = now}
  std::optional<std::string> refund_reason;  // outbox RefundRequested with this reason
};

// READY unexpired → CONFIRMING, paid_at = now, PaymentCompleted (Recorded); READY expired →
// CANCELLED ORDER_EXPIRED, paid_at, refund (RefundRequested); CANCELLED never paid → paid_at,
// refund with its fail reason (RefundRequested); anything else → AlreadyRecorded; no order →
// NotFound. No reservation rows change.
GatewayDecision on_gateway_success(const std::optional<OrderState>& order, Timestamp now);

// ---- confirmation (the consumer's single and batch paths, and the reconciler) -----------------

struct ConfirmationInput {
  const PaymentCompleted* event = nullptr;
  bool already_processed = false;
  const PaymentOrder* order = nullptr;  // locked, with all its seats; required unless already_processed
  std::vector<SeatRow> live_holds;      // the order's live HELD rows
};

// Why `event` is not the payment of `order` — another user, schedule or amount, or other seats
// than exactly the order's (`order.seat_nos`, every row it was made from) — or nullopt when it is.
// An event that does not match its order was not written by this service's outbox (forged or
// corrupted): it must settle nothing, neither confirm nor cancel-and-refund.
std::optional<std::string> payment_event_mismatch(const PaymentCompleted& event, const PaymentOrder& order);

struct ConfirmationDecision {
  ConfirmOutcome outcome;
  bool record_processed = false;             // remember the event id
  std::vector<ReservationId> confirm;        // HELD → CONFIRMED (kConfirmed; the order → PAID)
  std::vector<ReservationId> cancel;         // HELD → CANCELLED (kCancelled; the order → CANCELLED)
  std::optional<std::string> refund_reason;  // kCancelled: the order's fail reason and a refund request
};

// Duplicate (seen before) > refused: an event that does not match its order (payment_event_mismatch)
// throws DomainError UNDECODABLE_EVENT — nothing recorded, the consumer dead-letters it > Ignored
// (the order is not CONFIRMING; still recorded) > Confirmed (the
// order's live HELD rows are exactly as many as the event's seats, and some) > Cancelled
// HOLD_EXPIRED (its live holds released, refund requested).
ConfirmationDecision decide_confirmation(const ConfirmationInput& input);

// ---- expiry job -------------------------------------------------------------------------------

struct ExpiryInput {
  Timestamp now;
  std::vector<std::int64_t> expired_ready_orders;  // READY orders with expires_at <= now (locked)
  std::vector<SeatRow> held_rows;                  // HELD rows with expires_at <= now (locked), with their order
};

struct ExpiryDecision {
  std::vector<std::int64_t> cancel_order_expired;  // READY → CANCELLED ORDER_EXPIRED
  std::vector<ReservationId> expire;               // HELD → EXPIRED
  std::vector<std::int64_t> cancel_hold_expired;   // READY orders of expired rows → CANCELLED HOLD_EXPIRED
  std::vector<SeatChanged> events;                 // "expired", one per schedule
};

ExpiryDecision decide_expiry(const ExpiryInput& input);

// ---- operator refund (the console, DESIGN.md §14) ----------------------------------------------

inline constexpr std::string_view kRefundedByOperator = "REFUNDED_BY_OPERATOR";

struct RefundInput {
  std::optional<PaymentOrder> order;  // locked; nullopt when no order has that number
  std::vector<SeatRow> live_rows;     // the order's live reservation rows (CONFIRMED once PAID)
};

struct RefundDecision {
  enum class Kind { kRefunded, kAlreadyRefunded, kNotPaid, kNotFound } kind = Kind::kRefunded;
  std::vector<ReservationId> cancel;  // kRefunded: the order's live rows → CANCELLED (seats back on sale)
  bool request_refund = false;        // kRefunded: order → CANCELLED REFUNDED_BY_OPERATOR + RefundRequested
  std::vector<SeatChanged> events;    // kRefunded: the seats, "refunded"
};

// PAID → Refunded (its live rows cancelled, a refund requested, the seats "refunded"); CANCELLED
// with kRefundedByOperator → AlreadyRefunded (a repeat changes nothing); anything else → NotPaid;
// no order → NotFound.
RefundDecision decide_refund(const RefundInput& input);

inline constexpr std::string_view kHoldExpired = "HOLD_EXPIRED";
inline constexpr std::string_view kOrderExpired = "ORDER_EXPIRED";

}  // namespace ticketing::domain
