#include "domain/booking_rules.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "domain/errors.hpp"

namespace ticketing::domain {

namespace {

const SeatRow* find_row(const std::vector<SeatRow>& rows, const std::string& seat) {
  for (const auto& row : rows) {
    if (row.seat_no == seat) return &row;
  }
  return nullptr;
}

bool in_payment(const std::optional<OrderRef>& order) {
  return order && (order->status == OrderStatus::kReady || order->status == OrderStatus::kConfirming);
}

}  // namespace

bool order_keeps_seats(const OrderRef& order, Timestamp now) noexcept {
  return order.status == OrderStatus::kConfirming || (order.status == OrderStatus::kReady && order.expires_at > now);
}

bool hold_is_stale(const SeatRow& row, Timestamp now) noexcept {
  return row.status == ReservationStatus::kHeld && row.expires_at <= now &&
         !(row.order && order_keeps_seats(*row.order, now));
}

HoldDecision decide_hold(const HoldInput& input) {
  HoldDecision decision;
  auto& outcome = decision.outcome;
  // A requested seat the user already holds (or bought) is counted in live_seats already: it is
  // taken (below), not one more seat over the limit.
  std::int64_t already_own = 0;
  for (const auto& seat : input.seats) {
    const SeatRow* row = find_row(input.live_rows, seat);
    if (row != nullptr && row->owner == input.user && !hold_is_stale(*row, input.now)) ++already_own;
  }
  if (input.live_seats + static_cast<std::int64_t>(input.seats.size()) - already_own > input.max_seats_per_user) {
    outcome.kind = HoldOutcome::Kind::kLimitExceeded;
    outcome.live_seats = input.live_seats;
    return decision;
  }
  std::vector<std::string> expired_seats;
  for (const auto& seat : input.seats) {
    const SeatRow* row = find_row(input.live_rows, seat);
    if (row == nullptr) continue;
    if (hold_is_stale(*row, input.now)) {
      decision.expire.push_back(row->id);
      expired_seats.push_back(seat);
    } else {
      outcome.taken_seats.push_back(seat);  // own seats too: a hold never extends itself
    }
  }
  if (!outcome.taken_seats.empty()) {
    outcome.kind = HoldOutcome::Kind::kSeatsTaken;
    decision.expire.clear();
    return decision;
  }
  outcome.kind = HoldOutcome::Kind::kHeld;
  decision.insert = input.seats;
  for (const auto& row : input.own_stale_rows) {
    if (row.owner != input.user || !hold_is_stale(row, input.now) ||
        find_row(input.live_rows, row.seat_no) != nullptr) {
      continue;  // not this user's, not stale, or already handled as a requested seat
    }
    decision.expire.push_back(row.id);
    expired_seats.push_back(row.seat_no);
  }
  if (!expired_seats.empty())
    outcome.events.push_back({input.schedule, std::move(expired_seats), SeatChange::kExpired});
  outcome.events.push_back({input.schedule, input.seats, SeatChange::kHeld});
  return decision;
}

ReleaseDecision decide_release(const ReleaseInput& input) {
  ReleaseDecision decision;
  std::vector<std::string> other_owner, paying, sold, not_held;
  std::vector<ReservationId> cancel;
  for (const auto& seat : input.seats) {
    const SeatRow* row = find_row(input.live_rows, seat);
    if (row == nullptr || hold_is_stale(*row, input.now)) {
      not_held.push_back(seat);
    } else if (row->owner != input.user && row->status == ReservationStatus::kConfirmed) {
      sold.push_back(seat);  // someone else's sale is not a hold (403 is for holds): sold, as the map says
    } else if (row->owner != input.user) {
      other_owner.push_back(seat);
    } else if (in_payment(row->order)) {
      paying.push_back(seat);
    } else if (row->status == ReservationStatus::kConfirmed) {
      sold.push_back(seat);
    } else {
      cancel.push_back(row->id);
    }
  }
  auto& outcome = decision.outcome;
  if (!other_owner.empty()) {
    outcome = {ReleaseOutcome::Kind::kOtherOwner, std::move(other_owner), {}};
  } else if (!paying.empty()) {
    outcome = {ReleaseOutcome::Kind::kInPayment, std::move(paying), {}};
  } else if (!sold.empty()) {
    outcome = {ReleaseOutcome::Kind::kSold, std::move(sold), {}};
  } else if (!not_held.empty()) {
    outcome = {ReleaseOutcome::Kind::kNotHeld, std::move(not_held), {}};
  } else {
    outcome = {ReleaseOutcome::Kind::kReleased, input.seats, {{input.schedule, input.seats, SeatChange::kReleased}}};
    decision.cancel = std::move(cancel);
  }
  return decision;
}

ReadyDecision decide_ready(const ReadyInput& input) {
  ReadyDecision decision;
  auto& outcome = decision.outcome;
  const auto& request = input.request;
  if (input.keyed) {
    if (input.keyed->fingerprint != request.fingerprint) {
      outcome.kind = ReadyOutcome::Kind::kKeyReused;
      return decision;
    }
    // Same key, same request: the order as it was created (its response is rebuilt byte for byte).
    outcome.kind = ReadyOutcome::Kind::kReplayed;
    outcome.order = input.keyed->order;
    outcome.order.status = OrderStatus::kReady;
    outcome.order.fail_reason.reset();
    outcome.order.seat_nos = request.seat_nos;
    decision.commit = true;
    return decision;
  }
  std::vector<std::string> not_held, others, paying, unknown;
  Money amount;
  std::optional<Timestamp> first_hold;
  std::vector<ReservationId> link;
  const std::set<std::string> unknown_set(input.unknown_seats.begin(), input.unknown_seats.end());
  for (const auto& seat : request.seat_nos) {
    const auto it = std::find_if(input.held.begin(), input.held.end(),
                                 [&](const HeldSeatRow& held) { return held.row.seat_no == seat; });
    const bool live_hold =
        it != input.held.end() && it->row.status == ReservationStatus::kHeld && !hold_is_stale(it->row, input.now);
    if (live_hold && it->row.owner != request.user) {
      others.push_back(seat);  // someone else's hold, in an order or not (a sold seat is "not held")
      continue;
    }
    if (!live_hold) {
      not_held.push_back(seat);
      if (unknown_set.contains(seat)) unknown.push_back(seat);
      continue;
    }
    if (in_payment(it->row.order)) paying.push_back(seat);
    amount += it->price;
    if (!first_hold || it->row.created_at < *first_hold) first_hold = it->row.created_at;
    link.push_back(it->row.id);
  }
  if (!unknown.empty()) {
    outcome.kind = ReadyOutcome::Kind::kSeatsUnknown;  // a 404, not "not held"
    outcome.seats = std::move(unknown);
  } else if (!others.empty()) {
    outcome.kind = ReadyOutcome::Kind::kSeatsHeldByOthers;
    outcome.seats = std::move(others);
  } else if (!paying.empty()) {
    outcome.kind = ReadyOutcome::Kind::kSeatsInPayment;
    outcome.seats = std::move(paying);
  } else if (!not_held.empty()) {
    outcome.kind = ReadyOutcome::Kind::kSeatsNotHeld;
    outcome.seats = std::move(not_held);
  } else {
    outcome.kind = ReadyOutcome::Kind::kCreated;
    PaymentOrder& order = outcome.order;
    order.order_no = input.new_order_no;
    order.user = request.user;
    order.schedule = request.schedule;
    order.amount = amount;
    order.status = OrderStatus::kReady;
    order.created_at = input.now;
    // The order lasts payment.order-ttl, but no seat stays held more than hold.max-total in all.
    order.expires_at = std::min(input.order_expires_at, *first_hold + request.hold_max_total);
    order.seat_nos = request.seat_nos;
    order.slot_token_issued_at = request.slot_token_issued_at;
    decision.link = std::move(link);
    decision.commit = true;
  }
  return decision;
}

GatewayDecision on_gateway_success(const std::optional<OrderState>& state, Timestamp now) {
  GatewayDecision decision;
  auto& record = decision.record;
  if (!state) {
    record.kind = PaymentRecord::Kind::kNotFound;
    return decision;
  }
  record.order = state->order;
  PaymentOrder& order = record.order;
  if (order.status == OrderStatus::kReady && order.expires_at <= now) {
    // Paid after the order expired (the expiry job has not cancelled it yet): its seats may already
    // be someone else's. It ends as any cancelled order paid late does: CANCELLED with a refund.
    order.status = OrderStatus::kCancelled;
    order.fail_reason = std::string(kOrderExpired);
    decision.write_order = true;
    decision.paid_at = now;
    decision.refund_reason = std::string(kOrderExpired);
    record.kind = PaymentRecord::Kind::kRefundRequested;
  } else if (order.status == OrderStatus::kReady) {
    order.status = OrderStatus::kConfirming;
    decision.write_order = true;
    decision.paid_at = now;
    decision.emit_payment_completed = true;
    record.kind = PaymentRecord::Kind::kRecorded;
  } else if (order.status == OrderStatus::kCancelled && !state->paid_at) {
    // The gateway took money for an order already cancelled: never lose it — refund.
    decision.write_order = true;
    decision.paid_at = now;
    decision.refund_reason = order.fail_reason.value_or("ORDER_CANCELLED");
    record.kind = PaymentRecord::Kind::kRefundRequested;
  } else {
    record.kind = PaymentRecord::Kind::kAlreadyRecorded;  // nothing written
  }
  return decision;
}

std::optional<std::string> payment_event_mismatch(const PaymentCompleted& event, const PaymentOrder& order) {
  if (event.order_no != order.order_no) return "another order number";
  if (event.user != order.user) return "another user";
  if (event.schedule != order.schedule) return "another schedule";
  if (event.amount != order.amount) return "another amount";
  auto event_seats = event.seat_nos;
  auto order_seats = order.seat_nos;
  std::sort(event_seats.begin(), event_seats.end());
  std::sort(order_seats.begin(), order_seats.end());
  if (event_seats != order_seats) return "other seats";
  return std::nullopt;
}

ConfirmationDecision decide_confirmation(const ConfirmationInput& input) {
  ConfirmationDecision decision;
  auto& outcome = decision.outcome;
  if (input.already_processed) {
    outcome.kind = ConfirmOutcome::Kind::kDuplicate;  // delivered before: no second effect
    return decision;
  }
  if (input.order == nullptr || input.event == nullptr) {
    throw std::invalid_argument("decide_confirmation: an unprocessed event needs its event and its order");
  }
  if (const auto why = payment_event_mismatch(*input.event, *input.order)) {
    throw DomainError(ErrorCode::kUndecodableEvent, "PaymentCompleted " + input.event->event_id +
                                                        " is not the payment of order " + input.order->order_no + ": " +
                                                        *why);
  }
  decision.record_processed = true;
  outcome.order = *input.order;
  if (outcome.order.status != OrderStatus::kConfirming) {
    outcome.kind = ConfirmOutcome::Kind::kIgnored;  // settled another way; remembered as processed
    return decision;
  }
  std::vector<std::string> seats;
  std::vector<ReservationId> ids;
  for (const auto& row : input.live_holds) {
    if (row.status != ReservationStatus::kHeld) continue;
    ids.push_back(row.id);
    seats.push_back(row.seat_no);
  }
  if (!ids.empty() && ids.size() == input.event->seat_nos.size()) {
    outcome.kind = ConfirmOutcome::Kind::kConfirmed;
    outcome.order.status = OrderStatus::kPaid;
    outcome.events.push_back({outcome.order.schedule, std::move(seats), SeatChange::kSold});
    decision.confirm = std::move(ids);
    return decision;
  }
  // Some of the order's seats are no longer its live holds: cancelled, what is left of its holds
  // released, the money refunded.
  outcome.kind = ConfirmOutcome::Kind::kCancelled;
  outcome.order.status = OrderStatus::kCancelled;
  outcome.order.fail_reason = std::string(kHoldExpired);
  if (!seats.empty()) outcome.events.push_back({outcome.order.schedule, std::move(seats), SeatChange::kCancelled});
  decision.cancel = std::move(ids);
  decision.refund_reason = std::string(kHoldExpired);
  return decision;
}

ExpiryDecision decide_expiry(const ExpiryInput& input) {
  ExpiryDecision decision;
  decision.cancel_order_expired = input.expired_ready_orders;
  const std::set<std::int64_t> order_expired(input.expired_ready_orders.begin(), input.expired_ready_orders.end());
  std::set<std::int64_t> hold_expired;
  std::vector<std::pair<ScheduleId, std::vector<std::string>>> per_schedule;
  for (const auto& row : input.held_rows) {
    if (!hold_is_stale(row, input.now)) continue;
    decision.expire.push_back(row.id);
    auto it = std::find_if(per_schedule.begin(), per_schedule.end(),
                           [&](const auto& entry) { return entry.first == row.schedule; });
    if (it == per_schedule.end()) it = per_schedule.insert(per_schedule.end(), {row.schedule, {}});
    it->second.push_back(row.seat_no);
    if (row.order && row.order->status == OrderStatus::kReady && !order_expired.contains(row.order->id) &&
        hold_expired.insert(row.order->id).second) {
      decision.cancel_hold_expired.push_back(row.order->id);
    }
  }
  for (auto& [schedule, seats] : per_schedule)
    decision.events.push_back({schedule, std::move(seats), SeatChange::kExpired});
  return decision;
}

RefundDecision decide_refund(const RefundInput& input) {
  RefundDecision decision;
  if (!input.order) {
    decision.kind = RefundDecision::Kind::kNotFound;
    return decision;
  }
  const auto& order = *input.order;
  if (order.status == OrderStatus::kCancelled && order.fail_reason == kRefundedByOperator) {
    decision.kind = RefundDecision::Kind::kAlreadyRefunded;
    return decision;
  }
  if (order.status != OrderStatus::kPaid) {
    decision.kind = RefundDecision::Kind::kNotPaid;
    return decision;
  }
  decision.kind = RefundDecision::Kind::kRefunded;
  decision.request_refund = true;
  SeatChanged refunded{order.schedule, {}, SeatChange::kRefunded};
  for (const auto& row : input.live_rows) {
    decision.cancel.push_back(row.id);
    refunded.seat_nos.push_back(row.seat_no);
  }
  if (!refunded.seat_nos.empty()) decision.events.push_back(std::move(refunded));
  return decision;
}

}  // namespace ticketing::domain
