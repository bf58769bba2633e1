#pragma once
// Wire format of the payment events (JSON values on Kafka; also the outbox payload).
//   payment.completed         {"eventId","type":"PaymentCompleted","orderNo","userId","scheduleId",
//                              "seatNos":[...],"amount":"150.00","paidAt":"...Z"}
//   payment.refund-requested  {"eventId","type":"PaymentRefundRequested","orderNo","userId","scheduleId",
//                              "amount","reason","requestedAt"}
// Amounts are decimal strings so no consumer has to trust a binary float with money.
#include <optional>
#include <string>
#include <string_view>

#include "domain/payment.hpp"

namespace ticketing::infra::events {

// Topic names, all behind kafka.topic-prefix.
struct EventTopics {
  std::string payment_completed = "payment.completed";
  std::string payment_completed_dlq = "payment.completed.dlq";
  std::string refund_requested = "payment.refund-requested";
  std::string confirm_group = "reservation-confirm";

  static EventTopics with_prefix(const std::string& prefix) {
    EventTopics topics;
    for (auto* name :
         {&topics.payment_completed, &topics.payment_completed_dlq, &topics.refund_requested, &topics.confirm_group}) {
      *name = prefix + *name;
    }
    return topics;
  }
};

std::string encode_payment_completed(const domain::PaymentCompleted& event);

struct RefundRequested {
  std::string event_id;
  std::string order_no;
  domain::UserId user;
  domain::ScheduleId schedule;
  domain::Money amount;
  std::string reason;
  domain::Timestamp requested_at;
};
std::string encode_refund_requested(const RefundRequested& event);

// Strict decoding; nullopt with `error` set for anything malformed (such messages go to the DLQ).
std::optional<domain::PaymentCompleted> decode_payment_completed(std::string_view json, std::string& error);

// A random (version 4) UUID for event ids.
std::string new_event_id();

}  // namespace ticketing::infra::events
