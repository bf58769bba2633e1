// PaymentService, ConfirmationHandler and PaymentReconciler against in-memory fakes that apply the
// same booking rules as the database adapters (booking_fakes.hpp).
#include "application/payment_service.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "application/hold_service.hpp"
#include "booking_fakes.hpp"
#include "domain/errors.hpp"
#include "run_task.hpp"

using namespace ticketing;
using namespace ticketing::domain;
using namespace ticketing::testing;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

constexpr ScheduleId kSchedule{1};
constexpr UserId kMe{1};
constexpr UserId kOther{2};

struct Fixture {
  Fixture() {
    store.add_seats(kSchedule, {"A-1", "A-2", "A-3", "A-4"}, Money{5000});
    payments.keep_seat_locks_in(locks);
  }

  ManualClock clock;
  FakeTokens tokens;
  FakeQueueStore queue;
  FakeSeatLockStore locks{clock};
  BookingStore store;
  FakeReservationRepository reservations{store};
  FakePaymentRepository payments_db{store};
  RecordingSeatEvents events;
  application::AdmissionGuard guard{tokens, queue, clock};
  application::HoldService holds{guard, locks, reservations, clock, events, {minutes(5), 4}};
  application::HoldExpiryJob expiry{reservations, clock, events, 100};
  application::PaymentService payments{guard,
                                       payments_db,
                                       payments_db,
                                       clock,
                                       minutes(10),
                                       minutes(15),
                                       application::GatewayAuth{nullptr, true, "gateway-secret"}};
  application::ConfirmationHandler confirmation{payments_db, queue, locks, clock, events, payments.counters()};
  application::PaymentReconciler reconciler{payments_db, confirmation, clock, minutes(2), 10};

  static std::optional<std::string> token_of(UserId user) {
    return std::to_string(user.value) + ":" + std::to_string(kSchedule.value);
  }
  application::HoldView hold(std::vector<std::string> seats, UserId user = kMe) {
    const auto admission = run_task(holds.admit(token_of(user), user));
    return run_task(holds.hold_seats(admission, kSchedule, std::move(seats)));
  }
  std::vector<std::string> release(std::vector<std::string> seats, UserId user = kMe) {
    const auto admission = run_task(holds.admit(token_of(user), user));
    return run_task(holds.release_seats(admission, kSchedule, std::move(seats)));
  }
  application::ReadyResult ready(std::vector<std::string> seats, std::optional<std::string> key = "key-1",
                                 UserId user = kMe) {
    const auto admission = run_task(payments.admit(token_of(user), user));
    return run_task(payments.ready(admission, key, kSchedule, std::move(seats)));
  }
  PaymentRecord pay(const std::string& order_no, std::optional<std::string> secret = "gateway-secret") {
    return run_task(payments.record_gateway_success({std::nullopt, secret, "{}"}, order_no));
  }
  // The PaymentCompleted event the callback put in the outbox for this order (the relay's job).
  PaymentCompleted completed_event(const std::string& order_no) {
    for (const auto& e : store.outbox) {
      if (e.type == "PaymentCompleted" && e.order_no == order_no) {
        const auto& o = store.order_by_no(order_no)->order;
        return PaymentCompleted{
            e.event_id, order_no, o.user, o.schedule, e.seat_nos, o.amount, *store.order_by_no(order_no)->paid_at};
      }
    }
    throw std::runtime_error("no PaymentCompleted for " + order_no);
  }
  OrderStatus status_of(const std::string& order_no) { return store.order_by_no(order_no)->order.status; }
  const BookingStore::Reservation* live(const std::string& seat) const { return store.live_row(kSchedule, seat); }
};

template <typename F>
ErrorCode code_of(F&& f) {
  try {
    f();
  } catch (const SeatConflict&) {
    return ErrorCode::kSeatAlreadyHeld;
  } catch (const DomainError& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

}  // namespace

// ---- ready ------------------------------------------------------------------------------------

// ready keeps the seats' Redis locks as long as the order (a lost one taken again), so after
// hold.ttl the fast path still refuses them and names them: a request for a seat someone else
// holds and one in the READY order gets a 409 naming both, not only the first.
TEST(PaymentServiceReady, TheSeatLocksLastAsLongAsTheOrder) {
  Fixture f;
  f.hold({"A-1", "A-2"});
  f.locks.drop(kSchedule, "A-2");  // Redis lost it (evicted, flushed)
  f.clock.advance(minutes(1));
  const auto result = f.ready({"A-1", "A-2"});
  for (const char* seat : {"A-1", "A-2"}) {
    const auto lock = f.locks.lock_of(kSchedule, seat);
    ASSERT_TRUE(lock) << seat;
    EXPECT_EQ(lock->owner, kMe);
    EXPECT_EQ(lock->expires_at, result.order.expires_at) << seat;
  }
  EXPECT_TRUE(f.ready({"A-1", "A-2"}).replayed);
  EXPECT_EQ(f.locks.order_calls, 1) << "a replay changes nothing";

  f.hold({"A-3"}, kOther);
  f.clock.advance(minutes(6));  // past hold.ttl, before the order's expiry
  f.hold({"A-3"}, kOther);      // its first hold lapsed with hold.ttl: a new one
  try {
    f.hold({"A-3", "A-1"}, UserId{3});
    ADD_FAILURE() << "no conflict";
  } catch (const SeatConflict& conflict) {
    EXPECT_EQ(conflict.seats(), (std::vector<std::string>{"A-3", "A-1"}));
  }
  EXPECT_EQ(f.live("A-1")->user, kMe);
}

TEST(PaymentServiceReady, CreatesAReadyOrderAndExtendsItsHoldsOnceToItsExpiry) {
  Fixture f;
  f.hold({"A-1", "A-2"});
  f.clock.advance(minutes(1));
  const auto result = f.ready({"A-2", "A-1"});
  EXPECT_FALSE(result.replayed);
  EXPECT_EQ(result.order.status, OrderStatus::kReady);
  EXPECT_EQ(result.order.amount, Money{10000});
  EXPECT_EQ(result.order.expires_at, f.clock.now() + minutes(10));
  EXPECT_EQ(result.order.slot_token_issued_at, f.tokens.issued_at);
  EXPECT_EQ(f.live("A-1")->expires_at, result.order.expires_at);  // was now + 4 min
  EXPECT_EQ(f.live("A-1")->order_id, result.order.id);
  EXPECT_EQ(f.payments.counters().orders_created.load(), 1u);
}

TEST(PaymentServiceReady, SameKeySameBodyReplaysOtherBodyIsRefused) {
  Fixture f;
  f.hold({"A-1", "A-2"});
  const auto first = f.ready({"A-1", "A-2"});
  f.clock.advance(seconds(5));
  const auto again = f.ready({"A-2", "A-1"});  // seat order does not change the request
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.order.order_no, first.order.order_no);
  EXPECT_EQ(again.order.expires_at, first.order.expires_at);
  EXPECT_EQ(f.store.orders.size(), 1u);
  EXPECT_EQ(code_of([&] { f.ready({"A-1"}); }), ErrorCode::kIdempotencyKeyReused);
  EXPECT_EQ(f.payments.counters().orders_created.load(), 1u);
}

TEST(PaymentServiceReady, RefusalsFollowThePrecedence) {
  Fixture f;
  f.hold({"A-1", "A-2"});
  f.hold({"A-3"}, kOther);
  EXPECT_EQ(code_of([&] { f.ready({"A-1"}, std::nullopt); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { f.ready({"A-1"}, std::string("bad\tkey")); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { f.ready({"A-1"}, std::string("bad\x7f")); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { f.ready({"A-1", "Z-9"}); }), ErrorCode::kNotFound);
  EXPECT_EQ(code_of([&] { f.ready({"A-1", "A-3"}); }), ErrorCode::kForbidden);  // someone else's hold: 403
  f.ready({"A-1"}, "key-a");
  EXPECT_EQ(code_of([&] { f.ready({"A-1", "A-2"}, std::string("key-b")); }), ErrorCode::kSeatInPayment);
  EXPECT_EQ(code_of([&] { f.ready({"A-1", "A-4"}, std::string("key-c")); }), ErrorCode::kSeatInPayment);
  EXPECT_EQ(f.store.orders.size(), 1u);
}

TEST(PaymentServiceReady, AnExpiredHoldCannotBeReadied) {
  Fixture f;
  f.hold({"A-1"});
  f.clock.advance(minutes(5));
  EXPECT_EQ(code_of([&] { f.ready({"A-1"}); }), ErrorCode::kConflict);
  EXPECT_TRUE(f.store.orders.empty());
}

TEST(PaymentServiceReady, AReadyOrdersSeatsAreNeverHeldByAnotherUserBeforeItExpires) {
  Fixture f;
  const auto held = f.hold({"A-1"});
  const auto order = f.ready({"A-1"}).order;
  // Past the hold's own expiry (and its Redis lock's), before the order's.
  f.clock.set(held.expires_at + seconds(30));
  EXPECT_EQ(run_task(f.expiry.run_once()), 0);
  EXPECT_EQ(code_of([&] { f.hold({"A-1"}, kOther); }), ErrorCode::kSeatAlreadyHeld);
  EXPECT_EQ(f.live("A-1")->user, kMe);
  EXPECT_EQ(code_of([&] { f.release({"A-1"}); }), ErrorCode::kSeatInPayment);
  // Once the order has expired the job cancels it; the hold lasts until then exactly.
  f.clock.set(order.expires_at);
  EXPECT_EQ(run_task(f.expiry.run_once()), 1);
  EXPECT_EQ(f.status_of(order.order_no), OrderStatus::kCancelled);
  EXPECT_EQ(f.store.order_by_no(order.order_no)->order.fail_reason, std::string("ORDER_EXPIRED"));
  EXPECT_EQ(f.hold({"A-1"}, kOther).seats.size(), 1u);
}

// ---- the gateway callback ---------------------------------------------------------------------

TEST(PaymentServiceCallback, RecordsOnceThenAnswersTheCurrentState) {
  Fixture f;
  f.hold({"A-1", "A-2"});
  const auto order = f.ready({"A-1", "A-2"}).order;
  int woken = 0;
  f.payments.on_payment_recorded([&] { ++woken; });
  const auto first = f.pay(order.order_no);
  EXPECT_EQ(first.kind, PaymentRecord::Kind::kRecorded);
  EXPECT_EQ(first.order.status, OrderStatus::kConfirming);
  EXPECT_EQ(f.store.outbox_count("PaymentCompleted"), 1u);
  EXPECT_EQ(f.store.order_by_no(order.order_no)->paid_at, f.clock.now());
  const auto hold_expiry = f.live("A-1")->expires_at;
  f.clock.advance(seconds(1));
  const auto again = f.pay(order.order_no);
  EXPECT_EQ(again.kind, PaymentRecord::Kind::kAlreadyRecorded);
  EXPECT_EQ(f.store.outbox_count("PaymentCompleted"), 1u);
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(f.payments.counters().payments_recorded.load(), 1u);
  EXPECT_EQ(f.live("A-1")->expires_at, hold_expiry);  // the callback changes no hold
}

TEST(PaymentServiceCallback, UnauthenticatedAndUnknownOrdersAreRefused) {
  Fixture f;
  EXPECT_EQ(code_of([&] { f.pay("ORD-1", std::nullopt); }), ErrorCode::kUnauthenticated);
  EXPECT_EQ(code_of([&] { f.pay("ORD-1", std::string("wrong")); }), ErrorCode::kUnauthenticated);
  EXPECT_EQ(code_of([&] { f.pay("ORD-404"); }), ErrorCode::kNotFound);
}

TEST(PaymentServiceCallback, APaymentAfterTheOrderExpiredIsRefundedOnce) {
  Fixture f;
  f.hold({"A-1"});
  const auto order = f.ready({"A-1"}).order;
  f.clock.set(order.expires_at);
  const auto record = f.pay(order.order_no);
  EXPECT_EQ(record.kind, PaymentRecord::Kind::kRefundRequested);
  EXPECT_EQ(record.order.status, OrderStatus::kCancelled);
  EXPECT_EQ(record.order.fail_reason, std::string("ORDER_EXPIRED"));
  EXPECT_EQ(f.store.outbox_count("PaymentRefundRequested"), 1u);
  EXPECT_EQ(f.store.outbox_count("PaymentCompleted"), 0u);
  EXPECT_EQ(f.pay(order.order_no).kind, PaymentRecord::Kind::kAlreadyRecorded);
  EXPECT_EQ(f.store.outbox_count("PaymentRefundRequested"), 1u);
}

TEST(PaymentServiceCallback, APaymentForAnOrderTheJobCancelledIsRefundedWithItsReason) {
  Fixture f;
  f.hold({"A-1"});
  const auto order = f.ready({"A-1"}).order;
  f.clock.set(order.expires_at);
  run_task(f.expiry.run_once());
  ASSERT_EQ(f.status_of(order.order_no), OrderStatus::kCancelled);
  const auto record = f.pay(order.order_no);
  EXPECT_EQ(record.kind, PaymentRecord::Kind::kRefundRequested);
  ASSERT_EQ(f.store.outbox_count("PaymentRefundRequested"), 1u);
  EXPECT_EQ(f.store.outbox.back().reason, "ORDER_EXPIRED");
}

TEST(PaymentServiceReads, SomeoneElsesOrderIsNotFound) {
  Fixture f;
  f.hold({"A-1"});
  const auto order = f.ready({"A-1"}).order;
  EXPECT_EQ(run_task(f.payments.order(kMe, order.order_no)).seat_nos, std::vector<std::string>{"A-1"});
  EXPECT_EQ(code_of([&] { run_task(f.payments.order(kOther, order.order_no)); }), ErrorCode::kNotFound);
  EXPECT_EQ(run_task(f.payments.orders(kMe)).size(), 1u);
  EXPECT_TRUE(run_task(f.payments.orders(kOther)).empty());
}

// ---- confirmation -----------------------------------------------------------------------------

namespace {

// Hold, ready and pay: a CONFIRMING order of `seats`.
std::string confirming_order(Fixture& f, std::vector<std::string> seats, UserId user = kMe) {
  f.hold(seats, user);
  const auto order = f.ready(seats, "key-" + std::to_string(f.store.orders.size()), user).order;
  f.pay(order.order_no);
  return order.order_no;
}

}  // namespace

TEST(ConfirmationHandler, ConfirmsSellsTheSeatsOnceAndFreesTheBuyingSlot) {
  Fixture f;
  const auto order_no = confirming_order(f, {"A-1", "A-2"});
  const auto event = f.completed_event(order_no);
  f.events.events.clear();
  f.clock.advance(seconds(2));
  const auto outcome = run_task(f.confirmation.handle(event));
  EXPECT_EQ(outcome.kind, ConfirmOutcome::Kind::kConfirmed);
  EXPECT_EQ(f.status_of(order_no), OrderStatus::kPaid);
  EXPECT_EQ(f.live("A-1")->status, ReservationStatus::kConfirmed);
  EXPECT_EQ(f.events.events, (std::vector<SeatChanged>{{kSchedule, {"A-1", "A-2"}, SeatChange::kSold}}));
  EXPECT_FALSE(f.locks.lock_of(kSchedule, "A-1")->expires_at);  // sold: the fast path keeps refusing it
  ASSERT_EQ(f.queue.completed.size(), 1u);
  EXPECT_EQ(f.queue.completed[0].slot_token_issued_at, f.tokens.issued_at);
  EXPECT_EQ(f.payments.counters().confirmed.load(), 1u);
  EXPECT_EQ(f.payments.counters().confirm_latency.count(), 1u);

  // Delivered again: nothing changes, nothing is emitted again.
  EXPECT_EQ(run_task(f.confirmation.handle(event)).kind, ConfirmOutcome::Kind::kDuplicate);
  EXPECT_EQ(f.events.events.size(), 1u);
  EXPECT_EQ(f.payments.counters().duplicates.load(), 1u);
  EXPECT_EQ(f.queue.completed.size(), 1u);
  EXPECT_EQ(code_of([&] { f.hold({"A-1"}, kOther); }), ErrorCode::kSeatAlreadyHeld);
}

// The sold lock is set after the confirmation commits. An operator's refund committed and
// unlocked in between (or a new hold of the refunded seat) must not find the seat locked to the
// buyer for good afterwards: only the buyer's own lock is kept.
TEST(ConfirmationHandler, ASoldLockIsNeverTakenAgainNorTakenFromAnotherUser) {
  Fixture f;
  const auto order_no = confirming_order(f, {"A-1", "A-2"});
  const auto event = f.completed_event(order_no);
  f.locks.drop(kSchedule, "A-1");  // the refund's unlock came first
  f.locks.drop(kSchedule, "A-2");
  run_task(f.locks.lock(kSchedule, kOther, {"A-2"}, minutes(5)));  // and someone held A-2 since
  EXPECT_EQ(run_task(f.confirmation.handle(event)).kind, ConfirmOutcome::Kind::kConfirmed);
  EXPECT_FALSE(f.locks.lock_of(kSchedule, "A-1")) << "a refunded seat stayed locked to the buyer";
  ASSERT_TRUE(f.locks.lock_of(kSchedule, "A-2"));
  EXPECT_EQ(f.locks.lock_of(kSchedule, "A-2")->owner, kOther);
  EXPECT_TRUE(f.locks.lock_of(kSchedule, "A-2")->expires_at) << "another user's hold became a sold lock";
}

// Redis unreachable when the purchase is confirmed: the buying slot could not be freed, and the
// buyer's token would keep working (each booking call extends the slot). The reconciler's next
// round frees it once Redis answers again.
TEST(ConfirmationHandler, ABuyingSlotNotFreedAtTheConfirmationIsFreedByALaterRound) {
  Fixture f;
  const auto order_no = confirming_order(f, {"A-1"});
  f.queue.complete_down = true;
  EXPECT_EQ(run_task(f.confirmation.handle(f.completed_event(order_no))).kind, ConfirmOutcome::Kind::kConfirmed);
  EXPECT_TRUE(f.queue.completed.empty());
  EXPECT_EQ(run_task(f.confirmation.finish_slots()), 1u) << "still unreachable: kept";
  EXPECT_TRUE(f.queue.completed.empty());
  f.queue.complete_down = false;
  run_task(f.reconciler.run_once());
  ASSERT_EQ(f.queue.completed.size(), 1u);
  EXPECT_EQ(f.queue.completed[0].user, kMe);
  EXPECT_EQ(f.queue.completed[0].slot_token_issued_at, f.tokens.issued_at);
  EXPECT_EQ(run_task(f.confirmation.finish_slots()), 0u);
  EXPECT_EQ(f.queue.completed.size(), 1u) << "freed once";
}

TEST(ConfirmationHandler, AConfirmingOrderKeepsItsSeatsPastTheirHoldExpiry) {
  Fixture f;
  const auto order_no = confirming_order(f, {"A-1"});
  const auto event = f.completed_event(order_no);
  // The broker is slow: long past the hold's and the order's expiry.
  f.clock.advance(minutes(30));
  EXPECT_EQ(run_task(f.expiry.run_once()), 0);
  EXPECT_EQ(code_of([&] { f.hold({"A-1"}, kOther); }), ErrorCode::kSeatAlreadyHeld);
  EXPECT_EQ(f.status_of(order_no), OrderStatus::kConfirming);
  EXPECT_EQ(run_task(f.confirmation.handle(event)).kind, ConfirmOutcome::Kind::kConfirmed);
  EXPECT_EQ(f.store.outbox_count("PaymentRefundRequested"), 0u);
}

TEST(ConfirmationHandler, AnOrderThatLostAHoldIsCancelledRefundedAndItsOtherSeatsReleased) {
  Fixture f;
  const auto order_no = confirming_order(f, {"A-1", "A-2"});
  auto event = f.completed_event(order_no);
  // One of its rows is no longer a live hold (an operator, a bug, a restore: the rule must hold).
  f.store.reservation(f.live("A-1")->id).status = ReservationStatus::kExpired;
  f.events.events.clear();
  const auto outcome = run_task(f.confirmation.handle(event));
  EXPECT_EQ(outcome.kind, ConfirmOutcome::Kind::kCancelled);
  EXPECT_EQ(f.status_of(order_no), OrderStatus::kCancelled);
  EXPECT_EQ(f.store.order_by_no(order_no)->order.fail_reason, std::string("HOLD_EXPIRED"));
  EXPECT_EQ(f.live("A-2"), nullptr);
  ASSERT_EQ(f.store.outbox_count("PaymentRefundRequested"), 1u);
  EXPECT_EQ(f.store.outbox.back().reason, "HOLD_EXPIRED");
  EXPECT_EQ(f.events.events, (std::vector<SeatChanged>{{kSchedule, {"A-2"}, SeatChange::kCancelled}}));
  EXPECT_EQ(f.payments.counters().cancelled.load(), 1u);
  EXPECT_TRUE(f.queue.completed.empty());
  EXPECT_EQ(run_task(f.confirmation.handle(event)).kind, ConfirmOutcome::Kind::kDuplicate);
  EXPECT_EQ(f.store.outbox_count("PaymentRefundRequested"), 1u);
}

TEST(ConfirmationHandler, AnEventForAnOrderNotConfirmingIsIgnoredButRemembered) {
  Fixture f;
  f.hold({"A-1"});
  const auto order = f.ready({"A-1"}).order;
  const PaymentCompleted event{"ev-x", order.order_no, kMe, kSchedule, {"A-1"}, order.amount, f.clock.now()};
  EXPECT_EQ(run_task(f.confirmation.handle(event)).kind, ConfirmOutcome::Kind::kIgnored);
  EXPECT_EQ(f.status_of(order.order_no), OrderStatus::kReady);
  EXPECT_TRUE(f.store.processed.contains("ev-x"));
  EXPECT_EQ(run_task(f.confirmation.handle(event)).kind, ConfirmOutcome::Kind::kDuplicate);
}

TEST(ConfirmationHandler, AnEventForAnUnknownOrderFailsAndChangesNothing) {
  Fixture f;
  const PaymentCompleted event{"ev-x", "ORD-404", kMe, kSchedule, {"A-1"}, Money{100}, f.clock.now()};
  EXPECT_THROW(run_task(f.confirmation.handle(event)), std::runtime_error);
  EXPECT_FALSE(f.store.processed.contains("ev-x"));
}

TEST(ConfirmationHandler, ABatchSettlesEachEventLikeTheSinglePath) {
  Fixture f;
  const auto a = confirming_order(f, {"A-1"});
  const auto b = confirming_order(f, {"A-2", "A-3"}, kOther);
  f.events.events.clear();
  const auto done =
      run_task(f.confirmation.handle_batch({f.completed_event(a), f.completed_event(b), f.completed_event(a)}));
  EXPECT_EQ(done, (std::vector<bool>{true, true, true}));
  EXPECT_EQ(f.status_of(a), OrderStatus::kPaid);
  EXPECT_EQ(f.status_of(b), OrderStatus::kPaid);
  EXPECT_EQ(f.events.events, (std::vector<SeatChanged>{{kSchedule, {"A-1"}, SeatChange::kSold},
                                                       {kSchedule, {"A-2", "A-3"}, SeatChange::kSold}}));
  EXPECT_EQ(f.payments.counters().duplicates.load(), 1u);
}

TEST(ConfirmationHandler, ADatabaseOutageFailsTheEventWithoutSideEffects) {
  Fixture f;
  const auto order_no = confirming_order(f, {"A-1"});
  const auto event = f.completed_event(order_no);
  f.events.events.clear();
  f.store.fail_next = 1;
  EXPECT_THROW(run_task(f.confirmation.handle(event)), DependencyUnavailable);
  EXPECT_TRUE(f.events.events.empty());
  EXPECT_EQ(f.status_of(order_no), OrderStatus::kConfirming);
  EXPECT_EQ(run_task(f.confirmation.handle(event)).kind, ConfirmOutcome::Kind::kConfirmed);
}

// ---- reconciler -------------------------------------------------------------------------------

TEST(PaymentReconciler, SettlesConfirmingOrdersWhoseEventNeverArrivedOnceOldEnough) {
  Fixture f;
  const auto order_no = confirming_order(f, {"A-1"});
  const auto lost_event = f.completed_event(order_no);  // stuck in the outbox / dead-lettered
  f.clock.advance(minutes(2) - seconds(1));
  EXPECT_EQ(run_task(f.reconciler.run_once()), 0);
  EXPECT_EQ(f.status_of(order_no), OrderStatus::kConfirming);
  f.clock.advance(seconds(1));
  f.events.events.clear();
  EXPECT_EQ(run_task(f.reconciler.run_once()), 1);
  EXPECT_EQ(f.status_of(order_no), OrderStatus::kPaid);
  EXPECT_EQ(f.reconciler.reconciled(), 1u);
  EXPECT_EQ(f.events.events, (std::vector<SeatChanged>{{kSchedule, {"A-1"}, SeatChange::kSold}}));
  // The original event arrives after all: it finds the order settled and changes nothing.
  EXPECT_EQ(run_task(f.confirmation.handle(lost_event)).kind, ConfirmOutcome::Kind::kIgnored);
  EXPECT_EQ(f.events.events.size(), 1u);
  EXPECT_EQ(run_task(f.reconciler.run_once()), 0);
}

// ---- waiting for the settlement (GET /payment/{orderNo}?waitMs=) ------------------------------

namespace {

struct RecordedSettlements : OrderSettlementSink {
  void order_settled(const OrderSettled& settled) override { told.push_back(settled); }
  std::vector<OrderSettled> told;
};

// Stands in for the board: answers each wait with the next scripted result, after running `during`
// (what happens elsewhere while the caller waits).
struct ScriptedWaits : OrderSettlementWaits, OrderSettlementSink {
  // As the board: a settlement told here (the confirmations of this instance) forgets the order.
  void order_settled(const OrderSettled& settled) override { remembered.erase(settled.order_no); }
  Task<std::optional<OrderSettled>> wait_settled(const std::string& order_no,
                                                 std::chrono::milliseconds timeout) override {
    asked.emplace_back(order_no, timeout);
    if (during) during();
    std::optional<OrderSettled> next;
    if (!results.empty()) {
      next = results.front();
      results.erase(results.begin());
    }
    co_return next;
  }
  void remember_confirming(const PaymentOrder& order) override { remembered.insert_or_assign(order.order_no, order); }
  std::optional<PaymentOrder> confirming(const std::string& order_no) override {
    const auto it = remembered.find(order_no);
    if (it == remembered.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::optional<OrderSettled>> results;
  std::function<void()> during;
  std::vector<std::pair<std::string, std::chrono::milliseconds>> asked;
  std::map<std::string, PaymentOrder> remembered;
};

// A fixture whose PaymentService waits for settlements on `waits`.
struct WaitingFixture : Fixture {
  WaitingFixture() {
    payments.wait_for_settlements_on(waits, application::PaymentService::kFirstSettlementRecheck, true);
    confirmation.tell_settlements_to(waits);
  }
  ScriptedWaits waits;
};

}  // namespace

TEST(PaymentServiceReads, AWaitingReadAnswersWithTheSettlementItIsTold) {
  WaitingFixture f;
  auto& waits = f.waits;
  const auto order_no = confirming_order(f, {"A-1", "A-2"});
  waits.results.push_back(OrderSettled{order_no, OrderStatus::kPaid, std::nullopt});
  const auto order = run_task(f.payments.order(kMe, order_no, std::chrono::milliseconds(5000)));
  EXPECT_EQ(order.status, OrderStatus::kPaid);
  EXPECT_EQ(order.seat_nos, (std::vector<std::string>{"A-1", "A-2"}));  // the rest as remembered
  EXPECT_EQ(order.amount, Money{10000});
  ASSERT_EQ(waits.asked.size(), 1u);
  EXPECT_EQ(waits.asked[0].first, order_no);
  EXPECT_EQ(waits.asked[0].second, application::PaymentService::kFirstSettlementRecheck);  // one slice of 5 s
}

TEST(PaymentServiceReads, OnlyAConfirmingOrderIsWaitedFor) {
  WaitingFixture f;
  auto& waits = f.waits;
  f.hold({"A-1"});
  const auto ready = f.ready({"A-1"}, "ready-only").order;
  EXPECT_EQ(run_task(f.payments.order(kMe, ready.order_no, std::chrono::milliseconds(5000))).status,
            OrderStatus::kReady);
  const auto order_no = confirming_order(f, {"A-2"});
  EXPECT_EQ(run_task(f.payments.order(kMe, order_no)).status, OrderStatus::kConfirming);  // no wait asked
  run_task(f.confirmation.handle(f.completed_event(order_no)));
  EXPECT_EQ(run_task(f.payments.order(kMe, order_no, std::chrono::milliseconds(5000))).status, OrderStatus::kPaid);
  EXPECT_TRUE(waits.asked.empty());
}

TEST(PaymentServiceReads, SomeoneElsesOrderIsNotFoundWithoutWaiting) {
  WaitingFixture f;
  auto& waits = f.waits;
  const auto order_no = confirming_order(f, {"A-1"});
  EXPECT_EQ(code_of([&] { run_task(f.payments.order(kOther, order_no, std::chrono::milliseconds(5000))); }),
            ErrorCode::kNotFound);
  EXPECT_TRUE(waits.asked.empty());
}

TEST(PaymentServiceReads, AnOrderSettledElsewhereIsReadAgain) {
  WaitingFixture f;
  auto& waits = f.waits;
  const auto order_no = confirming_order(f, {"A-1"});
  // Another instance confirms it while this one waits, and this one is never told.
  application::ConfirmationHandler elsewhere{f.payments_db, f.queue, f.locks, f.clock, f.events, f.payments.counters()};
  waits.during = [&] { run_task(elsewhere.handle(f.completed_event(order_no))); };
  const auto order = run_task(f.payments.order(kMe, order_no, std::chrono::milliseconds(5000)));
  EXPECT_EQ(order.status, OrderStatus::kPaid);
  EXPECT_EQ(waits.asked.size(), 1u);
}

TEST(PaymentServiceReads, AWaitingReadOfAnOrderThisInstanceRecordedStartsWithoutReadingIt) {
  WaitingFixture f;
  auto& waits = f.waits;
  const auto order_no = confirming_order(f, {"A-1", "A-2"});
  ASSERT_TRUE(waits.remembered.contains(order_no));  // the callback's answer is remembered
  EXPECT_EQ(waits.remembered.at(order_no).status, OrderStatus::kConfirming);
  waits.results.push_back(OrderSettled{order_no, OrderStatus::kPaid, std::nullopt});
  const int reads_before = f.payments_db.order_reads;
  const auto order = run_task(f.payments.order(kMe, order_no, std::chrono::milliseconds(5000)));
  EXPECT_EQ(order.status, OrderStatus::kPaid);
  EXPECT_EQ(order.seat_nos, (std::vector<std::string>{"A-1", "A-2"}));
  EXPECT_EQ(order.amount, Money{10000});
  EXPECT_EQ(f.payments_db.order_reads, reads_before);  // answered without a database read

  // Another instance confirms it, and this one is never told: the wait's first slice ends
  // unheard, and the read after it answers.
  application::ConfirmationHandler elsewhere{f.payments_db, f.queue, f.locks, f.clock, f.events, f.payments.counters()};
  const auto other = confirming_order(f, {"A-3"});
  waits.during = [&] { run_task(elsewhere.handle(f.completed_event(other))); };
  EXPECT_EQ(run_task(f.payments.order(kMe, other, std::chrono::milliseconds(5000))).status, OrderStatus::kPaid);
  waits.during = nullptr;
  // Someone else asking is read (and not found) as before; a read that does not wait reads too.
  const int reads_after = f.payments_db.order_reads;
  EXPECT_EQ(code_of([&] { run_task(f.payments.order(kOther, other, std::chrono::milliseconds(5000))); }),
            ErrorCode::kNotFound);
  EXPECT_EQ(run_task(f.payments.order(kMe, order_no)).status, OrderStatus::kConfirming);  // as stored
  EXPECT_EQ(f.payments_db.order_reads, reads_after + 2);
}

TEST(PaymentServiceReads, ARememberedOrderIsNeverTheAnswerItself) {
  WaitingFixture f;
  auto& waits = f.waits;
  // Settled by another instance before the fan asks; this one still remembers it CONFIRMING.
  application::ConfirmationHandler elsewhere{f.payments_db, f.queue, f.locks, f.clock, f.events, f.payments.counters()};
  const auto order_no = confirming_order(f, {"A-1"});
  run_task(elsewhere.handle(f.completed_event(order_no)));
  ASSERT_TRUE(waits.remembered.contains(order_no));
  // A wait too short for its first slice: what the database says, not the copy.
  EXPECT_EQ(run_task(f.payments.order(kMe, order_no, std::chrono::milliseconds(1))).status, OrderStatus::kPaid);
}

TEST(PaymentServiceReads, ARepeatedCallbackIsNotRemembered) {
  WaitingFixture f;
  auto& waits = f.waits;
  const auto order_no = confirming_order(f, {"A-1"});
  // The gateway repeats its callback while the order is still CONFIRMING: the repeat's order was
  // read here, not written (another instance may settle it meanwhile), and is not remembered.
  waits.remembered.clear();
  const auto repeat = f.pay(order_no);
  EXPECT_EQ(repeat.kind, PaymentRecord::Kind::kAlreadyRecorded);
  EXPECT_EQ(repeat.order.status, OrderStatus::kConfirming);
  EXPECT_TRUE(waits.remembered.empty());
}

TEST(PaymentServiceReads, AnInstanceNeverToldOfSettlementsRemembersNothing) {
  Fixture f;
  ScriptedWaits waits;
  f.payments.wait_for_settlements_on(waits);  // role=api: the consumer runs elsewhere
  const auto order_no = confirming_order(f, {"A-1"});
  EXPECT_TRUE(waits.remembered.empty());
  const int reads_before = f.payments_db.order_reads;
  waits.results.push_back(OrderSettled{order_no, OrderStatus::kPaid, std::nullopt});
  EXPECT_EQ(run_task(f.payments.order(kMe, order_no, std::chrono::milliseconds(5000))).status, OrderStatus::kPaid);
  EXPECT_EQ(f.payments_db.order_reads, reads_before + 1);
}

TEST(ConfirmationHandler, TellsEachSettlementOnceAfterItsCommit) {
  Fixture f;
  RecordedSettlements told;
  f.confirmation.tell_settlements_to(told);
  const auto paid = confirming_order(f, {"A-1"});
  const auto event = f.completed_event(paid);
  run_task(f.confirmation.handle(event));
  run_task(f.confirmation.handle(event));  // a duplicate settles nothing
  ASSERT_EQ(told.told.size(), 1u);
  EXPECT_EQ(told.told[0].order_no, paid);
  EXPECT_EQ(told.told[0].status, OrderStatus::kPaid);
  EXPECT_FALSE(told.told[0].fail_reason);
  EXPECT_EQ(f.status_of(paid), OrderStatus::kPaid);  // told after the change, not before

  // An order that lost a hold is cancelled, and told so with its reason.
  const auto lost = confirming_order(f, {"A-2", "A-3"});
  const auto lost_event = f.completed_event(lost);
  f.store.reservation(f.live("A-3")->id).status = ReservationStatus::kExpired;
  run_task(f.confirmation.handle(lost_event));
  ASSERT_EQ(told.told.size(), 2u);
  EXPECT_EQ(told.told[1].status, OrderStatus::kCancelled);
  EXPECT_EQ(told.told[1].fail_reason, std::string("HOLD_EXPIRED"));
}
