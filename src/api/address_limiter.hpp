#pragma once
// Per client address limits of the anonymous and sign-in endpoints (DESIGN.md §12, §15).
//
// Token buckets kept in this process: the decision costs a hash lookup under a striped lock and no
// I/O, so it can sit in front of every anonymous GET. The price is that each instance counts on its
// own (N instances let an address through N times as often); the sign-in attempt limits of
// AuthService stay in Redis and hold across instances (docs/limits.md).
//
// The map is capped: past `max_addresses` the least recently seen address is forgotten, which only
// gives it a full bucket again, as a new address would get anyway.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ticketing::api {

// A token bucket: `burst` requests at once, refilled at `per_second`.
struct BucketLimit {
  double per_second = 0;
  double burst = 0;
};

// An IPv4 or IPv6 network, "10.0.0.0/8", "::1/128" or a plain address (a host).
class AddressRange {
 public:
  // nullopt when `text` is not an address with an optional /prefix in range.
  static std::optional<AddressRange> parse(std::string_view text);
  // `address` as http::client_address writes it: IPv4, or an IPv6 /64 ("2001:db8::/64"), whose
  // first 64 bits are compared (a longer prefix matches the /64 it lies in). False for non-addresses.
  bool contains(std::string_view address) const;

 private:
  bool v6_ = false;
  std::array<std::uint8_t, 16> bytes_{};
  int prefix_ = 0;
};

// Parses a comma-separated list of ranges (spaces allowed); nullopt when one is not a range.
std::optional<std::vector<AddressRange>> parse_address_ranges(std::string_view text);

class AddressLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::size_t kStripes = 16;

  AddressLimiter(BucketLimit limit, std::size_t max_addresses, Clock clock = {});

  // Takes one token for `address`; nullopt when allowed, else the whole seconds (≥ 1) until a token
  // is back. An empty address (peer unknown) is never limited.
  std::optional<std::chrono::seconds> take(std::string_view address);

  std::size_t size() const;  // addresses remembered now
  std::size_t capacity() const noexcept { return stripe_capacity_ * kStripes; }
  std::uint64_t evicted() const;  // addresses forgotten because the map was full

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point updated;
    std::list<std::string>::iterator recency;  // position in Stripe::order (front = most recent)
  };
  struct Stripe {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
    std::list<std::string> order;
    std::uint64_t evicted = 0;
  };

  BucketLimit limit_;
  std::size_t stripe_capacity_;
  Clock clock_;
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace ticketing::api
