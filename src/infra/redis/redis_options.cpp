#include "infra/redis/redis_options.hpp"

#include <charconv>
#include <stdexcept>

namespace ticketing::infra::redis {

namespace {

[[noreturn]] void fail(std::string_view reason) {
  throw std::invalid_argument(
      "invalid Redis URL (expected redis://[[user]:password@]host[:port][/db] or "
      "redis-cluster://[[user]:password@]host[:port][,host[:port]...]): " +
      std::string(reason));
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s, std::string_view what) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) fail("truncated percent-escape in " + std::string(what));
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) fail("bad percent-escape in " + std::string(what));
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool valid_hostname(std::string_view host) {
  for (char c : host) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool valid_ipv6(std::string_view host) {
  for (char c : host) {
    bool ok = hex_value(c) >= 0 || c == ':' || c == '.';
    if (!ok) return false;
  }
  return host.find(':') != std::string_view::npos;
}

// `host[:port]` or `[v6]:port`; the port stays as it is when absent.
void parse_authority(std::string_view authority, std::string& host_out, uint16_t& port_out) {
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) fail("unterminated '[' in IPv6 host");
    host = authority.substr(1, close - 1);
    if (!valid_ipv6(host)) fail("bad IPv6 address");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail("unexpected characters after ']'");
      port = after.substr(1);
      if (port.empty()) fail("empty port");
    }
  } else {
    std::size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) fail("empty port");
    }
    if (!valid_hostname(host)) fail("bad host name");
  }
  if (host.empty()) fail("missing host");
  host_out = std::string(host);

  if (!port.empty()) {
    unsigned port_value = 0;
    auto [port_end, port_ec] = std::from_chars(port.data(), port.data() + port.size(), port_value);
    if (!all_digits(port) || port_ec != std::errc() || port_end != port.data() + port.size() || port_value == 0 ||
        port_value > 65535)
      fail("port must be a number from 1 to 65535");
    port_out = static_cast<uint16_t>(port_value);
  }
}

// Splits `[[user]:password@]rest` into options' credentials and returns rest.
std::string_view take_userinfo(std::string_view rest, RedisOptions& options) {
  if (std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos)
      fail("credentials need a password after a colon: redis://[user]:password@host:port");
    options.username = percent_decode(userinfo.substr(0, colon), "username");
    options.password = percent_decode(userinfo.substr(colon + 1), "password");
    if (options.password.empty()) fail("empty password (leave out the credentials for no password)");
  }
  return rest;
}

RedisOptions parse_cluster_url(std::string_view rest) {
  if (rest.find_first_of("?#") != std::string_view::npos) fail("query strings and fragments are not supported");
  RedisOptions options;
  rest = take_userinfo(rest, options);
  if (rest.find('/') != std::string_view::npos) fail("a cluster has no db: leave out the /db path");
  for (;;) {
    std::size_t comma = rest.find(',');
    RedisSeedNode seed;
    parse_authority(rest.substr(0, comma), seed.host, seed.port);
    options.cluster_nodes.push_back(std::move(seed));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  options.host = options.cluster_nodes.front().host;
  options.port = options.cluster_nodes.front().port;
  return options;
}

}  // namespace

RedisOptions parse_redis_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  constexpr std::string_view kClusterScheme = "redis-cluster://";
  if (iequals_prefix(url, kClusterScheme)) return parse_cluster_url(url.substr(kClusterScheme.size()));
  if (!iequals_prefix(url, kScheme)) {
    if (iequals_prefix(url, "rediss://")) fail("TLS (rediss://) is not supported");
    fail("scheme must be redis:// or redis-cluster://");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) fail("query strings and fragments are not supported");

  // The password may contain '/' (percent-encoded or not), so split userinfo off first.
  RedisOptions options;
  rest = take_userinfo(rest, options);

  std::string_view authority = rest;
  std::string_view path;
  if (std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }

  parse_authority(authority, options.host, options.port);

  if (!path.empty()) {
    int db = 0;
    auto [db_end, db_ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    // Redis' `databases` setting is configurable, so only the type of the number is checked here.
    if (!all_digits(path) || db_ec != std::errc() || db_end != path.data() + path.size() || db > 1'000'000)
      fail("db must be a non-negative integer");
    options.db = db;
  }
  return options;
}

std::string redacted_url(const RedisOptions& options) {
  std::string out = options.cluster() ? "redis-cluster://" : "redis://";
  if (!options.password.empty()) out += options.username + ":***@";
  auto append_node = [&out](const std::string& host, uint16_t port) {
    out += host.find(':') != std::string::npos ? '[' + host + ']' : host;
    out += ':' + std::to_string(port);
  };
  if (options.cluster()) {
    for (std::size_t i = 0; i < options.cluster_nodes.size(); ++i) {
      if (i != 0) out += ',';
      append_node(options.cluster_nodes[i].host, options.cluster_nodes[i].port);
    }
    return out;
  }
  append_node(options.host, options.port);
  if (options.db != 0) out += '/' + std::to_string(options.db);
  return out;
}

}  // namespace ticketing::infra::redis
