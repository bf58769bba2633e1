#pragma once
// Application configuration (DESIGN.md §9, docs/configuration.md).
//
// Layers, lowest to highest precedence:
//   built-in defaults (schema table) < config/application.yml < config/application-<profile>.yml
//   < TICKETING_* environment variables < --set key=value
// Keys are dotted kebab-case (`db.pool-size`); the variable of a key is TICKETING_ + the key
// upper-cased with `.` and `-` turned into `_` (TICKETING_DB_POOL_SIZE). Unknown keys and bad values
// throw ConfigError naming the key and where the value came from. Secrets never leave this module
// unmasked except through AppConfig itself.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ticketing::infra::config {

// Every configuration problem found at start-up. what() lists all of them, one per line, followed by
// any warnings (e.g. a mistyped TICKETING_* variable that may explain the problem).
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::string message);
  explicit ConfigError(std::vector<std::string> problems, const std::vector<std::string>& warnings = {});
  const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// ---- schema -------------------------------------------------------------------------------------

enum class ValueType { kString, kInt, kBool, kDuration, kByteSize, kEnum };
enum class Secret {
  kNo,
  kYes,          // whole value is masked
  kUrlPassword,  // a URL: only the password in its user-info is masked
};

struct KeySpec {
  std::string_view key;  // dotted kebab-case, e.g. "db.pool-size"
  ValueType type;
  std::string_view default_value;  // as it would be written in YAML, e.g. "64KiB", "10s"
  std::string_view description;    // one line
  std::int64_t min = 0;            // kInt: value; kDuration: milliseconds; kByteSize: bytes
  std::int64_t max = 0;
  std::string_view choices = {};  // kEnum: "a|b|c"
  Secret secret = Secret::kNo;
  // Extra check for kString values: returns "" when fine, else what was expected.
  std::string (*check)(std::string_view value) = nullptr;
};

// The table of every key, in documentation order.
std::span<const KeySpec> schema();
const KeySpec* find_key(std::string_view key);
// "db.pool-size" -> "TICKETING_DB_POOL_SIZE".
std::string env_var_for_key(std::string_view key);
// TICKETING_* variables that are not keys but are understood (no warning for them).
std::span<const std::string_view> known_non_key_env_vars();

// Value syntax, exposed for tests and for other parsers. They throw ConfigError with a message
// saying what was expected (without naming a key).
std::chrono::milliseconds parse_duration(std::string_view text);  // "250ms", "10s", "5m", "1h", "1m30s"
std::uint64_t parse_byte_size(std::string_view text);             // "65536", "64KiB", "1MiB", "1GiB"
bool parse_bool(std::string_view text);                           // true/false (yes/no, on/off, 1/0)

// ---- database URL -------------------------------------------------------------------------------

struct DbUrl {
  std::string user;
  std::string password;
  std::string host;
  std::uint16_t port = 3306;
  std::string database;
};
// mysql://user[:password]@host[:port]/database (also mariadb://); user and password are
// percent-decoded; host may be [ipv6]. Throws ConfigError; the message never contains the password.
DbUrl parse_db_url(std::string_view url);
// "scheme://user:secret@host/..." -> "scheme://user:******@host/...". Unchanged if no password.
std::string mask_url_password(std::string_view url);

// ---- typed configuration ------------------------------------------------------------------------

using Millis = std::chrono::milliseconds;

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };
enum class Role { kApi, kWorker, kAll };
std::string_view to_string(LogLevel v);
std::string_view to_string(LogFormat v);
std::string_view to_string(Role v);

struct HttpConfig {
  std::string address;                       // http.address
  std::uint16_t port = 0;                    // http.port (0 = ephemeral)
  int threads = 0;                           // http.threads (0 = one per core)
  std::size_t max_body = 0;                  // http.max-body (bytes)
  Millis read_timeout{};                     // http.read-timeout
  Millis idle_timeout{};                     // http.idle-timeout
  Millis shutdown_timeout{};                 // http.shutdown-timeout
  std::size_t max_header = 0;                // http.max-header (bytes)
  std::vector<std::string> trusted_proxies;  // http.trusted-proxies
  int max_connections = 0;                   // http.max-connections
  int anonymous_rate = 0;                    // http.anonymous-rate (per second; 0 = off)
  int anonymous_burst = 0;                   // http.anonymous-burst
  int sign_in_rate = 0;                      // http.sign-in-rate (per second; 0 = off)
  int sign_in_burst = 0;                     // http.sign-in-burst
  int rate_limit_addresses = 0;              // http.rate-limit-addresses
  std::string rate_limit_exempt;             // http.rate-limit-exempt (ranges, comma-separated)
};

struct WebConfig {
  std::string root;  // web.root: the built web app; empty = API only
};

struct DbConfig {
  std::string url;  // db.url (secret: contains the password)
  int pool_size = 0;
  int worker_pool_size = 0;   // background jobs' own connections
  int hold_pool_size = 0;     // seat holds' and releases' own connections
  int payment_pool_size = 0;  // ready, gateway callback, order reads: their own connections
  int max_queue = 0;          // blocking DB calls allowed to wait for a connection before 503
  Millis pool_wait_timeout{};
  Millis connect_timeout{};
  Millis query_timeout{};
};

struct RedisConfig {
  std::string url;
  Millis command_timeout{};
  Millis connect_timeout{};
};

struct KafkaConfig {
  std::string bootstrap_servers;
  std::string client_id;
  std::string topic_prefix;           // kafka.topic-prefix
  Millis relay_interval{};            // kafka.relay-interval
  int relay_batch = 0;                // kafka.relay-batch
  int consumer_batch = 0;             // kafka.consumer-batch
  Millis producer_rebuild_backoff{};  // kafka.producer-rebuild-backoff
  Millis outbox_retention{};          // kafka.outbox-retention
  Millis purge_interval{};            // kafka.purge-interval
};

struct QueueConfig {
  int max_active = 0;
  int admit_per_second = 0;
  Millis heartbeat_timeout{};
  Millis active_ttl{};
  Millis admission_interval{};
  std::int64_t pow_threshold = 0;
  int pow_difficulty = 0;
  bool admit_on_arrival = true;
  Millis pow_challenge_ttl{};
  std::string pow_secret;      // secret
  Millis idle_retire_after{};  // queue.idle-retire-after
};

struct HoldConfig {
  Millis ttl{};
  Millis max_total{};
  int max_seats_per_user = 0;
  Millis expiry_interval{};
  int expiry_batch = 0;
};

struct PaymentConfig {
  Millis order_ttl{};
  Millis reconcile_after{};
  Millis reconcile_interval{};
  std::string gateway_secret;  // secret
  bool gateway_plain_secret = false;
  Millis gateway_signature_tolerance{};
  bool mock_gateway = false;  // POST /dev/gateway/pay for the web app's mock gateway page
};

struct SecurityConfig {
  std::string token_secret;  // secret
  Millis token_ttl{};
  std::string access_token_secret;  // secret
  Millis access_token_ttl{};
  Millis refresh_token_ttl{};
  bool cookie_secure = true;
};

struct TicketConfig {
  std::string signing_seed;  // secret; 64 hex digits or base64 of 32 bytes
};

struct AuthConfig {
  int hash_threads = 2;
  int hash_queue = 64;
  int argon2_ops = 2;
  std::size_t argon2_memory = 0;
  int login_failure_limit = 10;
  Millis login_failure_window{};
  int address_limit = 600;
  int address_failure_limit = 100;
  Millis address_window{};
};

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  bool access = true;
  LogFormat format = LogFormat::kText;
};

struct MetricsConfig {
  bool enabled = true;
};

struct SseConfig {               // the live seat map's streams (docs/live-seat-map.md)
  Millis coalesce{};             // sse.coalesce
  int history = 0;               // sse.history
  Millis history_ttl{};          // sse.history-ttl
  Millis keepalive{};            // sse.keepalive
  int max_streams = 0;           // sse.max-streams
  std::size_t max_buffered = 0;  // sse.max-buffered (bytes)
};

struct AppConfig {
  std::string profile;
  HttpConfig http;
  WebConfig web;
  DbConfig db;
  RedisConfig redis;
  KafkaConfig kafka;
  QueueConfig queue;
  HoldConfig hold;
  PaymentConfig payment;
  SecurityConfig security;
  AuthConfig auth;
  TicketConfig ticket;
  LogConfig log;
  MetricsConfig metrics;
  SseConfig sse;
  Role role = Role::kAll;
};

// Values of the dev/test profiles; rejected in the prod profile.
inline constexpr std::string_view kDevTokenSecret = "dev-token-secret-not-for-production-0123456789";
inline constexpr std::string_view kDevGatewaySecret = "dev-gateway-secret";
inline constexpr std::string_view kDevAccessTokenSecret = "dev-access-token-secret-not-for-production-0123";
inline constexpr std::string_view kDevPowSecret = "dev-pow-secret-not-for-production-0123456789ab";
// "dev-ticket-signing-seed-not-prod" in hex.
inline constexpr std::string_view kDevTicketSigningSeed =
    "6465762d7469636b65742d7369676e696e672d736565642d6e6f742d70726f64";

// ---- loading ------------------------------------------------------------------------------------

struct LoadOptions {
  std::optional<std::string> config_dir;   // --config-dir
  std::optional<std::string> profile;      // --profile
  std::vector<std::string> sets;           // --set key=value, in command-line order
  std::map<std::string, std::string> env;  // environment snapshot (environment_snapshot()); injectable
  // Used when neither config_dir, TICKETING_CONFIG_DIR nor ./config/application.yml is there.
  // Empty = source_tree_config_dir().
  std::string fallback_config_dir;
};

struct EffectiveValue {
  std::string key;
  std::string value;   // raw text as written (unmasked: use describe() to print)
  std::string source;  // "default", "<file>:<line>", "env TICKETING_X", "--set"
  Secret secret = Secret::kNo;
};

struct LoadedConfig {
  AppConfig config;
  std::vector<std::string> warnings;   // e.g. unknown TICKETING_* variables
  std::vector<EffectiveValue> values;  // every key, schema order
  std::string config_dir;              // the directory used
  std::vector<std::string> files;      // YAML files read, in order
};

LoadedConfig load_config(const LoadOptions& options);

// Every effective key with its value and source, one per line; secrets shown as ******.
std::string describe(const LoadedConfig& loaded);

// Reads environ.
std::map<std::string, std::string> environment_snapshot();

// The nearest config/ holding application.yml above the running executable (the source tree's
// config/ for build/ticketing and the test binaries; /app/config for an installed /app/bin/ticketing).
std::string source_tree_config_dir();

}  // namespace ticketing::infra::config
