#include "api/address_limiter.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>

namespace ticketing::api {

std::optional<AddressRange> AddressRange::parse(std::string_view text) {
  const auto first = text.find_first_not_of(' ');
  if (first == std::string_view::npos) return std::nullopt;
  text = text.substr(first, text.find_last_not_of(' ') - first + 1);
  const auto slash = text.find('/');
  const std::string address(text.substr(0, slash));
  AddressRange range;
  if (::inet_pton(AF_INET, address.c_str(), range.bytes_.data()) == 1) {
    range.prefix_ = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), range.bytes_.data()) == 1) {
    range.v6_ = true;
    range.prefix_ = 128;
  } else {
    return std::nullopt;
  }
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    const int prefix = std::stoi(std::string(digits));
    if (prefix > range.prefix_) return std::nullopt;
    range.prefix_ = prefix;
  }
  return range;
}

bool AddressRange::contains(std::string_view address) const {
  std::array<std::uint8_t, 16> bytes{};
  int prefix = prefix_;
  if (!v6_) {
    if (::inet_pton(AF_INET, std::string(address).c_str(), bytes.data()) != 1) return false;
  } else {
    // An IPv6 client is its /64 ("2001:db8:1:2::/64"): only its first 64 bits are known.
    const std::string network(address.substr(0, address.find('/')));
    if (::inet_pton(AF_INET6, network.c_str(), bytes.data()) != 1) return false;
    prefix = std::min(prefix, 64);
  }
  const int whole = prefix / 8;
  if (!std::equal(bytes.begin(), bytes.begin() + whole, bytes_.begin())) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (bytes[whole] & mask) == (bytes_[whole] & mask);
}

std::optional<std::vector<AddressRange>> parse_address_ranges(std::string_view text) {
  std::vector<AddressRange> ranges;
  if (text.find_first_not_of(' ') == std::string_view::npos) return ranges;
  while (true) {
    const auto comma = text.find(',');
    auto range = AddressRange::parse(text.substr(0, comma));
    if (!range) return std::nullopt;
    ranges.push_back(*range);
    if (comma == std::string_view::npos) return ranges;
    text = text.substr(comma + 1);
  }
}

AddressLimiter::AddressLimiter(BucketLimit limit, std::size_t max_addresses, Clock clock)
    : limit_(limit),
      stripe_capacity_(std::max<std::size_t>(1, (max_addresses + kStripes - 1) / kStripes)),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

std::optional<std::chrono::seconds> AddressLimiter::take(std::string_view address) {
  if (address.empty()) return std::nullopt;
  const auto now = clock_();
  Stripe& stripe = stripes_[std::hash<std::string_view>{}(address) % kStripes];
  std::lock_guard lock(stripe.mutex);
  auto found = stripe.buckets.find(std::string(address));
  if (found == stripe.buckets.end()) {
    if (stripe.buckets.size() >= stripe_capacity_) {
      stripe.buckets.erase(stripe.order.back());
      stripe.order.pop_back();
      ++stripe.evicted;
    }
    stripe.order.emplace_front(address);
    found = stripe.buckets.emplace(stripe.order.front(), Bucket{limit_.burst, now, stripe.order.begin()}).first;
  } else {
    stripe.order.splice(stripe.order.begin(), stripe.order, found->second.recency);
  }
  Bucket& bucket = found->second;
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  bucket.tokens = std::min(limit_.burst, bucket.tokens + std::max(0.0, elapsed) * limit_.per_second);
  bucket.updated = now;
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return std::nullopt;
  }
  // Whole seconds until one token has come back, at least 1.
  const double wait = limit_.per_second > 0 ? (1.0 - bucket.tokens) / limit_.per_second : 3600.0;
  return std::chrono::seconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait))));
}

std::size_t AddressLimiter::size() const {
  std::size_t total = 0;
  for (const auto& stripe : stripes_) {
    std::lock_guard lock(stripe.mutex);
    total += stripe.buckets.size();
  }
  return total;
}

std::uint64_t AddressLimiter::evicted() const {
  std::uint64_t total = 0;
  for (const auto& stripe : stripes_) {
    std::lock_guard lock(stripe.mutex);
    total += stripe.evicted;
  }
  return total;
}

}  // namespace ticketing::api
