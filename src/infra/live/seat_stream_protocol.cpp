#include "infra/live/seat_stream_protocol.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "support/json_writer.hpp"

namespace ticketing::infra::live {

using domain::SeatStatus;

SeatStatus map_status(domain::SeatChange change) noexcept {
  switch (change) {
    case domain::SeatChange::kHeld: return SeatStatus::kHeld;
    case domain::SeatChange::kSold: return SeatStatus::kSold;
    case domain::SeatChange::kReleased:
    case domain::SeatChange::kExpired:
    case domain::SeatChange::kCancelled:
    case domain::SeatChange::kRefunded: return SeatStatus::kAvailable;
  }
  return SeatStatus::kAvailable;
}

std::optional<SeatStatus> parse_map_status(std::string_view text) noexcept {
  if (text == "AVAILABLE") return SeatStatus::kAvailable;
  if (text == "HELD") return SeatStatus::kHeld;
  if (text == "SOLD") return SeatStatus::kSold;
  return std::nullopt;
}

namespace {

void append_change(std::string& out, std::string_view seat_no, SeatStatus status) {
  out += R"({"seatNo":)";
  support::append_json_string(out, seat_no);
  out += R"(,"status":")";
  out += domain::to_string(status);
  out += "\"}";
}

}  // namespace

std::string changes_json(const domain::SeatChanged& change) {
  std::string out;
  out.reserve(2 + change.seat_nos.size() * 40);
  out += '[';
  const SeatStatus status = map_status(change.status);
  for (std::size_t i = 0; i < change.seat_nos.size(); ++i) {
    if (i > 0) out += ',';
    append_change(out, change.seat_nos[i], status);
  }
  out += ']';
  return out;
}

std::string changes_json(const std::vector<SeatStatusChange>& changes) {
  std::string out;
  out.reserve(2 + changes.size() * 40);
  out += '[';
  for (std::size_t i = 0; i < changes.size(); ++i) {
    if (i > 0) out += ',';
    append_change(out, changes[i].seat_no, changes[i].status);
  }
  out += ']';
  return out;
}

std::string delta_json(const SeatDelta& delta) {
  return fmt::format(R"({{"version":{},"changes":{}}})", delta.version, changes_json(delta.changes));
}

std::optional<SeatDelta> parse_delta_json(std::string_view json) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& object = value.get_object();
  const auto* version = object.if_contains("version");
  const auto* changes = object.if_contains("changes");
  if (version == nullptr || !version->is_int64() || version->get_int64() < 1) return std::nullopt;
  if (changes == nullptr || !changes->is_array()) return std::nullopt;
  SeatDelta delta{version->get_int64(), {}};
  delta.changes.reserve(changes->get_array().size());
  for (const auto& item : changes->get_array()) {
    if (!item.is_object()) return std::nullopt;
    const auto* seat = item.get_object().if_contains("seatNo");
    const auto* status = item.get_object().if_contains("status");
    if (seat == nullptr || !seat->is_string() || status == nullptr || !status->is_string()) return std::nullopt;
    const auto parsed = parse_map_status(std::string_view(status->get_string()));
    if (!parsed) return std::nullopt;
    delta.changes.push_back({std::string(seat->get_string()), *parsed});
  }
  return delta;
}

std::string snapshot_json(std::int64_t version, const std::vector<std::string>& seat_nos,
                          const std::vector<SeatStatus>& statuses) {
  std::string out;
  out.reserve(48 + seat_nos.size() * 40);
  out += R"({"version":)";
  out += std::to_string(version);
  out += R"(,"seats":[)";
  for (std::size_t i = 0; i < seat_nos.size(); ++i) {
    if (i > 0) out += ',';
    append_change(out, seat_nos[i], statuses[i]);
  }
  out += "]}";
  return out;
}

std::string sse_event(std::string_view event, std::int64_t id, std::string_view data, std::int64_t retry_ms) {
  std::string out;
  out.reserve(data.size() + event.size() + 48);
  if (retry_ms > 0) {
    out += "retry: ";
    out += std::to_string(retry_ms);
    out += '\n';
  }
  out += "id: ";
  out += std::to_string(id);
  out += "\nevent: ";
  out += event;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

void DeltaCoalescer::add(const SeatDelta& delta) {
  if (delta.version > version_) version_ = delta.version;
  for (const auto& change : delta.changes) {
    const auto [it, inserted] = index_.try_emplace(change.seat_no, changes_.size());
    if (inserted) {
      changes_.push_back(change);
    } else {
      changes_[it->second].status = change.status;
    }
  }
}

SeatDelta DeltaCoalescer::take() {
  SeatDelta merged{version_, std::move(changes_)};
  version_ = 0;
  changes_ = {};
  index_.clear();
  return merged;
}

ResumePlan plan_resume(std::optional<std::int64_t> last_event_id, std::int64_t current,
                       std::int64_t oldest_kept) noexcept {
  if (!last_event_id || *last_event_id > current) return {};
  if (*last_event_id == current) return {ResumePlan::Kind::kReplay, current + 1, current};
  if (oldest_kept > *last_event_id + 1) return {};
  return {ResumePlan::Kind::kReplay, *last_event_id + 1, current};
}

std::string version_key(std::int64_t schedule) {
  return fmt::format("seats:{{{}}}:version", schedule);
}

std::string log_key(std::int64_t schedule) {
  return fmt::format("seats:{{{}}}:log", schedule);
}

std::string channel_name(std::int64_t schedule, int db) {
  return db == 0 ? fmt::format("seats:{{{}}}", schedule) : fmt::format("db{}:seats:{{{}}}", db, schedule);
}

std::string channel_pattern(int db) {
  return db == 0 ? std::string("seats:*") : fmt::format("db{}:seats:*", db);
}

std::optional<std::int64_t> schedule_of_channel(std::string_view channel, int db) {
  std::string prefix = db == 0 ? std::string("seats:{") : "db" + std::to_string(db) + ":seats:{";
  if (!channel.starts_with(prefix) || !channel.ends_with('}')) return std::nullopt;
  const std::string_view digits = channel.substr(prefix.size(), channel.size() - prefix.size() - 1);
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value < 1) return std::nullopt;
  return value;
}

}  // namespace ticketing::infra::live
