#include "domain/queue_pacing.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ticketing::domain {

Timestamp next_poll_allowed_at(Timestamp now, std::int64_t poll_after_ms) noexcept {
  const auto early_ms =
      static_cast<std::int64_t>(static_cast<double>(std::max<std::int64_t>(0, poll_after_ms)) * kPollEarlyShare);
  return now + std::chrono::milliseconds(early_ms);
}

std::chrono::seconds poll_retry_after(Timestamp now, Timestamp allowed_at) noexcept {
  const auto wait_ms = std::max<std::int64_t>(0, (allowed_at - now).count());
  return std::chrono::seconds(std::max<std::int64_t>(1, (wait_ms + 999) / 1000));
}

std::int64_t predict_admission_seconds(const AdmissionOutlook& o, Timestamp now) {
  if (o.position <= 0) return 0;
  const double cap = o.admit_per_second > 0 ? static_cast<double>(o.admit_per_second) : 1e9;
  const std::int64_t free_now = std::max<std::int64_t>(0, o.max_active - o.active);
  // The cap alone: the p-th admission comes (p-1)/cap after the first.
  double admitted_at = static_cast<double>(o.position - 1) / cap;
  const std::int64_t needed = o.position - free_now;  // slots that must free up first
  if (needed > 0) {
    const auto seconds_from_now = [&](Timestamp t) {
      return std::max(0.0, std::chrono::duration<double>(t - now).count());
    };
    const auto known = static_cast<std::int64_t>(o.expiries.size());
    const double ttl = std::max(0.001, std::chrono::duration<double>(o.active_ttl).count());
    // Beyond the known expiries, held slots lapse at max_active per active_ttl at the latest.
    const double lapse_gap = ttl / static_cast<double>(std::max<std::int64_t>(1, o.max_active));
    const double last_known = known > 0 ? seconds_from_now(o.expiries.back()) : 0.0;
    const double c = o.completion_rate;
    // When the k-th slot frees: by its expiry at the latest, earlier if completions get there first.
    const auto frees_at = [&](std::int64_t k) {
      double t = k <= known ? seconds_from_now(o.expiries[static_cast<std::size_t>(k - 1)])
                            : last_known + static_cast<double>(k - known) * lapse_gap;
      if (c > 0) t = std::min(t, static_cast<double>(k) / c);
      return t;
    };
    // Admission j waits for slot j and for admission j-1 plus 1/cap: the p-th lands at the latest
    // of (slot k frees) + (the needed-k admissions after it at the cap).
    const auto consider = [&](std::int64_t k) {
      if (k < 1 || k > needed) return;
      admitted_at = std::max(admitted_at, frees_at(k) + static_cast<double>(needed - k) / cap);
    };
    for (std::int64_t k = 1; k <= std::min(known, needed); ++k) consider(k);
    if (needed > known) {
      // Piecewise linear beyond the known expiries: the maximum is at an end or where the two
      // bounds cross.
      consider(known + 1);
      consider(needed);
      if (c > 0 && 1.0 / c > lapse_gap) {
        const double cross = (last_known - static_cast<double>(known) * lapse_gap) / (1.0 / c - lapse_gap);
        if (cross > static_cast<double>(known) && cross < static_cast<double>(needed)) {
          consider(static_cast<std::int64_t>(std::floor(cross)));
          consider(static_cast<std::int64_t>(std::ceil(cross)));
        }
      }
    }
  }
  return static_cast<std::int64_t>(std::ceil(admitted_at - 1e-9));
}

// ---- Proof of work ----------------------------------------------------------------------------

std::string pow_payload(const PowChallenge& c) {
  return "pow1." + std::to_string(c.user.value) + "." + std::to_string(c.schedule.value) + "." + c.id + "." +
         std::to_string(c.expires_at.time_since_epoch().count()) + "." + std::to_string(c.difficulty);
}

namespace {

std::optional<std::int64_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 18 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<PowChallenge> parse_pow_payload(std::string_view payload) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (parts.size() < 7) {
    const auto dot = payload.find('.', start);
    parts.push_back(payload.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 6 || parts[0] != "pow1") return std::nullopt;
  const auto user = parse_canonical_id(parts[1]);
  const auto schedule = parse_canonical_id(parts[2]);
  const auto expires = parse_count(parts[4]);
  const auto difficulty = parse_count(parts[5]);
  const bool hex_id = parts[3].size() == 32 && std::all_of(parts[3].begin(), parts[3].end(), [](char ch) {
                        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
                      });
  if (!user || !schedule || !expires || !difficulty || !hex_id || *difficulty > kMaxPowDifficulty) return std::nullopt;
  return PowChallenge{UserId{*user}, ScheduleId{*schedule}, std::string(parts[3]),
                      Timestamp{std::chrono::milliseconds(*expires)}, static_cast<int>(*difficulty)};
}

int leading_zero_bits(std::span<const unsigned char> digest) noexcept {
  int bits = 0;
  for (const unsigned char byte : digest) {
    if (byte == 0) {
      bits += 8;
      continue;
    }
    for (int mask = 0x80; (byte & mask) == 0; mask >>= 1) ++bits;
    break;
  }
  return bits;
}

bool valid_pow_nonce(std::string_view nonce) noexcept {
  if (nonce.empty() || nonce.size() > kMaxPowNonceLength) return false;
  return std::all_of(nonce.begin(), nonce.end(), [](char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '-';
  });
}

}  // namespace ticketing::domain
