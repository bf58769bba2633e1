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

std::int64_t poll_after_not_before(Timestamp now, Timestamp allowed_at, std::int64_t poll_after_ms) noexcept {
  return std::max<std::int64_t>(poll_after_ms, (allowed_at - now).count() + kEarlyEnterSlackMs);
}

std::int64_t predict_admission_seconds(const AdmissionOutlook& o, Timestamp now) {
  if (o.position <= 0) return 0;
  const double cap = o.admit_per_second > 0 ? static_cast<double>(o.admit_per_second) : 1e9;
  const std::int64_t p = o.position;
  const std::int64_t slots = std::max<std::int64_t>(1, o.max_active);
  const std::int64_t free_now = std::max<std::int64_t>(0, o.max_active - o.active);
  const auto known = static_cast<std::int64_t>(o.expiries.size());
  const bool all_known = known >= o.active;  // the store read every held slot's expiry
  const double ttl = std::max(0.001, std::chrono::duration<double>(o.active_ttl).count());
  // Beyond the known expiries, held slots lapse at max_active per active_ttl at the latest.
  const double lapse_gap = ttl / static_cast<double>(slots);
  const auto seconds_from_now = [&](Timestamp t) {
    return std::max(0.0, std::chrono::duration<double>(t - now).count());
  };
  const auto expiry = [&](std::int64_t k) { return seconds_from_now(o.expiries[static_cast<std::size_t>(k - 1)]); };
  const double last_known = known > 0 ? expiry(known) : 0.0;
  const double c = o.completion_rate;
  // When the slot of the j-th admission from now frees: free now; else the (j - free_now)-th held
  // slot frees by its expiry at the latest, or earlier when completions at the measured rate get
  // there first. A slot given out now lapses a TTL later, so when every expiry is known the
  // pattern repeats every max_active admissions, one TTL later each time.
  const auto slot_free_at = [&](std::int64_t j) {
    if (j <= free_now) return 0.0;
    const std::int64_t k = j - free_now;
    double t = 0;
    if (k <= known) {
      t = expiry(k);
    } else if (all_known) {
      const std::int64_t index = (j - 1) % slots;
      const double first = index < free_now ? 0.0 : expiry(std::min(known, index - free_now + 1));
      t = first + static_cast<double>((j - 1) / slots) * ttl;
    } else {
      t = last_known + static_cast<double>(k - known) * lapse_gap;
    }
    if (c > 0) t = std::min(t, static_cast<double>(k) / c);
    return t;
  };
  // Admission j waits for its slot and for admission j-1 plus 1/cap: the p-th lands at the latest
  // of (slot j frees) + (p - j) / cap over j. That is linear between the points evaluated here
  // (free slots, each known expiry, each wave's ends, the crossings with the completion bound), so
  // the maximum is among them: a few hundred evaluations at most, whatever the position.
  double admitted_at = 0;
  const auto consider = [&](std::int64_t j) {
    if (j < 1 || j > p) return;
    admitted_at = std::max(admitted_at, slot_free_at(j) + static_cast<double>(p - j) / cap);
  };
  consider(1);
  consider(p);
  for (std::int64_t k = 1; k <= std::min(known, p - free_now); ++k) consider(free_now + k);
  if (all_known) {
    // Waves: j = w * slots + i + 1 frees at (slot i's first lapse) + w * TTL.
    const auto wave_ends = [&](std::int64_t i) {
      if (i >= p) return;
      const std::int64_t last_wave = (p - 1 - i) / slots;
      consider(i + 1);
      consider(last_wave * slots + i + 1);
      const double n_over_c = c > 0 ? static_cast<double>(slots) / c : 0;
      if (c > 0 && std::abs(ttl - n_over_c) > 1e-9) {
        const double first = i < free_now ? 0.0 : expiry(std::min(known, i - free_now + 1));
        const double cross = (static_cast<double>(i + 1 - free_now) / c - first) / (ttl - n_over_c);
        if (cross > 0 && cross < static_cast<double>(last_wave)) {
          consider(static_cast<std::int64_t>(std::floor(cross)) * slots + i + 1);
          consider(static_cast<std::int64_t>(std::ceil(cross)) * slots + i + 1);
        }
      }
    };
    // Slots free now (i < free_now) lapse in step, so without completions the first is the latest
    // to matter; with a completion rate it may be any: every one when there are few, else the ends.
    constexpr std::int64_t kEveryFreeSlotUpTo = 512;
    if (c > 0 && free_now <= kEveryFreeSlotUpTo) {
      for (std::int64_t i = 0; i < free_now; ++i) wave_ends(i);
    } else {
      wave_ends(0);
      wave_ends(free_now - 1);
    }
    for (std::int64_t i = free_now; i < slots; ++i) wave_ends(i);
  } else {
    consider(free_now + known + 1);
    if (c > 0 && 1.0 / c > lapse_gap) {
      const double cross = (last_known - static_cast<double>(known) * lapse_gap) / (1.0 / c - lapse_gap);
      consider(free_now + static_cast<std::int64_t>(std::floor(cross)));
      consider(free_now + static_cast<std::int64_t>(std::ceil(cross)));
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
