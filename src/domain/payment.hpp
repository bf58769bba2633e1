#pragma once
// Payment orders and the events of DESIGN.md §7 steps 2–4.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/ids.hpp"
#include "domain/money.hpp"
#include "domain/reservation.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

// READY → CONFIRMING (payment recorded) → PAID, or CANCELLED with a reason, or FAILED.
enum class OrderStatus { kReady, kConfirming, kPaid, kCancelled, kFailed };
std::string_view to_string(OrderStatus status) noexcept;
std::optional<OrderStatus> order_status_from(std::string_view text) noexcept;

struct PaymentOrder {
  std::int64_t id = 0;
  std::string order_no;
  UserId user;
  ScheduleId schedule;
  Money amount;
  OrderStatus status = OrderStatus::kReady;
  std::optional<std::string> fail_reason;
  Timestamp created_at;
  Timestamp expires_at;
  std::vector<std::string> seat_nos;
  // Issue time of the queue token that created the order: names the admission slot that buys, so
  // a late confirmation frees that slot and never a newer one (nullopt for orders made before).
  std::optional<Timestamp> slot_token_issued_at;
};

// What the gateway's success callback records (outbox → topic payment.completed).
struct PaymentCompleted {
  std::string event_id;
  std::string order_no;
  UserId user;
  ScheduleId schedule;
  std::vector<std::string> seat_nos;
  Money amount;
  Timestamp paid_at;
};

struct ReservationView {
  ReservationId id;
  ScheduleId schedule;
  std::string seat_no;
  ReservationStatus status = ReservationStatus::kHeld;  // a stale hold reads EXPIRED
  Timestamp expires_at;
  std::optional<std::string> order_no;
  Timestamp created_at;
};

// The idempotency fingerprint of a ready request: same key + same fingerprint = the same request.
std::string ready_fingerprint(UserId user, ScheduleId schedule, std::vector<std::string> seat_nos);

// Idempotency-Key: 1–255 printable ASCII characters.
bool is_valid_idempotency_key(std::string_view key) noexcept;

// What an order number can look like: 1–40 of A–Z a–z 0–9 '-' (the seat numbers' alphabet), so one
// read from a path or query is safe to name in answers, logs and audit rows.
inline constexpr std::size_t kMaxOrderNoLength = 40;
bool is_valid_order_no(std::string_view order_no) noexcept;

}  // namespace ticketing::domain
