#include "domain/fairness.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "domain/ports/fairness_crypto.hpp"

namespace ticketing::domain {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_lower_hex_digest(std::string_view text) noexcept {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string to_hex(const Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(64, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    text[2 * i] = kDigits[digest[i] >> 4];
    text[2 * i + 1] = kDigits[digest[i] & 0x0f];
  }
  return text;
}

std::optional<Digest> digest_from_hex(std::string_view text) noexcept {
  if (text.size() != 64) return std::nullopt;
  Digest digest{};
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const int high = hex_value(text[2 * i]);
    const int low = hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return digest;
}

std::string fairness_message(UserId user) {
  return std::to_string(user.value);
}

void sort_fair_order(std::vector<FairnessEntry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const FairnessEntry& a, const FairnessEntry& b) {
    if (a.mac != b.mac) return a.mac < b.mac;  // std::array compares bytewise, unsigned
    return a.user < b.user;
  });
}

std::string_view to_string(FairStartPhase phase) noexcept {
  switch (phase) {
    case FairStartPhase::kClosed: return "CLOSED";
    case FairStartPhase::kBeforePrequeue: return "BEFORE_PREQUEUE";
    case FairStartPhase::kPrequeue: return "PREQUEUE";
    case FairStartPhase::kOpenedNotApplied: return "OPENED_NOT_APPLIED";
    case FairStartPhase::kOpen: return "OPEN";
  }
  return "OPEN";
}

FairStartPhase fair_start_phase(Timestamp now, std::optional<Timestamp> prequeue_opens_at, Timestamp booking_opens_at,
                                bool shuffle_applied) noexcept {
  if (!prequeue_opens_at) return now < booking_opens_at ? FairStartPhase::kClosed : FairStartPhase::kOpen;
  if (shuffle_applied) return FairStartPhase::kOpen;
  if (now < *prequeue_opens_at) return FairStartPhase::kBeforePrequeue;
  if (now < booking_opens_at) return FairStartPhase::kPrequeue;
  return FairStartPhase::kOpenedNotApplied;
}

bool enters_prequeue(FairStartPhase phase) noexcept {
  return phase == FairStartPhase::kPrequeue || phase == FairStartPhase::kOpenedNotApplied;
}

std::int64_t prequeue_poll_after_ms(Timestamp now, Timestamp opens_at) noexcept {
  const std::int64_t left = (opens_at - now).count();
  return std::clamp<std::int64_t>(left / 2, 1'000, 30'000);
}

FairnessVerdict verify_fairness(const FairnessReveal& reveal, const FairnessCrypto& crypto,
                                const std::optional<UserPlaceCheck>& user) {
  FairnessVerdict verdict;
  auto& problems = verdict.problems;
  const auto seed = digest_from_hex(reveal.seed);
  if (reveal.seed.empty()) {
    problems.push_back("no seed: it is revealed only after the opening's shuffle was applied");
  } else if (!seed) {
    problems.push_back("seed is not 64 hex digits");
  }
  const auto commitment = digest_from_hex(reveal.commitment);
  if (!commitment) problems.push_back("commitment is not 64 hex digits");
  if (seed && commitment && crypto.sha256(as_bytes_view(*seed)) != *commitment) {
    problems.push_back("SHA-256(seed) does not equal the commitment");
  }
  for (std::size_t i = 0; i < reveal.order.size(); ++i) {
    if (!is_lower_hex_digest(reveal.order[i])) {
      problems.push_back(fmt::format("order[{}] is not 64 lowercase hex digits", i));
      break;
    }
    if (i > 0 && !(reveal.order[i - 1] < reveal.order[i])) {
      problems.push_back(fmt::format("order is not strictly ascending at index {}", i));
      break;
    }
  }
  if (reveal.pre_queued && *reveal.pre_queued != static_cast<std::int64_t>(reveal.order.size())) {
    problems.push_back(
        fmt::format("preQueued is {} but the order lists {} values", *reveal.pre_queued, reveal.order.size()));
  }
  if (user && seed) {
    const auto mac = to_hex(crypto.hmac_sha256(*seed, fairness_message(user->user)));
    verdict.user_mac = mac;
    if (user->expected_mac && *user->expected_mac != mac) {
      problems.push_back(
          fmt::format("HMAC-SHA256(seed, \"{}\") is {}, not {}", user->user.value, mac, *user->expected_mac));
    }
    const auto found = std::lower_bound(reveal.order.begin(), reveal.order.end(), mac);
    if (found != reveal.order.end() && *found == mac) {
      verdict.user_place = static_cast<std::int64_t>(found - reveal.order.begin()) + 1;
    }
  }
  return verdict;
}

}  // namespace ticketing::domain
