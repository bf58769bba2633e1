// decode_payment_completed (Kafka payment.completed values) on arbitrary bytes. Properties: it
// never throws; an event it accepts encodes (encode_payment_completed) to a value that decodes to
// the same event.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "infra/events/payment_events.hpp"

using namespace ticketing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto event = infra::events::decode_payment_completed(text, error);
  if (!event) {
    if (error.empty()) __builtin_trap();  // a rejection always says why (it goes to the DLQ)
    return 0;
  }
  const std::string encoded = infra::events::encode_payment_completed(*event);
  std::string error2;
  const auto again = infra::events::decode_payment_completed(encoded, error2);
  if (!again || again->event_id != event->event_id || again->order_no != event->order_no ||
      again->user != event->user || again->schedule != event->schedule || again->seat_nos != event->seat_nos ||
      again->amount.to_decimal_string() != event->amount.to_decimal_string() || again->paid_at != event->paid_at) {
    __builtin_trap();
  }
  return 0;
}
