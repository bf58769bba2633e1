// The live seat map's parsers (docs/live-seat-map.md): byte 0 picks one.
//   even: a client's Last-Event-ID (header or ?lastEventId=) to parse_last_event_id, then the resume
//         decision for it; an accepted id prints back to the same text's value, and a replay plan
//         never starts before the kept history or past the current version.
//   odd:  a message from the seats:{sid} channel to parse_delta_json; an accepted delta
//         re-encodes (delta_json) to a message that parses to the same delta.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "infra/live/seat_stream_protocol.hpp"
#include "web/seat_map_stream.hpp"

using namespace ticketing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    const auto id = web::parse_last_event_id(text);
    if (!id) return 0;
    if (*id < 0 || web::parse_last_event_id(std::to_string(*id)) != id) __builtin_trap();
    for (const std::int64_t current : {std::int64_t{0}, std::int64_t{1}, *id, *id + 1, *id + 1000}) {
      for (const std::int64_t oldest : {std::int64_t{1}, current / 2 + 1, current + 1}) {
        const auto plan = infra::live::plan_resume(id, current, oldest);
        if (plan.kind == infra::live::ResumePlan::Kind::kReplay &&
            (plan.from < oldest || plan.to > current || plan.from != *id + 1)) {
          __builtin_trap();
        }
      }
    }
    return 0;
  }
  const auto delta = infra::live::parse_delta_json(text);
  if (!delta) return 0;
  const auto again = infra::live::parse_delta_json(infra::live::delta_json(*delta));
  if (!again || *again != *delta) __builtin_trap();
  return 0;
}
