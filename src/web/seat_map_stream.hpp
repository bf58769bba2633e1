#pragma once
// The live seat map's streams (DESIGN.md §13, docs/live-seat-map.md): what the route
// GET /schedules/{id}/seats/stream asks for. Implemented by infra/live (Redis pub/sub, a per-schedule
// in-memory map per instance); src/app hands it to the api's route.
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "domain/async.hpp"
#include "domain/ids.hpp"
#include "web/response_stream.hpp"

namespace ticketing::web {

// A Last-Event-ID (header or ?lastEventId=): a non-negative decimal integer of at most 18 digits,
// surrounding blanks allowed. Anything else — empty, a sign, letters, an overflow — is treated as
// absent (nullopt): the client gets a snapshot, never an error.
std::optional<std::int64_t> parse_last_event_id(std::string_view text) noexcept;

class SeatMapStreams {
 public:
  virtual ~SeatMapStreams() = default;

  // A stream of `schedule`'s seat map for one client: a snapshot, or, when `last_event_id` is given
  // and every version after it is still known, exactly the deltas after it; then live deltas.
  // Throws DomainError: NOT_FOUND for a schedule that does not exist, RetryLater (503 with
  // Retry-After) when this instance already serves sse.max-streams streams, DependencyUnavailable
  // when the seat map cannot be read now.
  virtual Task<std::shared_ptr<ResponseStream>> open(domain::ScheduleId schedule,
                                                     std::optional<std::int64_t> last_event_id) = 0;
  // The same checks without opening anything (HEAD).
  virtual Task<void> check(domain::ScheduleId schedule) = 0;
};

}  // namespace ticketing::web
