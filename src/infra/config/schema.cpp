// The key table and the value syntax (durations, byte sizes, booleans, database URLs).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>

#include "infra/config/config.hpp"
#include "infra/security/ticket_payload.hpp"

namespace ticketing::infra::config {

namespace {

std::string join_problems(const std::vector<std::string>& problems, const std::vector<std::string>& warnings) {
  std::string out;
  if (problems.size() == 1) {
    out = problems.front();
  } else {
    out = std::to_string(problems.size()) + " configuration problems:";
    for (const auto& p : problems) out += "\n  - " + p;
  }
  for (const auto& w : warnings) out += "\nwarning: " + w;
  return out;
}

constexpr std::int64_t kMs = 1;
constexpr std::int64_t kSec = 1000 * kMs;
constexpr std::int64_t kMin = 60 * kSec;
constexpr std::int64_t kHour = 60 * kMin;
constexpr std::int64_t kKiB = 1024;
constexpr std::int64_t kMiB = 1024 * kKiB;
constexpr std::int64_t kGiB = 1024 * kMiB;

bool parse_u64(std::string_view digits, std::uint64_t& out) {
  if (digits.empty()) return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc{} && ptr == digits.data() + digits.size();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---- string checks used by the schema ----

std::string check_non_empty(std::string_view v) {
  return v.empty() ? "a non-empty value" : "";
}

std::string check_ticket_seed(std::string_view v) {
  if (v.empty() || security::parse_ticket_seed(v)) return "";
  return "32 bytes as 64 hex digits or base64 (e.g. the output of `openssl rand -hex 32`)";
}

std::string check_address(std::string_view v) {
  if (v.empty() || v.find_first_of(" \t/") != std::string_view::npos)
    return "an IP address or host name (e.g. 0.0.0.0, 127.0.0.1, ::)";
  return "";
}

std::string check_db_url(std::string_view v) {
  try {
    (void)parse_db_url(v);
    return "";
  } catch (const ConfigError& e) {
    return std::string("mysql://user:password@host:port/database (") + e.what() + ")";
  }
}

bool valid_port(std::string_view p) {
  std::uint64_t n = 0;
  return parse_u64(p, n) && n >= 1 && n <= 65535;
}

std::string check_redis_url(std::string_view v) {
  constexpr std::string_view kWhat =
      "a URL redis://[[user]:password@]host[:port][/db] or redis-cluster://[[user]:password@]host:port[,host:port...]";
  std::string_view rest;
  bool cluster = false;
  if (v.starts_with("redis://")) {
    rest = v.substr(8);
  } else if (v.starts_with("rediss://")) {
    rest = v.substr(9);
  } else if (v.starts_with("redis-cluster://")) {
    rest = v.substr(16);
    cluster = true;
  } else {
    return std::string(kWhat);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (cluster && rest.find('/') != std::string_view::npos) return std::string(kWhat) + " (a cluster has no /db)";
  rest = rest.substr(0, rest.find('/'));
  // A cluster URL lists seed nodes separated by commas; each is checked like a single host.
  for (;;) {
    std::string_view node = rest.substr(0, cluster ? rest.find(',') : std::string_view::npos);
    if (node.empty() || node.front() == ':') return std::string(kWhat) + " (missing host)";
    if (node.front() != '[') {
      if (auto colon = node.find(':'); colon != std::string_view::npos && !valid_port(node.substr(colon + 1)))
        return std::string(kWhat) + " (bad port)";
    }
    if (node.size() == rest.size()) break;
    rest = rest.substr(node.size() + 1);
  }
  return "";
}

std::string check_address_list(std::string_view v) {
  constexpr std::string_view kWhat = "comma-separated IP addresses (e.g. 10.0.0.5,10.0.0.6), or empty";
  if (v.empty()) return "";
  std::size_t start = 0;
  while (true) {
    const auto comma = v.find(',', start);
    const auto item = v.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty() || item.size() > 45 ||
        item.find_first_not_of("0123456789abcdefABCDEF.:") != std::string_view::npos)
      return std::string(kWhat);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return "";
}

// Address ranges ("127.0.0.0/8,::1/128"): the characters only; the app parses each range at start-up.
std::string check_range_list(std::string_view v) {
  if (v.find_first_not_of("0123456789abcdefABCDEF.:/, ") != std::string_view::npos || v.size() > 4096) {
    return "comma-separated IP addresses or networks (e.g. 127.0.0.0/8,::1/128), or empty";
  }
  return "";
}

std::string check_host_port_list(std::string_view v) {
  constexpr std::string_view kWhat = "a comma-separated list of host:port (e.g. 127.0.0.1:19092)";
  if (v.empty()) return std::string(kWhat);
  std::size_t start = 0;
  while (start <= v.size()) {
    auto comma = v.find(',', start);
    auto item = v.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto colon = item.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || !valid_port(item.substr(colon + 1)) ||
        item.find(' ') != std::string_view::npos)
      return std::string(kWhat);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return "";
}

// clang-format off
const std::array kSchema{
  // ---- http ----
  KeySpec{"http.address", ValueType::kString, "0.0.0.0", "Address the HTTP server listens on.", 0, 0, {}, Secret::kNo, check_address},
  KeySpec{"http.port", ValueType::kInt, "8080", "HTTP port (0 = pick a free port).", 0, 65535},
  KeySpec{"http.threads", ValueType::kInt, "0", "I/O threads (0 = one per CPU core).", 0, 1024},
  KeySpec{"http.max-body", ValueType::kByteSize, "64KiB", "Largest accepted request body; bigger is 413.", kKiB, 64 * kMiB},
  KeySpec{"http.read-timeout", ValueType::kDuration, "10s", "Time allowed to read request headers, and idle time while reading a body.", 1, kHour},
  KeySpec{"http.idle-timeout", ValueType::kDuration, "60s", "Keep-alive connection idle time before it is closed.", 1, 24 * kHour},
  KeySpec{"http.shutdown-timeout", ValueType::kDuration, "10s", "Grace period for in-flight requests on shutdown.", 0, 10 * kMin},
  KeySpec{"http.max-header", ValueType::kByteSize, "16KiB", "Largest accepted request header block; bigger is 431.", kKiB, kMiB},
  KeySpec{"http.trusted-proxies", ValueType::kString, "", "Comma-separated addresses of proxies whose X-Forwarded-For names the client (per-address limits).", 0, 0, {}, Secret::kNo, check_address_list},
  KeySpec{"http.max-connections", ValueType::kInt, "50000", "Open connections the server keeps; past it a new connection is closed at once.", 1, 10'000'000},
  KeySpec{"http.anonymous-rate", ValueType::kInt, "50", "Requests per second per client address to the anonymous endpoints (token bucket; 0 = no limit).", 0, 1'000'000},
  KeySpec{"http.anonymous-burst", ValueType::kInt, "500", "Requests per client address the anonymous endpoints take at once before the rate applies.", 1, 10'000'000},
  KeySpec{"http.sign-in-rate", ValueType::kInt, "10", "Requests per second per client address to /auth/* (token bucket; 0 = no limit).", 0, 1'000'000},
  KeySpec{"http.sign-in-burst", ValueType::kInt, "100", "Requests per client address /auth/* takes at once before the rate applies.", 1, 10'000'000},
  KeySpec{"http.rate-limit-addresses", ValueType::kInt, "100000", "Client addresses each per-address limit remembers; past it the least recently seen is forgotten.", 16, 100'000'000},
  KeySpec{"http.rate-limit-exempt", ValueType::kString, "127.0.0.0/8,::1/128", "Comma-separated client addresses or networks never limited per address (empty: none).", 0, 0, {}, Secret::kNo, check_range_list},
  // ---- web ----
  KeySpec{"web.root", ValueType::kString, "web/dist", "Directory of the built web app served at / (relative to the working directory); empty: serve the API only.", 0, 0},
  // ---- db ----
  KeySpec{"db.url", ValueType::kString, "mysql://ticketing:ticketing@127.0.0.1:13306/ticketing", "MySQL/MariaDB URL mysql://user:password@host:port/database.", 0, 0, {}, Secret::kUrlPassword, check_db_url},
  KeySpec{"db.pool-size", ValueType::kInt, "16", "Database connections in the pool.", 1, 512},
  KeySpec{"db.payment-pool-size", ValueType::kInt, "4", "Connections of the money paths (ready, the gateway callback), apart from the request pool.", 1, 512},
  KeySpec{"db.hold-pool-size", ValueType::kInt, "8", "Connections of seat holds and releases, apart from the request pool.", 1, 512},
  KeySpec{"db.worker-pool-size", ValueType::kInt, "2", "Connections of the background jobs (confirmations, outbox relay, expiry), apart from the request pool.", 1, 64},
  KeySpec{"db.max-queue", ValueType::kInt, "1024", "Blocking DB calls that may wait for a connection before 503.", 0, 1000000},
  KeySpec{"db.pool-wait-timeout", ValueType::kDuration, "2s", "Longest wait for a pooled connection before 503.", 1, 10 * kMin},
  KeySpec{"db.connect-timeout", ValueType::kDuration, "2s", "Timeout for opening a database connection.", 1, 10 * kMin},
  KeySpec{"db.query-timeout", ValueType::kDuration, "10s", "Read/write timeout of one database call.", 1, kHour},
  // ---- redis ----
  KeySpec{"redis.url", ValueType::kString, "redis://127.0.0.1:16379", "Redis URL redis://[[user]:password@]host:port[/db], or redis-cluster://[[user]:password@]host:port[,host:port...] for a Redis Cluster (seed nodes).", 0, 0, {}, Secret::kUrlPassword, check_redis_url},
  KeySpec{"redis.command-timeout", ValueType::kDuration, "1s", "Timeout of one Redis command.", 1, 10 * kMin},
  KeySpec{"redis.connect-timeout", ValueType::kDuration, "1s", "Timeout for connecting to Redis.", 1, 10 * kMin},
  // ---- kafka ----
  KeySpec{"kafka.bootstrap-servers", ValueType::kString, "127.0.0.1:19092", "Kafka brokers, comma-separated host:port.", 0, 0, {}, Secret::kNo, check_host_port_list},
  KeySpec{"kafka.client-id", ValueType::kString, "ticketing", "Kafka client.id of producers and consumers.", 0, 0, {}, Secret::kNo, check_non_empty},
  KeySpec{"kafka.topic-prefix", ValueType::kString, "", "Prefix of every topic and consumer group name (keeps test or staging traffic apart on a shared broker).", 0, 0},
  KeySpec{"kafka.relay-interval", ValueType::kDuration, "100ms", "How often the outbox relay looks for unpublished events (it is also woken by each payment).", 10, kHour},
  KeySpec{"kafka.relay-batch", ValueType::kInt, "500", "Outbox events published per relay transaction.", 1, 10000},
  KeySpec{"kafka.outbox-retention", ValueType::kDuration, "168h", "How long published outbox rows and processed-event ids are kept before they are purged.", kSec, 8760 * kHour},
  KeySpec{"kafka.purge-interval", ValueType::kDuration, "1m", "How often the retention purge runs.", 100, 24 * kHour},
  KeySpec{"kafka.producer-rebuild-backoff", ValueType::kDuration, "1s", "Wait before replacing a Kafka producer that hit a fatal error; doubles while replacements fail again, up to 30 s (or this value when larger).", 10, kMin},
  KeySpec{"kafka.consumer-batch", ValueType::kInt, "200", "PaymentCompleted events the confirmation consumer settles per offset commit.", 1, 10000},
  // ---- queue ----
  KeySpec{"queue.max-active", ValueType::kInt, "100", "Users per schedule holding an active (admitted) slot.", 1, 1000000},
  KeySpec{"queue.admit-per-second", ValueType::kInt, "50", "Most users admitted per schedule per second.", 1, 1000000},
  KeySpec{"queue.admit-on-arrival", ValueType::kBool, "true", "Admit an arrival on enter when nobody waits, a slot is free and the rate allows (false: every arrival waits for an admission round).", 0, 0},
  KeySpec{"queue.heartbeat-timeout", ValueType::kDuration, "30s", "A waiter silent this long is dropped from the queue.", 100, 24 * kHour},
  KeySpec{"queue.active-ttl", ValueType::kDuration, "5m", "How long an admitted slot (and its token) lasts.", 100, 24 * kHour},
  KeySpec{"queue.admission-interval", ValueType::kDuration, "200ms", "How often the admission job runs.", 10, kMin},
  KeySpec{"queue.pow-threshold", ValueType::kInt, "0", "Arrivals per schedule per second past which entering needs a proof-of-work solution (0: never).", 0, 100000000},
  KeySpec{"queue.pow-difficulty", ValueType::kInt, "17", "Leading zero bits of SHA-256(challenge + nonce) a solution needs (17: about 0.3 s of a desktop browser, 1-1.5 s of a phone).", 1, 40},
  KeySpec{"queue.pow-challenge-ttl", ValueType::kDuration, "2m", "How long a proof-of-work challenge may be used.", 100, kHour},
  KeySpec{"queue.pow-secret", ValueType::kString, "", "HMAC key signing proof-of-work challenges (at least 32 bytes).", 0, 0, {}, Secret::kYes},
  KeySpec{"queue.idle-retire-after", ValueType::kDuration, "10m", "A schedule with nobody waiting, pre-queued or admitted for this long leaves the admission job's list (entering brings it back).", kSec, 7 * 24 * kHour},
  // ---- hold ----
  KeySpec{"hold.ttl", ValueType::kDuration, "5m", "How long a seat hold lasts before it expires.", kSec, kHour},
  KeySpec{"hold.max-total", ValueType::kDuration, "15m", "Longest a seat may stay held in all, counting the extension `ready` gives it for its order.", kSec, 24 * kHour},
  KeySpec{"hold.max-seats-per-user", ValueType::kInt, "4", "Most HELD+CONFIRMED seats one user may have per schedule.", 1, 50},
  KeySpec{"hold.expiry-interval", ValueType::kDuration, "1s", "How often the expiry job runs (an expired hold reaches the live seat map this late at most).", 10, kHour},
  KeySpec{"hold.expiry-batch", ValueType::kInt, "500", "Rows the expiry job handles per transaction.", 1, 100000},
  // ---- payment ----
  KeySpec{"payment.order-ttl", ValueType::kDuration, "10m", "How long a READY payment order stays payable.", kSec, 24 * kHour},
  KeySpec{"payment.gateway-secret", ValueType::kString, "", "HMAC key of the payment gateway's signed callback (Gateway-Signature).", 0, 0, {}, Secret::kYes},
  KeySpec{"payment.reconcile-after", ValueType::kDuration, "2m", "A CONFIRMING order is settled against the database by this age at the latest, whatever happened to its event.", kSec, 24 * kHour},
  KeySpec{"payment.reconcile-interval", ValueType::kDuration, "10s", "How often the reconciler looks for CONFIRMING orders (less than half of payment.reconcile-after).", 100, kHour},
  KeySpec{"payment.gateway-plain-secret", ValueType::kBool, "false", "Also accept the secret itself in X-Gateway-Secret (curl demos; refused in prod).", 0, 0},
  KeySpec{"payment.gateway-signature-tolerance", ValueType::kDuration, "5m", "How far a Gateway-Signature time may be from now.", kSec, kHour},
  KeySpec{"payment.mock-gateway", ValueType::kBool, "false", "Serve POST /dev/gateway/pay, the web app's mock gateway page's callback (dev/test; refused in prod).", 0, 0},
  // ---- security ----
  KeySpec{"security.token-secret", ValueType::kString, "", "HMAC key signing queue tokens (at least 32 bytes).", 0, 0, {}, Secret::kYes},
  KeySpec{"security.token-ttl", ValueType::kDuration, "10m", "Lifetime of an issued queue token.", kSec, 24 * kHour},
  KeySpec{"security.access-token-secret", ValueType::kString, "", "HMAC key signing access tokens (at least 32 bytes, not the queue tokens' key).", 0, 0, {}, Secret::kYes},
  KeySpec{"security.access-token-ttl", ValueType::kDuration, "15m", "Lifetime of an access token.", kMin, 24 * kHour},
  KeySpec{"security.refresh-token-ttl", ValueType::kDuration, "336h", "Lifetime of a refresh token (a sign-in lasts this long unused).", kHour, 2160 * kHour},
  KeySpec{"security.cookie-secure", ValueType::kBool, "true", "Mark the refresh-token cookie Secure (HTTPS only).", 0, 0},
  // ---- ticket ----
  KeySpec{"ticket.signing-seed", ValueType::kString, "", "Ed25519 seed signing e-ticket QR payloads: 32 bytes as 64 hex digits or base64 (docs/tickets.md).", 0, 0, {}, Secret::kYes, check_ticket_seed},
  // ---- auth ----
  KeySpec{"auth.hash-threads", ValueType::kInt, "2", "Threads hashing and verifying passwords (never the I/O threads).", 1, 64},
  KeySpec{"auth.hash-queue", ValueType::kInt, "64", "Password hashes that may wait or run at once; beyond it sign-in answers 503.", 1, 100000},
  KeySpec{"auth.argon2-ops", ValueType::kInt, "2", "Argon2id passes over memory (libsodium opslimit).", 1, 20},
  KeySpec{"auth.argon2-memory", ValueType::kByteSize, "19MiB", "Argon2id memory per hash (libsodium memlimit).", 8 * kKiB, kGiB},
  KeySpec{"auth.login-failure-limit", ValueType::kInt, "10", "Failed sign-ins per account per window before 429.", 1, 1000000},
  KeySpec{"auth.login-failure-window", ValueType::kDuration, "15m", "Window of the failed sign-in limit.", kSec, 24 * kHour},
  KeySpec{"auth.address-limit", ValueType::kInt, "600", "Sign-in and sign-up attempts per client address per window before 429.", 1, 100000000},
  KeySpec{"auth.address-failure-limit", ValueType::kInt, "100", "Failed sign-ins per client address per window (any accounts) before 429.", 1, 100000000},
  KeySpec{"auth.address-window", ValueType::kDuration, "1m", "Window of the per-address limits.", kSec, 24 * kHour},
  // ---- log ----
  KeySpec{"log.level", ValueType::kEnum, "info", "Log level.", 0, 0, "trace|debug|info|warn|error"},
  KeySpec{"log.access", ValueType::kBool, "true", "Write one access-log line per HTTP request.", 0, 0},
  KeySpec{"log.format", ValueType::kEnum, "text", "Log line format.", 0, 0, "text|json"},
  // ---- metrics ----
  KeySpec{"metrics.enabled", ValueType::kBool, "true", "Serve /actuator/prometheus and collect metrics.", 0, 0},
  // ---- sse (live seat map) ----
  KeySpec{"sse.coalesce", ValueType::kDuration, "250ms", "Seat changes of one schedule are merged into one delta event over at most this long.", 10, 10 * kSec},
  KeySpec{"sse.history", ValueType::kInt, "1024", "Versions of each schedule's deltas kept (Redis and memory) for clients resuming with Last-Event-ID.", 16, 1000000},
  KeySpec{"sse.history-ttl", ValueType::kDuration, "1h", "A schedule's delta history expires this long after its last change.", kMin, 30 * 24 * kHour},
  KeySpec{"sse.keepalive", ValueType::kDuration, "15s", "Interval of the comment line that keeps idle streams open through proxies.", 100, 10 * kMin},
  KeySpec{"sse.max-streams", ValueType::kInt, "20000", "Streams one instance serves at once; beyond it 503 with Retry-After.", 1, 10000000},
  KeySpec{"sse.max-buffered", ValueType::kByteSize, "256KiB", "Bytes a stream may have waiting for a slow client before it is dropped (it reconnects with its last id).", 4 * kKiB, 64 * kMiB},
  // ---- role ----
  KeySpec{"role", ValueType::kEnum, "all", "What this process runs: api (HTTP), worker (jobs, consumers) or all.", 0, 0, "api|worker|all"},
};
// clang-format on

// TICKETING_*_CLUSTER_*: where the `cluster` tests' engines are (tests/cluster/, scripts/test).
constexpr std::array<std::string_view, 5> kKnownNonKeyEnv{"TICKETING_PROFILE", "TICKETING_CONFIG_DIR",
                                                          "TICKETING_TEST_ROOT", "TICKETING_REDIS_CLUSTER_NODES",
                                                          "TICKETING_KAFKA_CLUSTER_BOOTSTRAP"};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Returns false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace

ConfigError::ConfigError(std::string message) : std::runtime_error(message), problems_{std::move(message)} {}

ConfigError::ConfigError(std::vector<std::string> problems, const std::vector<std::string>& warnings)
    : std::runtime_error(join_problems(problems, warnings)), problems_(std::move(problems)) {}

std::span<const KeySpec> schema() {
  return kSchema;
}

const KeySpec* find_key(std::string_view key) {
  for (const auto& spec : kSchema)
    if (spec.key == key) return &spec;
  return nullptr;
}

std::string env_var_for_key(std::string_view key) {
  std::string out = "TICKETING_";
  for (char c : key) {
    if (c == '.' || c == '-')
      out += '_';
    else
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::span<const std::string_view> known_non_key_env_vars() {
  return kKnownNonKeyEnv;
}

std::chrono::milliseconds parse_duration(std::string_view text) {
  const std::string what = "a duration with a unit ms, s, m or h (e.g. 250ms, 10s, 5m, 1h)";
  if (text.empty()) throw ConfigError(what);
  std::uint64_t plain = 0;
  if (parse_u64(text, plain))
    throw ConfigError(fmt::format("a duration, and a unit is needed (e.g. {}ms or {}s)", text, text));
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    std::uint64_t n = 0;
    if (!parse_u64(text.substr(start, i - start), n)) throw ConfigError(what);
    std::size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    std::int64_t mult = 0;
    if (unit == "ms")
      mult = kMs;
    else if (unit == "s")
      mult = kSec;
    else if (unit == "m")
      mult = kMin;
    else if (unit == "h")
      mult = kHour;
    else
      throw ConfigError(what);
    constexpr auto kLimit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 4);
    if (n > kLimit / static_cast<std::uint64_t>(mult)) throw ConfigError(what + "; value too large");
    total += static_cast<std::int64_t>(n) * mult;
    if (total > static_cast<std::int64_t>(kLimit)) throw ConfigError(what + "; value too large");
  }
  return std::chrono::milliseconds(total);
}

std::uint64_t parse_byte_size(std::string_view text) {
  const std::string what = "a byte size (e.g. 65536, 64KiB, 1MiB, 1GiB)";
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  std::uint64_t n = 0;
  if (!parse_u64(text.substr(0, i), n)) throw ConfigError(what);
  std::string unit = lower(text.substr(i));
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "kib")
    mult = kKiB;
  else if (unit == "mib")
    mult = kMiB;
  else if (unit == "gib")
    mult = kGiB;
  else if (unit == "k" || unit == "kb" || unit == "m" || unit == "mb" || unit == "g" || unit == "gb")
    throw ConfigError(what + "; write KiB, MiB or GiB (powers of 1024)");
  else
    throw ConfigError(what);
  if (n > (std::uint64_t{1} << 50) / mult) throw ConfigError(what + "; value too large");
  return n * mult;
}

bool parse_bool(std::string_view text) {
  std::string v = lower(text);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  throw ConfigError("a boolean (true or false)");
}

std::string mask_url_password(std::string_view url) {
  auto scheme_end = url.find("://");
  // Without a well-formed scheme, mask from the first ':' on (more than needed, never less).
  auto auth_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  // The last '@' ends the user-info, so an unencoded '@' or '/' in a password is still masked.
  auto at = url.rfind('@');
  if (at == std::string_view::npos || at < auth_start) return std::string(url);
  auto colon = url.find(':', auth_start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  std::string out(url.substr(0, colon + 1));
  out += "******";
  out += url.substr(at);
  return out;
}

DbUrl parse_db_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("mysql://")) {
    rest = url.substr(8);
  } else if (url.starts_with("mariadb://")) {
    rest = url.substr(10);
  } else {
    throw ConfigError("database URL must start with mysql:// or mariadb://");
  }
  DbUrl out;
  auto at = rest.rfind('@');
  if (at == std::string_view::npos) throw ConfigError("database URL has no user@ part");
  std::string_view userinfo = rest.substr(0, at);
  std::string_view hostpart = rest.substr(at + 1);

  auto colon = userinfo.find(':');
  std::string_view user_enc = userinfo.substr(0, colon);
  std::string_view pass_enc = colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1);
  if (!percent_decode(user_enc, out.user)) throw ConfigError("database URL user has a bad %-escape");
  if (!percent_decode(pass_enc, out.password)) throw ConfigError("database URL password has a bad %-escape");
  if (out.user.empty()) throw ConfigError("database URL has an empty user");

  if (hostpart.find_first_of("?#") != std::string_view::npos)
    throw ConfigError("database URL query parameters are not supported");
  auto slash = hostpart.find('/');
  if (slash == std::string_view::npos) throw ConfigError("database URL has no /database after the host");
  std::string_view hostport = hostpart.substr(0, slash);
  std::string_view db = hostpart.substr(slash + 1);
  if (db.empty() || db.find('/') != std::string_view::npos) throw ConfigError("database URL must end with /database");
  if (!percent_decode(db, out.database)) throw ConfigError("database URL database name has a bad %-escape");

  std::string_view port_text;
  if (hostport.starts_with('[')) {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) throw ConfigError("database URL has an unterminated [ipv6] host");
    out.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw ConfigError("database URL has junk after the [ipv6] host");
      port_text = after.substr(1);
      if (port_text.empty()) throw ConfigError("database URL has an empty port");
    }
  } else {
    auto pc = hostport.find(':');
    out.host = std::string(hostport.substr(0, pc));
    if (pc != std::string_view::npos) {
      port_text = hostport.substr(pc + 1);
      if (port_text.empty()) throw ConfigError("database URL has an empty port");
    }
  }
  if (out.host.empty()) throw ConfigError("database URL has an empty host");
  if (!port_text.empty()) {
    std::uint64_t port = 0;
    if (!parse_u64(port_text, port) || port < 1 || port > 65535)
      throw ConfigError("database URL port must be a number 1..65535");
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

std::string_view to_string(LogLevel v) {
  switch (v) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::string_view to_string(LogFormat v) {
  return v == LogFormat::kJson ? "json" : "text";
}

std::string_view to_string(Role v) {
  switch (v) {
    case Role::kApi: return "api";
    case Role::kWorker: return "worker";
    case Role::kAll: return "all";
  }
  return "all";
}

}  // namespace ticketing::infra::config
