#pragma once
// The pure parts of the live seat map (docs/live-seat-map.md): the wire format of deltas (the JSON
// published on Redis and sent to browsers), Server-Sent Events framing, Last-Event-ID parsing,
// coalescing of deltas, and the resume decision. No I/O here; unit-tested on their own.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "domain/catalog.hpp"
#include "domain/seat_change.hpp"

namespace ticketing::infra::live {

// What a seat change means on the map (the statuses GET /schedules/{id}/seats reports): held → HELD,
// sold → SOLD, released, expired, cancelled and refunded → AVAILABLE.
domain::SeatStatus map_status(domain::SeatChange change) noexcept;
// "AVAILABLE", "HELD", "SOLD" back to the status; nullopt for anything else.
std::optional<domain::SeatStatus> parse_map_status(std::string_view text) noexcept;

struct SeatStatusChange {
  std::string seat_no;
  domain::SeatStatus status = domain::SeatStatus::kAvailable;
  friend bool operator==(const SeatStatusChange&, const SeatStatusChange&) = default;
};

// One version of a schedule's map: the changes one SeatChanged made (or, coalesced, several).
struct SeatDelta {
  std::int64_t version = 0;
  std::vector<SeatStatusChange> changes;
  friend bool operator==(const SeatDelta&, const SeatDelta&) = default;
};

// `[{"seatNo":"A-1","status":"HELD"},...]` for one SeatChanged (every seat gets its map status).
std::string changes_json(const domain::SeatChanged& change);
std::string changes_json(const std::vector<SeatStatusChange>& changes);
// `{"version":N,"changes":[...]}`: a delta's `data`, and the message on Redis (the Lua script
// builds the same text around changes_json()).
std::string delta_json(const SeatDelta& delta);
// Parses delta_json's form (other members are ignored); nullopt when it is not one (a version
// below 1, a change without a seat number or with an unknown status, not JSON).
std::optional<SeatDelta> parse_delta_json(std::string_view json);

// `{"version":N,"seats":[{"seatNo":..,"status":..},...]}` for seats in `seat_nos` order.
std::string snapshot_json(std::int64_t version, const std::vector<std::string>& seat_nos,
                          const std::vector<domain::SeatStatus>& statuses);

// One Server-Sent Event: `id: <id>\nevent: <event>\ndata: <data>\n\n`, with a `retry: <ms>\n`
// line first when retry_ms > 0. `data` must be one line (JSON without raw newlines is).
std::string sse_event(std::string_view event, std::int64_t id, std::string_view data, std::int64_t retry_ms = 0);
// The comment line sent every sse.keepalive.
inline constexpr std::string_view kKeepAliveComment = ": keep-alive\n\n";

// Merges deltas over one coalescing window: the latest status of each seat, seats in the order
// they first changed, the version of the last delta added.
class DeltaCoalescer {
 public:
  void add(const SeatDelta& delta);
  bool empty() const noexcept { return changes_.empty() && version_ == 0; }
  std::int64_t version() const noexcept { return version_; }
  // The merged delta; the coalescer is empty afterwards.
  SeatDelta take();

 private:
  std::int64_t version_ = 0;
  std::vector<SeatStatusChange> changes_;
  std::unordered_map<std::string, std::size_t> index_;
};

// What a new stream gets first, given the client's Last-Event-ID, the feed's current version and
// the oldest version whose delta the feed still has (history).
struct ResumePlan {
  enum class Kind { kSnapshot, kReplay } kind = Kind::kSnapshot;
  // kReplay: the deltas of versions from..to (from > to when nothing was missed).
  std::int64_t from = 0;
  std::int64_t to = 0;
};
// kReplay when last_event_id is given, not ahead of `current` (a larger one means the counter was
// reset) and every version after it is still in history (oldest_kept <= last_event_id + 1, or
// nothing was missed); otherwise kSnapshot. oldest_kept is current + 1 when the history is empty.
ResumePlan plan_resume(std::optional<std::int64_t> last_event_id, std::int64_t current,
                       std::int64_t oldest_kept) noexcept;

// The Redis names of one schedule (DESIGN.md §6: the {id} hash tag keeps them in one cluster slot).
// The channel carries the database index when it is not 0: Redis pub/sub ignores SELECT, so two
// environments sharing one server (tests on databases 1 and 5) must not hear each other.
std::string version_key(std::int64_t schedule);           // seats:{42}:version
std::string log_key(std::int64_t schedule);               // seats:{42}:log
std::string channel_name(std::int64_t schedule, int db);  // seats:{42}, or db5:seats:{42}
std::string channel_pattern(int db);                      // seats:*, or db5:seats:*
// The schedule a channel name is for; nullopt when it is not one of channel_name(_, db).
std::optional<std::int64_t> schedule_of_channel(std::string_view channel, int db);

}  // namespace ticketing::infra::live
