// Layered loading: defaults < application.yml < application-<profile>.yml < env < --set.
#include <fmt/format.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "infra/config/config.hpp"
#include "infra/security/ticket_payload.hpp"

extern char** environ;  // NOLINT

namespace ticketing::infra::config {

namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string value;
  std::string source;
};
using FlatMap = std::map<std::string, Entry>;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The closest name among `names` if it is close enough to be a likely typo, else "".
template <typename Names, typename Get>
std::string closest(std::string_view name, const Names& names, Get get) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(1, name.size() / 4) + 1;  // suggest only likely typos
  for (const auto& n : names) {
    std::string candidate(get(n));
    std::size_t d = edit_distance(name, candidate);
    if (d < best_d) {
      best_d = d;
      best = std::move(candidate);
    }
  }
  return best;
}

std::string unknown_key_problem(std::string_view key, std::string_view source) {
  std::string msg = fmt::format("unknown key \"{}\" (from {})", key, source);
  auto hint = closest(key, schema(), [](const KeySpec& s) { return s.key; });
  if (!hint.empty()) msg += fmt::format("; did you mean \"{}\"?", hint);
  return msg;
}

bool is_section(std::string_view prefix) {
  for (const auto& spec : schema())
    if (spec.key.size() > prefix.size() && spec.key.starts_with(prefix) && spec.key[prefix.size()] == '.') return true;
  return false;
}

std::string where(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return fmt::format("{}:{}", file, mark.line + 1);
}

// Dotted parts of the longest key: no key lies below a map nested deeper.
std::size_t deepest_key_parts() {
  static const std::size_t parts = [] {
    std::size_t most = 0;
    for (const auto& spec : schema()) {
      most = std::max<std::size_t>(most, std::count(spec.key.begin(), spec.key.end(), '.') + 1);
    }
    return most;
  }();
  return parts;
}

void flatten(const YAML::Node& node, const std::string& prefix, const std::string& file, const YAML::Mark& mark,
             FlatMap& out, std::vector<std::string>& problems) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      // A map as deep as the deepest key holds no key: it is unknown. This also ends an alias that
      // contains itself (`a: &x {port: *x}`), which would otherwise recurse without end.
      if (!prefix.empty() &&
          static_cast<std::size_t>(std::count(prefix.begin(), prefix.end(), '.')) + 1 >= deepest_key_parts()) {
        problems.push_back(unknown_key_problem(prefix, where(file, mark)));
        return;
      }
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          problems.push_back(fmt::format("{}: map keys must be plain names", where(file, kv.first.Mark())));
          continue;
        }
        std::string name = kv.first.Scalar();
        if (name.empty()) {
          problems.push_back(fmt::format("{}: empty key", where(file, kv.first.Mark())));
          continue;
        }
        flatten(kv.second, prefix.empty() ? name : prefix + "." + name, file, kv.first.Mark(), out, problems);
      }
      return;
    case YAML::NodeType::Sequence:
      if (!find_key(prefix))
        problems.push_back(unknown_key_problem(prefix, where(file, mark)));
      else
        problems.push_back(fmt::format("{}: expected a single value, got a list (from {})", prefix, where(file, mark)));
      return;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      if (prefix.empty() || is_section(prefix)) return;  // empty document or empty section
      [[fallthrough]];
    case YAML::NodeType::Scalar: {
      std::string source = where(file, mark);
      if (!find_key(prefix)) {
        problems.push_back(unknown_key_problem(prefix, source));
        return;
      }
      std::string value = node.IsScalar() ? node.Scalar() : std::string();
      auto [it, inserted] = out.try_emplace(prefix, Entry{value, source});
      if (!inserted) {
        problems.push_back(
            fmt::format("{}: set twice in the same file (at {} and {})", prefix, it->second.source, source));
      }
      return;
    }
  }
}

// Reads one YAML file and lays its keys over `merged`.
void apply_file(const fs::path& path, FlatMap& merged, std::vector<std::string>& problems) {
  const std::string file = path.string();
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::ParserException& e) {
    problems.push_back(fmt::format("{}:{}: invalid YAML: {}", file, e.mark.line + 1, e.msg));
    return;
  } catch (const YAML::Exception& e) {
    problems.push_back(fmt::format("{}: cannot read: {}", file, e.what()));
    return;
  }
  if (!root.IsMap() && !root.IsNull()) {
    problems.push_back(fmt::format("{}: expected a map of keys at the top level", file));
    return;
  }
  FlatMap layer;
  flatten(root, "", file, root.Mark(), layer, problems);
  for (auto& [k, e] : layer) merged[k] = std::move(e);
}

bool parse_i64(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  std::size_t start = text.front() == '-' ? 1 : 0;
  if (start == text.size()) return false;
  for (std::size_t i = start; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

std::string format_duration(std::int64_t ms) {
  if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms != 0 && ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

std::string format_bytes(std::int64_t b) {
  if (b != 0 && b % (1 << 30) == 0) return fmt::format("{}GiB", b >> 30);
  if (b != 0 && b % (1 << 20) == 0) return fmt::format("{}MiB", b >> 20);
  if (b != 0 && b % (1 << 10) == 0) return fmt::format("{}KiB", b >> 10);
  return fmt::format("{}", b);
}

// How a value is shown in messages: secrets are never echoed.
std::string shown(const KeySpec& spec, std::string_view value) {
  switch (spec.secret) {
    case Secret::kYes: return value.empty() ? "\"\"" : "******";
    case Secret::kUrlPassword:
      // Without an '@' we cannot tell where a password would be: do not echo it at all.
      if (value.find('@') == std::string_view::npos) return "(value not shown)";
      return "\"" + mask_url_password(value) + "\"";
    case Secret::kNo: break;
  }
  return "\"" + std::string(value) + "\"";
}

// Checks one value against its spec; returns "" or the problem.
std::string validate(const KeySpec& spec, const Entry& e) {
  auto bad = [&](std::string_view expected) {
    return fmt::format("{}: expected {}, got {} (from {})", spec.key, expected, shown(spec, e.value), e.source);
  };
  switch (spec.type) {
    case ValueType::kString:
      if (spec.check) {
        std::string expected = spec.check(e.value);
        if (!expected.empty()) return bad(expected);
      }
      return "";
    case ValueType::kInt: {
      std::int64_t v = 0;
      if (!parse_i64(e.value, v) || v < spec.min || v > spec.max)
        return bad(fmt::format("an integer {}..{}", spec.min, spec.max));
      return "";
    }
    case ValueType::kBool: try { (void)parse_bool(e.value);
      } catch (const ConfigError& err) {
        return bad(err.what());
      }
      return "";
    case ValueType::kDuration: {
      std::int64_t ms = 0;
      try {
        ms = parse_duration(e.value).count();
      } catch (const ConfigError& err) {
        return bad(err.what());
      }
      if (ms < spec.min || ms > spec.max)
        return bad(fmt::format("a duration between {} and {}", format_duration(spec.min), format_duration(spec.max)));
      return "";
    }
    case ValueType::kByteSize: {
      std::uint64_t b = 0;
      try {
        b = parse_byte_size(e.value);
      } catch (const ConfigError& err) {
        return bad(err.what());
      }
      if (b < static_cast<std::uint64_t>(spec.min) || b > static_cast<std::uint64_t>(spec.max))
        return bad(fmt::format("a byte size between {} and {}", format_bytes(spec.min), format_bytes(spec.max)));
      return "";
    }
    case ValueType::kEnum: {
      std::string_view choices = spec.choices;
      std::size_t start = 0;
      while (true) {
        auto bar = choices.find('|', start);
        if (choices.substr(start, bar == std::string_view::npos ? bar : bar - start) == e.value) return "";
        if (bar == std::string_view::npos) break;
        start = bar + 1;
      }
      return bad(fmt::format("one of {}", choices));
    }
  }
  return "";
}

bool valid_profile_name(std::string_view p) {
  if (p.empty() || p.size() > 64) return false;
  return std::all_of(p.begin(), p.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

std::optional<std::string> env_get(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

// Resolves the directory; `how` says where the choice came from, for messages.
std::string resolve_config_dir(const LoadOptions& o, std::string& how) {
  if (o.config_dir) {
    how = "--config-dir";
    return *o.config_dir;
  }
  if (auto d = env_get(o.env, "TICKETING_CONFIG_DIR"); d && !d->empty()) {
    how = "TICKETING_CONFIG_DIR";
    return *d;
  }
  std::error_code ec;
  if (fs::is_regular_file(fs::path("config") / "application.yml", ec)) {
    how = "./config";
    return "config";
  }
  how = "the built-in fallback";
  return o.fallback_config_dir.empty() ? source_tree_config_dir() : o.fallback_config_dir;
}

class Reader {
 public:
  explicit Reader(const FlatMap& m) : m_(m) {}
  const std::string& str(std::string_view key) const { return m_.at(std::string(key)).value; }
  std::int64_t i64(std::string_view key) const {
    std::int64_t v = 0;
    parse_i64(str(key), v);
    return v;
  }
  int i(std::string_view key) const { return static_cast<int>(i64(key)); }
  bool b(std::string_view key) const { return parse_bool(str(key)); }
  Millis d(std::string_view key) const { return parse_duration(str(key)); }
  std::size_t bytes(std::string_view key) const { return static_cast<std::size_t>(parse_byte_size(str(key))); }

 private:
  const FlatMap& m_;
};

AppConfig build(const FlatMap& m, const std::string& profile) {
  Reader r(m);
  AppConfig c;
  c.profile = profile;
  c.http.address = r.str("http.address");
  c.http.port = static_cast<std::uint16_t>(r.i("http.port"));
  c.http.threads = r.i("http.threads");
  c.http.max_body = r.bytes("http.max-body");
  c.http.read_timeout = r.d("http.read-timeout");
  c.http.idle_timeout = r.d("http.idle-timeout");
  c.http.shutdown_timeout = r.d("http.shutdown-timeout");
  c.http.max_header = r.bytes("http.max-header");
  c.http.max_connections = r.i("http.max-connections");
  c.http.anonymous_rate = r.i("http.anonymous-rate");
  c.http.anonymous_burst = r.i("http.anonymous-burst");
  c.http.sign_in_rate = r.i("http.sign-in-rate");
  c.http.sign_in_burst = r.i("http.sign-in-burst");
  c.http.rate_limit_addresses = r.i("http.rate-limit-addresses");
  c.http.rate_limit_exempt = r.str("http.rate-limit-exempt");
  for (std::string_view rest = r.str("http.trusted-proxies"); !rest.empty();) {
    const auto comma = rest.find(',');
    c.http.trusted_proxies.emplace_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }

  c.db.url = r.str("db.url");
  c.db.pool_size = r.i("db.pool-size");
  c.db.worker_pool_size = r.i("db.worker-pool-size");
  c.db.hold_pool_size = r.i("db.hold-pool-size");
  c.db.payment_pool_size = r.i("db.payment-pool-size");
  c.db.max_queue = r.i("db.max-queue");
  c.db.pool_wait_timeout = r.d("db.pool-wait-timeout");
  c.db.connect_timeout = r.d("db.connect-timeout");
  c.db.query_timeout = r.d("db.query-timeout");

  c.redis.url = r.str("redis.url");
  c.redis.command_timeout = r.d("redis.command-timeout");
  c.redis.connect_timeout = r.d("redis.connect-timeout");

  c.kafka.bootstrap_servers = r.str("kafka.bootstrap-servers");
  c.kafka.client_id = r.str("kafka.client-id");
  c.kafka.topic_prefix = r.str("kafka.topic-prefix");
  c.kafka.relay_interval = r.d("kafka.relay-interval");
  c.kafka.relay_batch = r.i("kafka.relay-batch");
  c.kafka.consumer_batch = r.i("kafka.consumer-batch");
  c.kafka.producer_rebuild_backoff = r.d("kafka.producer-rebuild-backoff");
  c.kafka.outbox_retention = r.d("kafka.outbox-retention");
  c.kafka.purge_interval = r.d("kafka.purge-interval");

  c.queue.max_active = r.i("queue.max-active");
  c.queue.admit_per_second = r.i("queue.admit-per-second");
  c.queue.admit_on_arrival = r.b("queue.admit-on-arrival");
  c.queue.heartbeat_timeout = r.d("queue.heartbeat-timeout");
  c.queue.active_ttl = r.d("queue.active-ttl");
  c.queue.admission_interval = r.d("queue.admission-interval");
  c.queue.pow_threshold = r.i64("queue.pow-threshold");
  c.queue.pow_difficulty = static_cast<int>(r.i("queue.pow-difficulty"));
  c.queue.pow_challenge_ttl = r.d("queue.pow-challenge-ttl");
  c.queue.pow_secret = r.str("queue.pow-secret");
  c.queue.idle_retire_after = r.d("queue.idle-retire-after");

  c.hold.ttl = r.d("hold.ttl");
  c.hold.max_total = r.d("hold.max-total");
  c.hold.max_seats_per_user = r.i("hold.max-seats-per-user");
  c.hold.expiry_interval = r.d("hold.expiry-interval");
  c.hold.expiry_batch = r.i("hold.expiry-batch");

  c.payment.order_ttl = r.d("payment.order-ttl");
  c.payment.gateway_secret = r.str("payment.gateway-secret");
  c.payment.reconcile_after = r.d("payment.reconcile-after");
  c.payment.reconcile_interval = r.d("payment.reconcile-interval");
  c.payment.gateway_plain_secret = r.b("payment.gateway-plain-secret");
  c.payment.gateway_signature_tolerance = r.d("payment.gateway-signature-tolerance");
  c.payment.mock_gateway = r.b("payment.mock-gateway");
  c.web.root = r.str("web.root");

  c.security.token_secret = r.str("security.token-secret");
  c.security.token_ttl = r.d("security.token-ttl");
  c.security.access_token_secret = r.str("security.access-token-secret");
  c.security.access_token_ttl = r.d("security.access-token-ttl");
  c.security.refresh_token_ttl = r.d("security.refresh-token-ttl");
  c.security.cookie_secure = r.b("security.cookie-secure");

  c.auth.hash_threads = r.i("auth.hash-threads");
  c.auth.hash_queue = r.i("auth.hash-queue");
  c.auth.argon2_ops = r.i("auth.argon2-ops");
  c.auth.argon2_memory = static_cast<std::size_t>(r.bytes("auth.argon2-memory"));
  c.auth.login_failure_limit = r.i("auth.login-failure-limit");
  c.auth.login_failure_window = r.d("auth.login-failure-window");
  c.auth.address_limit = r.i("auth.address-limit");
  c.auth.address_failure_limit = r.i("auth.address-failure-limit");
  c.auth.address_window = r.d("auth.address-window");

  const std::string& level = r.str("log.level");
  c.log.level = level == "trace"   ? LogLevel::kTrace
                : level == "debug" ? LogLevel::kDebug
                : level == "warn"  ? LogLevel::kWarn
                : level == "error" ? LogLevel::kError
                                   : LogLevel::kInfo;
  c.ticket.signing_seed = r.str("ticket.signing-seed");

  c.log.access = r.b("log.access");
  c.log.format = r.str("log.format") == "json" ? LogFormat::kJson : LogFormat::kText;
  c.metrics.enabled = r.b("metrics.enabled");
  c.sse.coalesce = r.d("sse.coalesce");
  c.sse.history = r.i("sse.history");
  c.sse.history_ttl = r.d("sse.history-ttl");
  c.sse.keepalive = r.d("sse.keepalive");
  c.sse.max_streams = r.i("sse.max-streams");
  c.sse.max_buffered = static_cast<std::size_t>(r.bytes("sse.max-buffered"));
  const std::string& role = r.str("role");
  c.role = role == "api" ? Role::kApi : role == "worker" ? Role::kWorker : Role::kAll;
  return c;
}

}  // namespace

LoadedConfig load_config(const LoadOptions& options) {
  // Profile: --profile, else TICKETING_PROFILE, else dev.
  std::string profile = "dev";
  std::string profile_how;
  if (options.profile) {
    profile = *options.profile;
    profile_how = "--profile";
  } else if (auto p = env_get(options.env, "TICKETING_PROFILE"); p && !p->empty()) {
    profile = *p;
    profile_how = "TICKETING_PROFILE";
  }
  if (!valid_profile_name(profile))
    throw ConfigError(fmt::format("profile \"{}\" (from {}): expected letters, digits, '-' or '_'", profile,
                                  profile_how.empty() ? "default" : profile_how));

  std::string dir_how;
  const std::string dir = resolve_config_dir(options, dir_how);
  const fs::path base = fs::path(dir) / "application.yml";
  std::error_code ec;
  if (!fs::is_regular_file(base, ec))
    throw ConfigError(fmt::format("configuration file {} not found (config dir from {})", base.string(), dir_how));

  LoadedConfig out;
  out.config_dir = dir;
  std::vector<std::string> problems;

  FlatMap merged;
  for (const auto& spec : schema()) merged[std::string(spec.key)] = Entry{std::string(spec.default_value), "default"};

  apply_file(base, merged, problems);
  out.files.push_back(base.string());

  const fs::path profile_file = fs::path(dir) / fmt::format("application-{}.yml", profile);
  if (fs::is_regular_file(profile_file, ec)) {
    apply_file(profile_file, merged, problems);
    out.files.push_back(profile_file.string());
  } else if (!profile_how.empty()) {
    problems.push_back(
        fmt::format("profile \"{}\" (from {}): file {} not found", profile, profile_how, profile_file.string()));
  }

  // Environment variables.
  std::map<std::string, std::string, std::less<>> env_to_key;
  for (const auto& spec : schema()) env_to_key.emplace(env_var_for_key(spec.key), spec.key);
  for (const auto& [name, value] : options.env) {
    if (!name.starts_with("TICKETING_")) continue;
    if (auto it = env_to_key.find(name); it != env_to_key.end()) {
      merged[it->second] = Entry{value, name};
      continue;
    }
    const auto known = known_non_key_env_vars();
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string warning = fmt::format("environment variable {} is not a configuration key (ignored)", name);
    auto hint = closest(name, env_to_key, [](const auto& kv) { return kv.first; });
    if (!hint.empty()) warning += fmt::format("; did you mean {}?", hint);
    out.warnings.push_back(std::move(warning));
  }

  // --set key=value, later ones win.
  for (const auto& set : options.sets) {
    auto eq = set.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::string key = set.substr(0, eq);
      problems.push_back(find_key(key) ? fmt::format("--set {}: expected key=value", key)
                                       : fmt::format("--set: expected key=value, got \"{}\"", set));
      continue;
    }
    std::string key = set.substr(0, eq);
    if (!find_key(key)) {
      problems.push_back(unknown_key_problem(key, "--set"));
      continue;
    }
    merged[key] = Entry{set.substr(eq + 1), "--set"};
  }

  // Values.
  for (const auto& spec : schema()) {
    std::string p = validate(spec, merged.at(std::string(spec.key)));
    if (!p.empty()) problems.push_back(std::move(p));
  }

  // Rules across keys and profiles.
  // A key's value parsed for a rule across keys; nullopt when it is malformed (its own check above
  // reported that already).
  auto parsed = [&](std::string_view key, auto parse) -> std::optional<decltype(parse(std::string_view{}))> {
    try {
      return parse(merged.at(std::string(key)).value);
    } catch (const ConfigError&) {
      return std::nullopt;
    }
  };
  for (const std::string_view key : {"security.token-secret", "security.access-token-secret", "queue.pow-secret"}) {
    const Entry& secret = merged.at(std::string(key));
    if (!secret.value.empty() && secret.value.size() < 32)
      problems.push_back(
          fmt::format("{}: must be at least 32 bytes, got {} (from {})", key, secret.value.size(), secret.source));
  }
  const auto reconcile_interval = parsed("payment.reconcile-interval", parse_duration);
  const auto reconcile_after = parsed("payment.reconcile-after", parse_duration);
  if (reconcile_interval && reconcile_after && 2 * *reconcile_interval >= *reconcile_after)
    problems.push_back(
        fmt::format("payment.reconcile-interval: must be less than half of payment.reconcile-after ({} and {})",
                    merged.at("payment.reconcile-interval").value, merged.at("payment.reconcile-after").value));
  const auto max_total = parsed("hold.max-total", parse_duration);
  const auto hold_ttl = parsed("hold.ttl", parse_duration);
  if (max_total && hold_ttl && *max_total < *hold_ttl)
    problems.push_back(fmt::format("hold.max-total: must be at least hold.ttl ({} < {})",
                                   merged.at("hold.max-total").value, merged.at("hold.ttl").value));
  const Entry& access = merged.at("security.access-token-secret");
  if (!access.value.empty() && access.value == merged.at("security.token-secret").value)
    problems.push_back(
        "security.access-token-secret: must differ from security.token-secret (a queue token must "
        "never pass as an access token)");
  if (profile == "prod") {
    if (parsed("payment.gateway-plain-secret", parse_bool).value_or(false))
      problems.push_back("payment.gateway-plain-secret: must be false in the prod profile (callbacks must be signed)");
    if (parsed("payment.mock-gateway", parse_bool).value_or(false))
      problems.push_back("payment.mock-gateway: must be false in the prod profile (it records payments nobody made)");
    if (!parsed("security.cookie-secure", parse_bool).value_or(true))
      problems.push_back(
          "security.cookie-secure: must be true in the prod profile (the refresh cookie goes over HTTPS only)");
    const std::pair<std::string_view, std::string_view> secrets[] = {
        {"security.token-secret", kDevTokenSecret},
        {"security.access-token-secret", kDevAccessTokenSecret},
        {"queue.pow-secret", kDevPowSecret},
        {"payment.gateway-secret", kDevGatewaySecret}};
    for (const auto& [key, dev_value] : secrets) {
      const Entry& e = merged.at(std::string(key));
      if (e.value.empty())
        problems.push_back(
            fmt::format("{}: must be set in the prod profile (e.g. with {})", key, env_var_for_key(key)));
      else if (e.value == dev_value)
        problems.push_back(
            fmt::format("{}: the dev/test value must not be used in the prod profile (from {})", key, e.source));
    }
    // Compared as bytes: the dev seed written in base64 is still the dev seed.
    const Entry& ticket_seed = merged.at("ticket.signing-seed");
    const auto seed = security::parse_ticket_seed(ticket_seed.value);
    if (ticket_seed.value.empty())
      problems.push_back(fmt::format("ticket.signing-seed: must be set in the prod profile (e.g. with {})",
                                     env_var_for_key("ticket.signing-seed")));
    else if (seed && seed == security::parse_ticket_seed(kDevTicketSigningSeed))
      problems.push_back(
          fmt::format("ticket.signing-seed: the dev/test value must not be used in the prod profile (from {})",
                      ticket_seed.source));
    if (merged.at("db.url").value == find_key("db.url")->default_value)
      out.warnings.push_back("db.url: the prod profile is using the built-in development database credentials");
  }

  if (!problems.empty()) throw ConfigError(std::move(problems), out.warnings);

  out.config = build(merged, profile);
  for (const auto& spec : schema()) {
    const Entry& e = merged.at(std::string(spec.key));
    out.values.push_back(EffectiveValue{std::string(spec.key), e.value, e.source, spec.secret});
  }
  return out;
}

std::string describe(const LoadedConfig& loaded) {
  std::string out = fmt::format("profile: {}\nconfig dir: {}\nfiles:", loaded.config.profile, loaded.config_dir);
  for (const auto& f : loaded.files) out += " " + f;
  out += "\n";
  std::size_t width = 0;
  for (const auto& v : loaded.values) width = std::max(width, v.key.size());
  for (const auto& v : loaded.values) {
    std::string value;
    switch (v.secret) {
      case Secret::kYes: value = v.value.empty() ? "\"\"" : "******"; break;
      case Secret::kUrlPassword: value = mask_url_password(v.value); break;
      case Secret::kNo: value = v.value.empty() ? "\"\"" : v.value; break;
    }
    out += fmt::format("{:<{}} = {}  ({})\n", v.key, width, value, v.source);
  }
  return out;
}

std::map<std::string, std::string> environment_snapshot() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

std::string source_tree_config_dir() {
  // The nearest config/application.yml above the executable: build/ticketing and
  // build/tests/unit_tests find <root>/config, an installed /app/bin/ticketing finds /app/config.
  // (Not __FILE__: ccache's base-dir rewriting makes it relative to the build directory.)
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int depth = 0; !ec && !dir.empty() && depth < 5; ++depth) {
    if (fs::exists(dir / "config" / "application.yml", ec)) return (dir / "config").string();
    if (dir == dir.root_path()) break;
    dir = dir.parent_path();
  }
  return "config";
}

}  // namespace ticketing::infra::config
