#include "domain/operator_console.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <unordered_map>
#include <unordered_set>

#include "domain/account.hpp"
#include "domain/catalog.hpp"
#include "domain/errors.hpp"

namespace ticketing::domain {
namespace {

bool is_name(std::string_view text) noexcept {
  if (text.empty() || text.size() > kMaxNameLength) return false;
  for (const char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

std::optional<std::int64_t> seat_count_number(std::string_view text) {
  if (text.empty() || text.size() > 9 || text.front() == '0') return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string_view to_string(SaleState state) noexcept {
  switch (state) {
    case SaleState::kOpen: return "OPEN";
    case SaleState::kPaused: return "PAUSED";
    case SaleState::kClosed: return "CLOSED";
  }
  return "OPEN";
}

std::string_view to_string(AuditKind kind) noexcept {
  switch (kind) {
    case AuditKind::kRead: return "READ";
    case AuditKind::kRefused: return "REFUSED";
    case AuditKind::kChange: break;
  }
  return "CHANGE";
}

std::optional<AuditKind> audit_kind_from(std::string_view text) noexcept {
  if (text == "CHANGE") return AuditKind::kChange;
  if (text == "READ") return AuditKind::kRead;
  if (text == "REFUSED") return AuditKind::kRefused;
  return std::nullopt;
}

std::optional<SaleState> sale_state_from(std::string_view text) noexcept {
  if (text == "OPEN") return SaleState::kOpen;
  if (text == "PAUSED") return SaleState::kPaused;
  if (text == "CLOSED") return SaleState::kClosed;
  return std::nullopt;
}

std::optional<Money> parse_price(std::string_view text) {
  // What an operator types: digits, then optionally a point and one or two digits. No sign (not
  // even "-0"), nothing bare around the point (".5", "5."), which a spreadsheet would not write.
  const auto dot = text.find('.');
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (text.empty() || !is_digit(text.front()) || !is_digit(text.back())) return std::nullopt;
  if (dot != std::string_view::npos && text.size() - dot > 3) return std::nullopt;
  const auto price = Money::from_decimal_string(text);
  if (!price || price->cents < 0 || price->cents > kMaxPriceCents) return std::nullopt;
  return price;
}

std::string seat_number(std::string_view section, std::string_view row, std::int64_t seat) {
  if (row.empty()) return fmt::format("{}-{}", section, seat);
  return fmt::format("{}-{}-{}", section, row, seat);
}

// The fields of one CSV line (RFC 4180, as spreadsheets write it): a field in double quotes may
// hold commas, and "" inside stands for one quote; spaces around a field are dropped. nullopt for a
// quote that is never closed or is followed by anything but a comma.
std::optional<std::vector<std::string>> csv_fields(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t at = 0;
  while (true) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    std::string field;
    if (at < line.size() && line[at] == '"') {
      ++at;
      while (true) {
        if (at >= line.size()) return std::nullopt;
        if (line[at] == '"') {
          if (at + 1 < line.size() && line[at + 1] == '"') {
            field += '"';
            at += 2;
            continue;
          }
          ++at;
          break;
        }
        field += line[at++];
      }
      while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
      if (at < line.size() && line[at] != ',') return std::nullopt;
    } else {
      const auto comma = line.find(',', at);
      field = std::string(trimmed(line.substr(at, comma == std::string_view::npos ? comma : comma - at)));
      at = comma == std::string_view::npos ? line.size() : comma;
    }
    fields.push_back(std::move(field));
    if (at >= line.size()) break;
    ++at;  // the comma
  }
  return fields;
}

// A layout's problems listed at most (then the rest is not read): enough to fix a file.
constexpr std::size_t kMaxLayoutErrors = 100;

std::vector<SeatRun> parse_layout_csv(std::string_view text, std::vector<FieldError>& errors) {
  std::vector<SeatRun> runs;
  std::size_t line_no = 0;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark (spreadsheets write one)
  while (!text.empty() && errors.size() <= kMaxLayoutErrors) {  // as build_layout: the answer stays small
    const auto newline = text.find('\n');
    const std::string_view line = trimmed(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    ++line_no;
    if (line.empty()) continue;
    const std::string source = fmt::format("line {}", line_no);
    const auto parsed = csv_fields(line);
    if (!parsed) {
      errors.push_back({source, "a quoted field is not closed, or something other than a comma follows it"});
      continue;
    }
    const auto& fields = *parsed;
    if (line_no == 1 && !fields.empty()) {  // the optional header, in any case
      std::string first = fields[0];
      for (auto& c : first) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (first == "section") continue;
    }
    if (fields.size() != 5) {
      errors.push_back(
          {source, fmt::format("expected 5 fields (section,row,seats,tier,price), found {}", fields.size())});
      continue;
    }
    SeatRun run{source, std::string(fields[0]), std::string(fields[1]), 0,
                0,      std::string(fields[3]), std::string(fields[4])};
    const std::string_view seats = fields[2];
    const auto dash = seats.find('-');
    const auto first = seat_count_number(seats.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : seat_count_number(seats.substr(dash + 1));
    if (!first || !last) {
      errors.push_back(
          {source, fmt::format("seats must be a seat number or a range first-last, not '{}'", seats.substr(0, 32))});
      continue;
    }
    run.first = *first;
    run.last = *last;
    runs.push_back(std::move(run));
  }
  return runs;
}

VenueLayout build_layout(const std::vector<SeatRun>& runs, std::vector<FieldError> errors) {
  VenueLayout layout;
  std::unordered_map<std::string, Money> tier_price;
  std::unordered_set<std::string> seen;
  std::size_t total = 0;
  bool too_many = false;
  for (const auto& run : runs) {
    if (!is_name(run.section)) {
      errors.push_back({run.source, "section must be 1 to 16 letters or digits"});
      continue;
    }
    if (!run.row.empty() && !is_name(run.row)) {
      errors.push_back({run.source, "row must be empty or 1 to 16 letters or digits"});
      continue;
    }
    if (!is_name(run.tier)) {
      errors.push_back({run.source, "tier must be 1 to 16 letters or digits"});
      continue;
    }
    const auto price = parse_price(run.price);
    if (!price) {
      errors.push_back({run.source, fmt::format("price must be {}, not '{}'", kPriceRule, run.price.substr(0, 32))});
      continue;
    }
    const auto [tier, inserted] = tier_price.emplace(run.tier, *price);
    if (inserted) {
      layout.tiers.emplace_back(run.tier, *price);
    } else if (tier->second != *price) {
      errors.push_back({run.source, fmt::format("tier {} already costs {}, not {}", run.tier,
                                                tier->second.to_decimal_string(), price->to_decimal_string())});
      continue;
    }
    if (run.first < 1 || run.last < run.first) {
      errors.push_back({run.source, "seats must run from 1 or more up to a number not below the first"});
      continue;
    }
    const auto count = static_cast<std::size_t>(run.last - run.first + 1);
    if (total + count > kMaxVenueSeats) {
      if (!too_many) errors.push_back({run.source, fmt::format("a venue has at most {} seats", kMaxVenueSeats)});
      too_many = true;
      continue;
    }
    total += count;
    for (std::int64_t n = run.first; n <= run.last; ++n) {
      std::string seat_no = seat_number(run.section, run.row, n);
      if (!is_valid_seat_no(seat_no)) {
        errors.push_back({run.source, fmt::format("seat number {} is longer than 16 characters", seat_no)});
        break;
      }
      if (!seen.insert(seat_no).second) {
        errors.push_back({run.source, fmt::format("duplicate seat {}", seat_no)});
        break;
      }
      layout.seats.push_back(LayoutSeat{std::move(seat_no), run.section, run.tier, *price});
    }
    if (errors.size() > kMaxLayoutErrors) break;  // enough to fix a file; the answer stays small
  }
  if (runs.empty() && errors.empty()) errors.push_back({"layout", "a venue needs at least one seat"});
  if (!errors.empty()) {
    // The message first: the order in which arguments are evaluated is unspecified.
    std::string message = fmt::format("invalid seat layout: {} {}", errors.front().field, errors.front().reason);
    throw DomainError(ErrorCode::kInvalidArgument, std::move(message), std::move(errors));
  }
  return layout;
}

bool is_blank_text(std::string_view text) {
  static constexpr std::string_view kSpaces[] = {
      " ", "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80",
  };
  while (!text.empty()) {
    const auto* space =
        std::find_if(std::begin(kSpaces), std::end(kSpaces), [&](std::string_view s) { return text.starts_with(s); });
    if (space != std::end(kSpaces)) {
      text.remove_prefix(space->size());
    } else if (text.size() >= 3 && text[0] == '\xE2' && text[1] == '\x80' &&
               static_cast<unsigned char>(text[2]) >= 0x80 && static_cast<unsigned char>(text[2]) <= 0x8A) {
      text.remove_prefix(3);  // U+2000..U+200A
    } else {
      return false;
    }
  }
  return true;
}

bool is_reason_text(std::string_view text) {
  std::size_t characters = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++characters;  // not a continuation byte
  }
  // Shown in the console and the audit: clean text (no control characters, no bidirectional
  // overrides), as for every free text an operator stores.
  return characters >= 1 && characters <= 255 && !is_blank_text(text) && is_clean_text(text);
}

std::vector<FieldError> schedule_time_problems(const ScheduleTimes& times) {
  std::vector<FieldError> problems;
  // Years 2000–9999: what every database's DATETIME keeps (MariaDB's and MySQL's start at 1000; a
  // year 0 was stored by one and refused by the other), and no sale is older than this service.
  using namespace std::chrono;
  constexpr Timestamp kEarliest{sys_days{year{2000} / January / 1}};
  constexpr Timestamp kLatest{sys_days{year{10000} / January / 1}};
  const auto out_of_range = [&](Timestamp at) { return at < kEarliest || at >= kLatest; };
  for (const auto& [field, at] : {std::pair<const char*, std::optional<Timestamp>>{"showAt", times.show_at},
                                  {"bookingOpensAt", times.booking_opens_at},
                                  {"prequeueOpensAt", times.prequeue_opens_at}}) {
    if (at && out_of_range(*at)) problems.push_back({field, "must be a time in the years 2000 to 9999"});
  }
  if (!problems.empty()) return problems;
  if (times.booking_opens_at >= times.show_at) {
    problems.push_back({"bookingOpensAt", "must be before showAt"});
  }
  if (times.prequeue_opens_at && *times.prequeue_opens_at >= times.booking_opens_at) {
    problems.push_back({"prequeueOpensAt", "must be before bookingOpensAt"});
  }
  return problems;
}

std::vector<FieldError> queue_settings_problems(const QueueSettings& settings) {
  std::vector<FieldError> problems;
  const auto check = [&](const std::optional<std::int64_t>& value, const char* field, std::int64_t max) {
    if (value && (*value < 1 || *value > max)) problems.push_back({field, fmt::format("must be 1 to {}", max)});
  };
  check(settings.max_active, "maxActive", kMaxActiveLimit);
  check(settings.admit_per_second, "admitPerSecond", kAdmitPerSecondLimit);
  check(settings.max_seats_per_user, "maxSeatsPerUser", kMaxSeatsPerUserLimit);
  return problems;
}

namespace {

void throw_if_any(std::vector<FieldError> problems) {
  if (problems.empty()) return;
  std::string message = "invalid request:";
  for (const auto& p : problems) message += fmt::format(" {} {};", p.field, p.reason);
  message.pop_back();
  throw DomainError(ErrorCode::kInvalidArgument, std::move(message), std::move(problems));
}

}  // namespace

void check_new_schedule(const ScheduleTimes& times, const QueueSettings& settings, Timestamp now) {
  auto problems = schedule_time_problems(times);
  if (times.show_at <= now) problems.insert(problems.begin(), {"showAt", "must be in the future"});
  for (auto& problem : queue_settings_problems(settings)) problems.push_back(std::move(problem));
  throw_if_any(std::move(problems));
}

void check_queue_settings(const QueueSettings& settings) {
  throw_if_any(queue_settings_problems(settings));
}

}  // namespace ticketing::domain
