#include "domain/payment.hpp"

#include <algorithm>

namespace ticketing::domain {

std::string_view to_string(OrderStatus status) noexcept {
  switch (status) {
    case OrderStatus::kReady: return "READY";
    case OrderStatus::kConfirming: return "CONFIRMING";
    case OrderStatus::kPaid: return "PAID";
    case OrderStatus::kCancelled: return "CANCELLED";
    case OrderStatus::kFailed: return "FAILED";
  }
  return "FAILED";
}

std::optional<OrderStatus> order_status_from(std::string_view text) noexcept {
  for (auto status : {OrderStatus::kReady, OrderStatus::kConfirming, OrderStatus::kPaid, OrderStatus::kCancelled,
                      OrderStatus::kFailed}) {
    if (to_string(status) == text) return status;
  }
  return std::nullopt;
}

std::string ready_fingerprint(UserId user, ScheduleId schedule, std::vector<std::string> seat_nos) {
  // Seat order does not change what is being bought.
  std::sort(seat_nos.begin(), seat_nos.end());
  std::string out = std::to_string(user.value) + ":" + std::to_string(schedule.value) + ":";
  for (std::size_t i = 0; i < seat_nos.size(); ++i) out += (i ? "," : "") + seat_nos[i];
  return out;
}

bool is_valid_idempotency_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > 255) return false;
  // Printable ASCII is 0x20 (space) through 0x7E.
  return std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

bool is_valid_order_no(std::string_view order_no) noexcept {
  return !order_no.empty() && order_no.size() <= kMaxOrderNoLength &&
         std::all_of(order_no.begin(), order_no.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

}  // namespace ticketing::domain
