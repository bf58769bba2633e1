#include "application/payment_service.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "application/seat_events.hpp"
#include "domain/errors.hpp"
#include "domain/reservation.hpp"

namespace ticketing::application {

using domain::DomainError;
using domain::ErrorCode;
using domain::ReadyOutcome;

namespace {

std::string joined(const std::vector<std::string>& seats) {
  std::string out;
  for (const auto& seat : seats) out += (out.empty() ? "" : ", ") + seat;
  return out;
}

bool secrets_equal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

void PaymentService::require_idempotency_key(const std::optional<std::string>& key) {
  if (!key) throw domain::invalid_argument("Idempotency-Key", "header is required");
  if (!domain::is_valid_idempotency_key(*key)) {
    throw domain::invalid_argument("Idempotency-Key", "must be 1 to 255 printable ASCII characters");
  }
}

Task<ReadyResult> PaymentService::ready(const Admission& admission, const std::optional<std::string>& idempotency_key,
                                        domain::ScheduleId schedule, const std::vector<std::string>& seat_nos) {
  AdmissionGuard::require_schedule(admission, schedule);
  const auto user = admission.user();
  require_idempotency_key(idempotency_key);
  const auto& claims = admission.claims();
  domain::validate_seat_request(seat_nos, kMaxSeatsPerOrder);

  const auto now = clock_.now();
  const domain::ReadyRequest request{user,
                                     schedule,
                                     seat_nos,
                                     *idempotency_key,
                                     domain::ready_fingerprint(user, schedule, seat_nos),
                                     claims.issued_at,
                                     hold_max_total_};
  auto outcome = co_await payments_.create_ready_order(request, now, now + order_ttl_);
  switch (outcome.kind) {
    case ReadyOutcome::Kind::kCreated:
      counters_.orders_created.fetch_add(1, std::memory_order_relaxed);
      if (locks_ != nullptr) {
        try {
          co_await locks_->extend_for_order(schedule, user, outcome.order.seat_nos, outcome.order.expires_at);
        } catch (const std::exception& error) {
          // Best effort: the database keeps the seats for the order; without the locks another
          // fan's request for them reaches it and is refused there.
          spdlog::debug("order {}: seat locks not extended: {}", outcome.order.order_no, error.what());
        }
      }
      co_return ReadyResult{std::move(outcome.order), false};
    case ReadyOutcome::Kind::kReplayed: co_return ReadyResult{std::move(outcome.order), true};
    case ReadyOutcome::Kind::kKeyReused:
      throw DomainError(ErrorCode::kIdempotencyKeyReused,
                        "this Idempotency-Key was already used for a different request");
    case ReadyOutcome::Kind::kSeatsInPayment:
      throw DomainError(ErrorCode::kSeatInPayment, "seats are already in a payment: " + joined(outcome.seats));
    case ReadyOutcome::Kind::kSeatsUnknown: domain::throw_unknown_seats(schedule, outcome.seats);
    case ReadyOutcome::Kind::kSeatsHeldByOthers:
      throw DomainError(ErrorCode::kForbidden, "seats are held by someone else: " + joined(outcome.seats));
    case ReadyOutcome::Kind::kKeyInFlight:
      throw domain::RetryLater(ErrorCode::kIdempotencyInProgress,
                               "a request with this Idempotency-Key is still being processed; retry",
                               std::chrono::seconds(1));
    case ReadyOutcome::Kind::kSeatsNotHeld: break;
  }
  throw DomainError(ErrorCode::kConflict, "seats are not held by you (or the hold expired): " + joined(outcome.seats));
}

void PaymentService::authenticate_gateway(const GatewayCallback& callback) const {
  if (callback.signature || !gateway_.accept_plain_secret) {
    const auto problem = gateway_.verifier == nullptr
                             ? domain::GatewaySignatureProblem::kBadSignature
                             : gateway_.verifier->verify(callback.signature, callback.raw_body, clock_.now());
    if (problem != domain::GatewaySignatureProblem::kNone) {
      throw DomainError(ErrorCode::kUnauthenticated,
                        fmt::format("gateway signature rejected: {}", domain::to_string(problem)));
    }
    return;
  }
  if (!callback.plain_secret || gateway_.plain_secret.empty() ||
      !secrets_equal(*callback.plain_secret, gateway_.plain_secret)) {
    throw DomainError(ErrorCode::kUnauthenticated, "missing or wrong Gateway-Signature (or X-Gateway-Secret)");
  }
}

Task<domain::PaymentRecord> PaymentService::record_gateway_success(const GatewayCallback& callback,
                                                                   const std::string& order_no) {
  authenticate_gateway(callback);
  co_return co_await record_payment(order_no);
}

Task<domain::PaymentRecord> PaymentService::record_mock_gateway_payment(domain::UserId user,
                                                                        const std::string& order_no) {
  const auto found = co_await reads_.find_order(order_no);
  if (!found || found->user != user)
    throw DomainError(ErrorCode::kNotFound, fmt::format("order {} not found", order_no));
  co_return co_await record_payment(order_no);
}

Task<domain::PaymentRecord> PaymentService::record_payment(const std::string& order_no) {
  auto record = co_await payments_.record_payment(order_no, clock_.now());
  if (record.kind == domain::PaymentRecord::Kind::kNotFound) {
    throw DomainError(ErrorCode::kNotFound, fmt::format("order {} not found", order_no));
  }
  if (record.kind != domain::PaymentRecord::Kind::kAlreadyRecorded) {
    if (record.kind == domain::PaymentRecord::Kind::kRecorded) {
      counters_.payments_recorded.fetch_add(1, std::memory_order_relaxed);
    }
    if (on_recorded_) on_recorded_();  // an outbox row is waiting
  }
  // The fan's waiting read that usually follows starts from the order as this commit left it. A
  // repeat's copy was read, not written, here: another instance may have settled it since.
  if (remembers_confirming_ && record.kind == domain::PaymentRecord::Kind::kRecorded &&
      record.order.status == domain::OrderStatus::kConfirming) {
    settlement_waits_->remember_confirming(record.order);
  }
  co_return record;
}

Task<domain::PaymentOrder> PaymentService::order(domain::UserId user, const std::string& order_no,
                                                 std::chrono::milliseconds wait) {
  // A waiting read of an order this instance has just made CONFIRMING starts from that instead of
  // reading it: until its settlement nothing else changes it. The answer is never that copy itself
  // but the settlement this instance is told of, or a read of the database.
  std::optional<domain::PaymentOrder> found;
  bool unread = false;  // `found` is the remembered copy, neither read nor settled since
  if (wait.count() > 0 && remembers_confirming_) {
    found = settlement_waits_->confirming(order_no);
    unread = found && found->user == user;
    if (!unread) found.reset();
  }
  if (!found) found = co_await reads_.find_order(order_no);
  // Someone else's order answers exactly like one that does not exist.
  if (!found || found->user != user)
    throw DomainError(ErrorCode::kNotFound, fmt::format("order {} not found", order_no));
  const auto deadline = std::chrono::steady_clock::now() + std::min(wait, kMaxSettlementWait);
  // Re-read after first_recheck_, doubling up to a second: an instance that is not told of the
  // settlement (another one confirmed it) still answers within about that of it.
  auto recheck = first_recheck_;
  while (settlement_waits_ != nullptr && found->status == domain::OrderStatus::kConfirming) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    // A settlement told after the read above was committed after it (the order was CONFIRMING
    // then, and is settled once), so it is the order's state now: only status and reason changed.
    const auto slice = std::min(left, recheck);
    recheck = std::min(recheck * 2, kSettlementRecheck);
    const auto started = std::chrono::steady_clock::now();
    if (auto settled = co_await settlement_waits_->wait_settled(order_no, slice)) {
      found->status = settled->status;
      found->fail_reason = settled->fail_reason;
      unread = false;
      break;
    }
    // Not settled here within the slice: another instance may have settled it.
    auto again = co_await reads_.find_order(order_no);
    unread = false;
    if (!again) break;
    found = std::move(again);
    // Back before the slice was over: the board would not wait (full, or shutting down).
    if (std::chrono::steady_clock::now() - started < slice) break;
  }
  if (unread) {  // the wait was over before anything was heard: what the database says now
    if (auto again = co_await reads_.find_order(order_no)) found = std::move(again);
  }
  co_return std::move(*found);
}

Task<std::vector<domain::PaymentOrder>> PaymentService::orders(domain::UserId user) {
  co_return co_await reads_.orders_of(user, kMaxOrdersListed);
}

Task<std::vector<domain::ReservationView>> PaymentService::reservations(domain::UserId user) {
  co_return co_await reads_.reservations_of(user);
}

void ConfirmationHandler::remember_unfinished(UnfinishedSlot slot) {
  const std::lock_guard lock(unfinished_mutex_);
  if (unfinished_.size() >= kMaxUnfinishedSlots) unfinished_.pop_front();
  unfinished_.push_back(slot);
}

Task<std::size_t> ConfirmationHandler::finish_slots() {
  std::deque<UnfinishedSlot> due;
  {
    const std::lock_guard lock(unfinished_mutex_);
    due.swap(unfinished_);
  }
  const auto now = clock_.now();
  std::size_t left = 0;
  for (const auto& slot : due) {
    bool finished = false;
    try {
      // The slot that bought, never a newer one (complete_slot compares the token's issue time).
      co_await queue_.complete_slot(slot.schedule, slot.user, now, slot.token_issued_at);
      finished = true;
    } catch (const std::exception&) {
      // Still unreachable: kept for the next round.
    }
    if (!finished) {
      remember_unfinished(slot);
      ++left;
    }
  }
  co_return left;
}

Task<std::int64_t> PaymentReconciler::run_once() {
  const auto unfinished = co_await confirmation_.finish_slots();
  if (unfinished > 0) spdlog::debug("reconciler: {} buying slots still to free", unfinished);
  std::int64_t settled = 0;
  while (true) {
    const auto events = co_await payments_.unsettled_payments(clock_.now() - settle_after_, batch_);
    bool failed = false;
    for (const auto& event : events) {
      domain::ConfirmOutcome outcome;
      try {
        outcome = co_await confirmation_.handle(event);
      } catch (const std::exception& error) {
        // One order that cannot be settled now does not hold up the others; it is tried next round.
        spdlog::warn("reconciler: order {} not settled now: {}", event.order_no, error.what());
        failed = true;
        continue;
      }
      if (outcome.kind == domain::ConfirmOutcome::Kind::kConfirmed ||
          outcome.kind == domain::ConfirmOutcome::Kind::kCancelled) {
        ++settled;
        reconciled_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (failed || static_cast<int>(events.size()) < batch_) break;
  }
  co_return settled;
}

Task<domain::ConfirmOutcome> ConfirmationHandler::handle(const domain::PaymentCompleted& event) {
  const auto now = clock_.now();
  auto outcome = co_await payments_.confirm_payment(event, now);
  co_await settled(event, outcome, now);
  co_return outcome;
}

Task<std::vector<bool>> ConfirmationHandler::handle_batch(const std::vector<domain::PaymentCompleted>& events) {
  const auto now = clock_.now();
  auto outcomes = co_await payments_.confirm_payments(events, now);
  std::vector<bool> done(events.size(), false);
  for (std::size_t i = 0; i < events.size() && i < outcomes.size(); ++i) {
    if (!outcomes[i]) continue;
    co_await settled(events[i], *outcomes[i], now);
    done[i] = true;
  }
  co_return done;
}

Task<void> ConfirmationHandler::settled(const domain::PaymentCompleted& event, const domain::ConfirmOutcome& outcome,
                                        domain::Timestamp now) {
  emit_seat_changes(seat_events_, outcome.events);
  if (settlements_ != nullptr && (outcome.kind == domain::ConfirmOutcome::Kind::kConfirmed ||
                                  outcome.kind == domain::ConfirmOutcome::Kind::kCancelled)) {
    settlements_->order_settled({event.order_no, outcome.order.status, outcome.order.fail_reason});
  }
  switch (outcome.kind) {
    case domain::ConfirmOutcome::Kind::kConfirmed: {
      counters_.confirmed.fetch_add(1, std::memory_order_relaxed);
      const auto latency = std::chrono::duration<double>(now - event.paid_at).count();
      counters_.confirm_latency.observe(std::max(0.0, latency));
      // A completed purchase frees the slot that bought — not a newer slot or waiting place.
      if (outcome.order.slot_token_issued_at) {
        try {
          co_await queue_.complete_slot(event.schedule, event.user, now, *outcome.order.slot_token_issued_at);
        } catch (const std::exception& error) {
          // Freed again by the reconciler's next rounds (finish_slots): left alone, the booking
          // calls the buyer may still make would keep extending it.
          spdlog::warn("order {}: buying slot not freed now ({}); tried again later", outcome.order.order_no,
                       error.what());
          remember_unfinished({event.schedule, event.user, *outcome.order.slot_token_issued_at});
        }
      }
      try {
        co_await locks_.mark_sold(event.schedule, event.user, event.seat_nos);
      } catch (const std::exception&) {
        // Best effort: without it the database still refuses the seats, the 409 just comes later.
      }
      break;
    }
    case domain::ConfirmOutcome::Kind::kCancelled: counters_.cancelled.fetch_add(1, std::memory_order_relaxed); break;
    case domain::ConfirmOutcome::Kind::kDuplicate: counters_.duplicates.fetch_add(1, std::memory_order_relaxed); break;
    case domain::ConfirmOutcome::Kind::kIgnored: break;
  }
}

}  // namespace ticketing::application
