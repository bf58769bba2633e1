#include "infra/redis/redis_cluster_slots.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace ticketing::infra::redis {

namespace {

// CRC16/XMODEM (poly 0x1021, init 0), the variant Redis Cluster hashes keys with.
constexpr std::array<std::uint16_t, 256> make_crc_table() {
  std::array<std::uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    auto crc = static_cast<std::uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    table[static_cast<std::size_t>(i)] = crc;
  }
  return table;
}
constexpr std::array<std::uint16_t, 256> kCrcTable = make_crc_table();

std::uint16_t crc16(std::string_view data) noexcept {
  std::uint16_t crc = 0;
  for (char c : data) {
    auto byte = static_cast<std::uint8_t>(c);
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrcTable[((crc >> 8) ^ byte) & 0xFF]);
  }
  return crc;
}

char upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return upper(x) == upper(y); });
}

template <typename Int>
bool parse_int(std::string_view s, Int& out) noexcept {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// `host:port`, split at the last colon (an IPv6 host has colons of its own).
std::optional<NodeAddress> parse_endpoint(std::string_view s) noexcept {
  std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  NodeAddress node;
  if (!parse_int(s.substr(colon + 1), node.port) || node.port == 0) return std::nullopt;
  node.host = std::string(s.substr(0, colon));
  return node;
}

}  // namespace

std::uint16_t key_slot(std::string_view key) noexcept {
  if (std::size_t open = key.find('{'); open != std::string_view::npos) {
    std::size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return static_cast<std::uint16_t>(crc16(key) % kClusterSlots);
}

std::optional<std::string_view> routing_key(std::span<const std::string_view> args) noexcept {
  if (args.size() < 2) return std::nullopt;
  std::string_view verb = args[0];
  if (iequals(verb, "EVAL") || iequals(verb, "EVALSHA") || iequals(verb, "EVAL_RO") || iequals(verb, "EVALSHA_RO") ||
      iequals(verb, "FCALL") || iequals(verb, "FCALL_RO")) {
    std::size_t numkeys = 0;
    if (args.size() < 4 || !parse_int(args[2], numkeys) || numkeys == 0) return std::nullopt;
    return args[3];
  }
  for (std::string_view keyless :
       {"PING",    "ECHO",   "INFO",    "CLUSTER",  "SCRIPT",   "FUNCTION",  "CONFIG", "COMMAND",
        "TIME",    "DBSIZE", "FLUSHDB", "FLUSHALL", "CLIENT",   "ROLE",      "MEMORY", "SLOWLOG",
        "LATENCY", "AUTH",   "HELLO",   "SELECT",   "READONLY", "READWRITE", "ASKING"}) {
    if (iequals(verb, keyless)) return std::nullopt;
  }
  return args[1];
}

std::string NodeAddress::to_string() const {
  return host.find(':') != std::string::npos ? '[' + host + "]:" + std::to_string(port)
                                             : host + ':' + std::to_string(port);
}

std::optional<Redirect> parse_redirect(std::string_view error) noexcept {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    r.kind = Redirect::Kind::kMoved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.kind = Redirect::Kind::kAsk;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  std::size_t space = error.find(' ');
  if (space == std::string_view::npos || !parse_int(error.substr(0, space), r.slot) || r.slot >= kClusterSlots)
    return std::nullopt;
  auto node = parse_endpoint(error.substr(space + 1));
  if (!node) return std::nullopt;
  r.node = std::move(*node);
  return r;
}

bool is_transient_cluster_error(std::string_view error) noexcept {
  return error.starts_with("TRYAGAIN") || error.starts_with("CLUSTERDOWN");
}

std::uint16_t SlotMap::index_of(const NodeAddress& node) {
  auto it = std::find(masters_.begin(), masters_.end(), node);
  if (it != masters_.end()) return static_cast<std::uint16_t>(it - masters_.begin());
  masters_.push_back(node);
  return static_cast<std::uint16_t>(masters_.size() - 1);
}

SlotMap SlotMap::from_cluster_slots(const RedisReply& reply, std::string_view queried_host) {
  auto bad = [](const std::string& why) { return std::runtime_error("unexpected CLUSTER SLOTS reply: " + why); };
  if (!reply.is_array()) throw bad(reply.to_string());
  SlotMap map;
  for (const RedisReply& range : reply.elements) {
    if (!range.is_array() || range.elements.size() < 3 || !range.elements[0].is_integer() ||
        !range.elements[1].is_integer())
      throw bad(range.to_string());
    long long start = range.elements[0].integer;
    long long end = range.elements[1].integer;
    if (start < 0 || end >= kClusterSlots || start > end) throw bad("slot range " + range.to_string());
    const RedisReply& master = range.elements[2];
    if (!master.is_array() || master.elements.size() < 2 || !master.elements[0].is_string() ||
        !master.elements[1].is_integer() || master.elements[1].integer <= 0 || master.elements[1].integer > 65535)
      throw bad("node " + master.to_string());
    NodeAddress node{master.elements[0].str, static_cast<std::uint16_t>(master.elements[1].integer)};
    // Redis answers "" (or "?" in some versions) when the node does not know its address.
    if (node.host.empty() || node.host == "?") node.host = std::string(queried_host);
    std::uint16_t index = map.index_of(node);
    std::fill(map.owner_.begin() + start, map.owner_.begin() + end + 1, index);
  }
  return map;
}

const NodeAddress* SlotMap::master_for(std::uint16_t slot) const noexcept {
  if (slot >= kClusterSlots) return nullptr;
  std::uint16_t index = owner_[slot];
  return index == kNoNode ? nullptr : &masters_[index];
}

SlotMap SlotMap::with_slot(std::uint16_t slot, const NodeAddress& node) const {
  SlotMap copy = *this;
  if (slot < kClusterSlots) copy.owner_[slot] = copy.index_of(node);
  return copy;
}

}  // namespace ticketing::infra::redis
