#pragma once
// In-memory fakes of the booking ports that behave like the real store:
//  - FakeReservationRepository / FakePaymentRepository keep reservation rows, orders, processed
//    event ids and an outbox in a BookingStore, load the rows a transaction would lock, call the
//    same domain rules (domain/booking_rules.hpp) and apply the writes they return — like the
//    MySQL adapters, one "transaction" per call.
//  - FakeSeatLockStore follows the Lua scripts of infra/redis/redis_seat_lock_store.cpp: an
//    all-or-nothing SET NX PX per seat, a lock the caller already owns is left as it is (no
//    self-extension) and not reported as taken, compare-and-delete release, sold = no expiry.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/booking_rules.hpp"
#include "domain/errors.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/payment_repository.hpp"
#include "domain/ports/queue_store.hpp"
#include "domain/ports/reservation_repository.hpp"
#include "domain/ports/seat_events.hpp"
#include "domain/ports/seat_lock_store.hpp"
#include "domain/ports/token_service.hpp"

namespace ticketing::testing {

using namespace std::chrono_literals;

inline const domain::Timestamp kStart{std::chrono::hours(500000)};

class ManualClock final : public domain::Clock {
 public:
  domain::Timestamp now() const override { return now_; }
  void advance(std::chrono::milliseconds by) { now_ += by; }
  void set(domain::Timestamp t) { now_ = t; }

 private:
  domain::Timestamp now_ = kStart;
};

// Tokens "user:schedule" (e.g. "1:7") admit that user for that schedule; anything else is malformed.
class FakeTokens final : public domain::TokenService {
 public:
  std::string issue(const domain::AdmissionClaims& claims) const override {
    return std::to_string(claims.user.value) + ":" + std::to_string(claims.schedule.value);
  }
  domain::TokenCheck verify(std::string_view token, domain::Timestamp) const override {
    const auto colon = token.find(':');
    if (colon == std::string_view::npos) return {};
    const auto user = domain::parse_canonical_id(token.substr(0, colon));
    const auto schedule = domain::parse_canonical_id(token.substr(colon + 1));
    if (!user || !schedule) return {};
    return {domain::AdmissionClaims{domain::UserId{*user}, domain::ScheduleId{*schedule}, issued_at, issued_at + 1h},
            domain::TokenProblem::kMalformed};
  }
  domain::Timestamp issued_at = kStart - 1min;
};

// Every admitted user keeps the slot; completed purchases are recorded.
class FakeQueueStore final : public domain::QueueStore {
 public:
  Task<domain::QueuePlace> enter(domain::ScheduleId, domain::UserId, domain::Timestamp,
                                 const domain::EnterGate&) override {
    co_return domain::QueuePlace{};
  }
  Task<std::optional<domain::QueuePlace>> status(domain::ScheduleId, domain::UserId, domain::Timestamp) override {
    co_return std::nullopt;
  }
  Task<bool> leave(domain::ScheduleId, domain::UserId, domain::Timestamp) override { co_return true; }
  Task<bool> touch_active(domain::ScheduleId, domain::UserId, domain::Timestamp, domain::Timestamp,
                          bool extend) override {
    if (down) throw domain::DependencyUnavailable("redis", "down");
    (extend ? extended : looked_at) += 1;
    co_return live;
  }
  Task<bool> complete_slot(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp,
                           domain::Timestamp slot_token_issued_at) override {
    if (complete_down) throw domain::DependencyUnavailable("redis", "unreachable");
    completed.push_back({schedule, user, slot_token_issued_at});
    co_return true;
  }
  Task<domain::AdmissionRound> admit(domain::ScheduleId, domain::Timestamp) override {
    co_return domain::AdmissionRound{};
  }
  Task<std::vector<domain::ScheduleId>> queued_schedules() override { co_return std::vector<domain::ScheduleId>{}; }
  Task<void> apply_controls(domain::ScheduleId, const domain::QueueControls&) override { co_return; }
  Task<domain::QueueSnapshot> snapshot(domain::ScheduleId) override { co_return domain::QueueSnapshot{}; }

  struct Completion {
    domain::ScheduleId schedule;
    domain::UserId user;
    domain::Timestamp slot_token_issued_at;
  };
  std::vector<Completion> completed;
  bool down = false;
  bool live = true;            // the slot's state as touch_active answers it
  bool complete_down = false;  // complete_slot fails as with Redis unreachable
  int extended = 0;            // touch_active calls that extended the slot
  int looked_at = 0;           // touch_active calls that only checked it
};

// The Redis seat locks, as the Lua scripts handle them.
class FakeSeatLockStore final : public domain::SeatLockStore {
 public:
  explicit FakeSeatLockStore(const domain::Clock& clock) : clock_(clock) {}

  struct Lock {
    domain::UserId owner;
    std::optional<domain::Timestamp> expires_at;  // nullopt: sold, never expires
  };

  Task<domain::SeatLockResult> lock(domain::ScheduleId schedule, domain::UserId user,
                                    const std::vector<std::string>& seats, std::chrono::milliseconds ttl) override {
    if (down) throw domain::DependencyUnavailable("redis", "down");
    ++lock_calls;
    if (times_out_after_locking) {
      // As a timed-out script call Redis still runs: the locks are set, the caller hears nothing.
      times_out_after_locking = false;
      for (const auto& seat : seats) {
        if (live(schedule, seat) == nullptr) locks_[{schedule.value, seat}] = Lock{user, clock_.now() + ttl};
      }
      throw domain::DependencyUnavailable("redis", "timed out");
    }
    domain::SeatLockResult result;
    bool others = false;
    for (const auto& seat : seats) {
      if (const auto* lock = live(schedule, seat)) {
        result.conflicts.push_back(seat);
        if (lock->owner != user) others = true;
      }
    }
    if (others) co_return result;  // {0, conflicts}
    result.conflicts.clear();      // {1, taken}: the caller's own locks are neither conflicts nor taken
    for (const auto& seat : seats) {
      if (live(schedule, seat) == nullptr) {  // SET NX PX
        locks_[{schedule.value, seat}] = Lock{user, clock_.now() + ttl};
        result.taken.push_back(seat);
      }
    }
    co_return result;
  }
  Task<void> unlock(domain::ScheduleId schedule, domain::UserId user, const std::vector<std::string>& seats) override {
    if (down) throw domain::DependencyUnavailable("redis", "down");
    for (const auto& seat : seats) {
      if (const auto* lock = live(schedule, seat); lock != nullptr && lock->owner == user) {
        locks_.erase({schedule.value, seat});
      }
    }
    co_return;
  }
  Task<void> mark_sold(domain::ScheduleId schedule, domain::UserId user,
                       const std::vector<std::string>& seats) override {
    if (down) throw domain::DependencyUnavailable("redis", "down");
    for (const auto& seat : seats) {  // PERSIST of the buyer's own lock only
      if (const auto* lock = live(schedule, seat); lock != nullptr && lock->owner == user) {
        locks_[{schedule.value, seat}].expires_at = std::nullopt;
      }
    }
    co_return;
  }

  Task<void> renew_for_new_hold(domain::ScheduleId schedule, domain::UserId user, const std::vector<std::string>& seats,
                                std::chrono::milliseconds ttl) override {
    if (down) throw domain::DependencyUnavailable("redis", "down");
    ++renew_calls;
    for (const auto& seat : seats) {
      const auto* lock = live(schedule, seat);
      if (lock == nullptr || lock->owner == user) locks_[{schedule.value, seat}] = Lock{user, clock_.now() + ttl};
    }
    co_return;
  }
  int renew_calls = 0;

  Task<void> extend_for_order(domain::ScheduleId schedule, domain::UserId user, const std::vector<std::string>& seats,
                              domain::Timestamp until) override {
    if (down) throw domain::DependencyUnavailable("redis", "down");
    ++order_calls;
    for (const auto& seat : seats) {
      const auto* lock = live(schedule, seat);
      if (lock == nullptr) {
        locks_[{schedule.value, seat}] = Lock{user, until};  // SET NX PXAT
      } else if (lock->owner == user && lock->expires_at && *lock->expires_at < until) {
        locks_[{schedule.value, seat}].expires_at = until;  // PEXPIREAT GT
      }
    }
    co_return;
  }

  // The live lock of a seat (nullopt when none or expired).
  std::optional<Lock> lock_of(domain::ScheduleId schedule, const std::string& seat) const {
    const auto* lock = live(schedule, seat);
    return lock ? std::optional<Lock>(*lock) : std::nullopt;
  }
  void flush() { locks_.clear(); }  // FLUSHALL / a Redis restart
  void drop(domain::ScheduleId schedule, const std::string& seat) { locks_.erase({schedule.value, seat}); }  // evicted

  bool down = false;
  int lock_calls = 0;
  bool times_out_after_locking = false;  // the next lock() sets its locks, then throws a timeout
  int order_calls = 0;

 private:
  const Lock* live(domain::ScheduleId schedule, const std::string& seat) const {
    const auto it = locks_.find({schedule.value, seat});
    if (it == locks_.end()) return nullptr;
    if (it->second.expires_at && *it->second.expires_at <= clock_.now()) return nullptr;  // PX elapsed
    return &it->second;
  }

  const domain::Clock& clock_;
  std::map<std::pair<std::int64_t, std::string>, Lock> locks_;
};

// The database: seats, reservation rows, orders, processed events, outbox.
struct BookingStore {
  struct Reservation {
    domain::ReservationId id;
    domain::UserId user;
    domain::ScheduleId schedule;
    std::string seat_no;
    domain::ReservationStatus status = domain::ReservationStatus::kHeld;
    domain::Timestamp expires_at;
    domain::Timestamp created_at;
    std::optional<std::int64_t> order_id;
    bool active() const {
      return status == domain::ReservationStatus::kHeld || status == domain::ReservationStatus::kConfirmed;
    }
  };
  struct Order {
    domain::PaymentOrder order;  // seat_nos filled from the linked rows on read
    std::string idempotency_key;
    std::string fingerprint;
    std::optional<domain::Timestamp> paid_at;
  };
  struct OutboxEvent {
    std::string type;  // PaymentCompleted | RefundRequested
    std::string event_id;
    std::string order_no;
    std::string reason;                 // RefundRequested
    std::vector<std::string> seat_nos;  // PaymentCompleted
  };

  void add_seats(domain::ScheduleId schedule, const std::vector<std::string>& seats, domain::Money price) {
    for (const auto& seat : seats) prices[{schedule.value, seat}] = price;
  }

  std::optional<domain::OrderRef> order_ref(const std::optional<std::int64_t>& order_id) const {
    if (!order_id) return std::nullopt;
    const auto& o = orders.at(static_cast<std::size_t>(*order_id - 1)).order;
    return domain::OrderRef{o.id, o.status, o.expires_at};
  }
  domain::SeatRow seat_row(const Reservation& r) const {
    return domain::SeatRow{r.id,     r.schedule,   r.seat_no,    r.user,
                           r.status, r.expires_at, r.created_at, order_ref(r.order_id)};
  }
  Reservation& reservation(domain::ReservationId id) { return reservations.at(static_cast<std::size_t>(id.value - 1)); }
  const Reservation* live_row(domain::ScheduleId schedule, const std::string& seat) const {
    for (const auto& r : reservations) {
      if (r.active() && r.schedule == schedule && r.seat_no == seat) return &r;
    }
    return nullptr;
  }
  Order* order_by_no(const std::string& order_no) {
    for (auto& o : orders) {
      if (o.order.order_no == order_no) return &o;
    }
    return nullptr;
  }
  domain::PaymentOrder with_seats(const Order& o) const {
    auto order = o.order;
    order.seat_nos.clear();
    for (const auto& r : reservations) {
      if (r.order_id == o.order.id) order.seat_nos.push_back(r.seat_no);
    }
    std::sort(order.seat_nos.begin(), order.seat_nos.end());
    return order;
  }
  std::string next_event_id() { return "ev-" + std::to_string(++events_issued); }
  void refund(const domain::PaymentOrder& order, const std::string& reason) {
    outbox.push_back({"PaymentRefundRequested", next_event_id(), order.order_no, reason, {}});
  }
  std::size_t outbox_count(const std::string& type) const {
    return static_cast<std::size_t>(
        std::count_if(outbox.begin(), outbox.end(), [&](const OutboxEvent& e) { return e.type == type; }));
  }
  // Throws like a database that is down, once per armed failure, before anything is written.
  void maybe_fail() {
    if (fail_next > 0) {
      --fail_next;
      throw domain::DependencyUnavailable("database", "down");
    }
  }

  std::map<std::pair<std::int64_t, std::string>, domain::Money> prices;
  std::vector<Reservation> reservations;  // id = index + 1
  std::vector<Order> orders;              // id = index + 1
  std::set<std::string> processed;
  std::vector<OutboxEvent> outbox;
  int events_issued = 0;
  int orders_issued = 0;
  int fail_next = 0;
};

class FakeReservationRepository final : public domain::ReservationRepository {
 public:
  explicit FakeReservationRepository(BookingStore& store) : store_(store) {}

  Task<std::vector<std::string>> missing_seats(domain::ScheduleId schedule,
                                               const std::vector<std::string>& seats) override {
    std::vector<std::string> missing;
    for (const auto& seat : seats) {
      if (!store_.prices.contains({schedule.value, seat})) missing.push_back(seat);
    }
    co_return missing;
  }

  Task<domain::HoldOutcome> hold(domain::ScheduleId schedule, domain::UserId user,
                                 const std::vector<std::string>& seats, domain::Timestamp now,
                                 domain::Timestamp expires_at, int max_seats_per_user) override {
    store_.maybe_fail();
    ++hold_calls;
    if (before_hold) before_hold();  // what a parallel request does meanwhile
    domain::HoldInput input{user, schedule, seats, now, expires_at, max_seats_per_user, 0, {}};
    for (const auto& r : store_.reservations) {
      if (!r.active() || r.user != user || r.schedule != schedule) continue;
      if (!domain::hold_is_stale(store_.seat_row(r), now)) ++input.live_seats;
    }
    for (const auto& seat : seats) {
      if (const auto* r = store_.live_row(schedule, seat)) input.live_rows.push_back(store_.seat_row(*r));
    }
    auto decision = domain::decide_hold(input);
    for (const auto id : decision.expire) store_.reservation(id).status = domain::ReservationStatus::kExpired;
    for (const auto& seat : decision.insert) {
      const domain::ReservationId id{static_cast<std::int64_t>(store_.reservations.size()) + 1};
      store_.reservations.push_back(
          {id, user, schedule, seat, domain::ReservationStatus::kHeld, expires_at, now, std::nullopt});
      decision.outcome.seats.push_back({id, seat});
    }
    co_return decision.outcome;
  }

  Task<domain::ReleaseOutcome> release(domain::ScheduleId schedule, domain::UserId user,
                                       const std::vector<std::string>& seats, domain::Timestamp now) override {
    store_.maybe_fail();
    domain::ReleaseInput input{user, schedule, seats, now, {}};
    for (const auto& seat : seats) {
      if (const auto* r = store_.live_row(schedule, seat)) input.live_rows.push_back(store_.seat_row(*r));
    }
    auto decision = domain::decide_release(input);
    for (const auto id : decision.cancel) store_.reservation(id).status = domain::ReservationStatus::kCancelled;
    co_return decision.outcome;
  }

  Task<domain::ExpiryOutcome> expire_holds(domain::Timestamp now, int batch) override {
    store_.maybe_fail();
    domain::ExpiryInput input{now, {}, {}};
    for (const auto& o : store_.orders) {
      if (static_cast<int>(input.expired_ready_orders.size()) == batch) break;
      if (o.order.status == domain::OrderStatus::kReady && o.order.expires_at <= now) {
        input.expired_ready_orders.push_back(o.order.id);
      }
    }
    for (const auto& r : store_.reservations) {
      if (static_cast<int>(input.held_rows.size()) == batch) break;
      // What the SELECT ... FOR UPDATE SKIP LOCKED loads: HELD rows past expiry that may go.
      if (r.status == domain::ReservationStatus::kHeld && domain::hold_is_stale(store_.seat_row(r), now)) {
        input.held_rows.push_back(store_.seat_row(r));
      }
    }
    const auto decision = domain::decide_expiry(input);
    domain::ExpiryOutcome outcome;
    for (const auto id : decision.cancel_order_expired) cancel(id, std::string(domain::kOrderExpired), outcome);
    for (const auto id : decision.expire) store_.reservation(id).status = domain::ReservationStatus::kExpired;
    for (const auto id : decision.cancel_hold_expired) cancel(id, std::string(domain::kHoldExpired), outcome);
    outcome.expired = static_cast<std::int64_t>(decision.expire.size());
    outcome.events = decision.events;
    co_return outcome;
  }

  int hold_calls = 0;
  std::function<void()> before_hold;

 private:
  void cancel(std::int64_t order_id, std::string reason, domain::ExpiryOutcome& outcome) {
    auto& o = store_.orders.at(static_cast<std::size_t>(order_id - 1)).order;
    if (o.status != domain::OrderStatus::kReady) return;
    o.status = domain::OrderStatus::kCancelled;
    o.fail_reason = std::move(reason);
    ++outcome.orders_cancelled;
  }

  BookingStore& store_;
};

class FakePaymentRepository final : public domain::PaymentRepository {
 public:
  explicit FakePaymentRepository(BookingStore& store) : store_(store) {}

  int order_reads = 0;  // find_order calls

  Task<domain::ReadyOutcome> create_ready_order(const domain::ReadyRequest& request, domain::Timestamp now,
                                                domain::Timestamp expires_at) override {
    store_.maybe_fail();
    domain::ReadyInput input{request,        now, expires_at, "ORD-" + std::to_string(store_.orders_issued + 1),
                             keyed(request), {},  {}};
    if (!input.keyed) {
      for (const auto& seat : request.seat_nos) {
        const auto price = store_.prices.find({request.schedule.value, seat});
        if (price == store_.prices.end()) {
          input.unknown_seats.push_back(seat);
          continue;
        }
        const auto* r = store_.live_row(request.schedule, seat);
        if (r != nullptr) input.held.push_back({store_.seat_row(*r), price->second});
      }
    }
    auto decision = domain::decide_ready(input);
    if (decision.outcome.kind != domain::ReadyOutcome::Kind::kCreated) co_return decision.outcome;
    ++store_.orders_issued;
    auto& order = decision.outcome.order;
    order.id = static_cast<std::int64_t>(store_.orders.size()) + 1;
    store_.orders.push_back({order, request.idempotency_key, request.fingerprint, std::nullopt});
    for (const auto id : decision.link) {
      auto& r = store_.reservation(id);
      r.order_id = order.id;
      r.expires_at = std::max(r.expires_at, order.expires_at);
    }
    co_return decision.outcome;
  }

  Task<domain::PaymentRecord> record_payment(const std::string& order_no, domain::Timestamp now) override {
    store_.maybe_fail();
    auto* stored = store_.order_by_no(order_no);
    std::optional<domain::OrderState> state;
    if (stored != nullptr) state = domain::OrderState{store_.with_seats(*stored), stored->paid_at};
    const auto decision = domain::on_gateway_success(state, now);
    if (decision.write_order) {
      stored->order.status = decision.record.order.status;
      stored->order.fail_reason = decision.record.order.fail_reason;
      stored->paid_at = decision.paid_at;
    }
    if (decision.emit_payment_completed) {
      store_.outbox.push_back(
          {"PaymentCompleted", store_.next_event_id(), order_no, "", decision.record.order.seat_nos});
    }
    if (decision.refund_reason) store_.refund(decision.record.order, *decision.refund_reason);
    co_return decision.record;
  }

  Task<std::optional<domain::PaymentOrder>> find_order(const std::string& order_no) override {
    ++order_reads;
    const auto* stored = store_.order_by_no(order_no);
    if (stored == nullptr) co_return std::nullopt;
    co_return store_.with_seats(*stored);
  }

  Task<std::vector<domain::ReservationView>> reservations_of(domain::UserId user) override {
    std::vector<domain::ReservationView> views;
    for (const auto& r : store_.reservations) {
      if (r.user != user) continue;
      std::optional<std::string> order_no;
      if (r.order_id) order_no = store_.orders.at(static_cast<std::size_t>(*r.order_id - 1)).order.order_no;
      views.push_back({r.id, r.schedule, r.seat_no, r.status, r.expires_at, order_no, r.created_at});
    }
    co_return views;
  }

  Task<std::vector<domain::PaymentCompleted>> unsettled_payments(domain::Timestamp paid_before, int limit) override {
    std::vector<const BookingStore::Order*> due;
    for (const auto& o : store_.orders) {
      if (o.order.status == domain::OrderStatus::kConfirming && o.paid_at && *o.paid_at <= paid_before)
        due.push_back(&o);
    }
    std::sort(due.begin(), due.end(), [](const auto* a, const auto* b) { return *a->paid_at < *b->paid_at; });
    std::vector<domain::PaymentCompleted> events;
    for (const auto* o : due) {
      if (static_cast<int>(events.size()) == limit) break;
      const auto order = store_.with_seats(*o);
      events.push_back({store_.next_event_id(), order.order_no, order.user, order.schedule, order.seat_nos,
                        order.amount, *o->paid_at});
    }
    co_return events;
  }

  Task<std::vector<domain::PaymentOrder>> orders_of(domain::UserId user, int limit) override {
    std::vector<domain::PaymentOrder> out;
    for (auto it = store_.orders.rbegin(); it != store_.orders.rend() && static_cast<int>(out.size()) < limit; ++it) {
      if (it->order.user == user) out.push_back(store_.with_seats(*it));
    }
    co_return out;
  }

  Task<domain::ConfirmOutcome> confirm_payment(const domain::PaymentCompleted& event, domain::Timestamp) override {
    store_.maybe_fail();
    ++confirm_calls;
    domain::ConfirmationInput input{&event, store_.processed.contains(event.event_id), nullptr, {}};
    domain::PaymentOrder order;
    if (!input.already_processed) {
      auto* stored = store_.order_by_no(event.order_no);
      if (stored == nullptr) throw std::runtime_error("PaymentCompleted for unknown order " + event.order_no);
      order = stored->order;
      input.order = &order;
      // As the repository: every row the order was made from, the live ones as its holds.
      order.seat_nos.clear();
      for (const auto& r : store_.reservations) {
        if (r.order_id != order.id) continue;
        order.seat_nos.push_back(r.seat_no);
        if (r.status == domain::ReservationStatus::kHeld) input.live_holds.push_back(store_.seat_row(r));
      }
    }
    const auto decision = domain::decide_confirmation(input);
    if (decision.record_processed) store_.processed.insert(event.event_id);
    for (const auto id : decision.confirm) store_.reservation(id).status = domain::ReservationStatus::kConfirmed;
    for (const auto id : decision.cancel) store_.reservation(id).status = domain::ReservationStatus::kCancelled;
    if (!decision.confirm.empty() || decision.refund_reason) {
      auto& stored = *store_.order_by_no(event.order_no);
      stored.order.status = decision.outcome.order.status;
      stored.order.fail_reason = decision.outcome.order.fail_reason;
    }
    if (decision.refund_reason) store_.refund(decision.outcome.order, *decision.refund_reason);
    co_return decision.outcome;
  }

  int confirm_calls = 0;

 private:
  std::optional<domain::KeyedOrder> keyed(const domain::ReadyRequest& request) const {
    for (const auto& o : store_.orders) {
      if (o.order.user == request.user && o.idempotency_key == request.idempotency_key) {
        return domain::KeyedOrder{o.fingerprint, store_.with_seats(o)};
      }
    }
    return std::nullopt;
  }

  BookingStore& store_;
};

// Records every seat change it is handed.
class RecordingSeatEvents final : public domain::SeatEventSink {
 public:
  void seat_changed(const domain::SeatChanged& change) override { events.push_back(change); }
  std::vector<domain::SeatChanged> events;
};

}  // namespace ticketing::testing
