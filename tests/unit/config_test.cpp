// Configuration loading: layering, validation, secrets (docs/configuration.md).
#include "infra/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>

namespace cfg = ticketing::infra::config;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// A fresh directory per test with an application.yml, removed afterwards.
class ConfigDir {
 public:
  ConfigDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("ticketing-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
    write("application.yml", "");
  }
  ~ConfigDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path_ / name) << text; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

  cfg::LoadOptions options() const {
    cfg::LoadOptions o;
    o.config_dir = str();
    return o;
  }

 private:
  fs::path path_;
};

// The message of the ConfigError thrown by load_config, or "" if it did not throw.
std::string load_error(const cfg::LoadOptions& o) {
  try {
    cfg::load_config(o);
  } catch (const cfg::ConfigError& e) {
    return e.what();
  }
  return "";
}

const cfg::EffectiveValue& value_of(const cfg::LoadedConfig& l, std::string_view key) {
  for (const auto& v : l.values)
    if (v.key == key) return v;
  throw std::runtime_error("no such key");
}

// The repository's config/, found above the test executable like the server finds it.
fs::path repo_config_dir() {
  return fs::path(cfg::source_tree_config_dir());
}

constexpr std::string_view kStrongSecret = "prod-token-secret-0123456789abcdef-XYZ";
constexpr std::string_view kStrongTicketSeed = "8f14e45fceea167a5a36dedd4bea2543c9f0f895fb98ab9159f51fd0297e236d";

}  // namespace

TEST(ConfigTest, DefaultsWhenFilesAreEmpty) {
  ConfigDir dir;
  auto loaded = cfg::load_config(dir.options());
  const auto& c = loaded.config;
  EXPECT_EQ(c.profile, "dev");
  EXPECT_EQ(c.http.address, "0.0.0.0");
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_EQ(c.http.threads, 0);
  EXPECT_EQ(c.http.max_body, 64u * 1024);
  EXPECT_EQ(c.http.read_timeout, 10s);
  EXPECT_EQ(c.http.idle_timeout, 60s);
  EXPECT_EQ(c.http.shutdown_timeout, 10s);
  EXPECT_EQ(c.http.max_header, 16u * 1024);
  EXPECT_EQ(c.db.url, "mysql://ticketing:ticketing@127.0.0.1:13306/ticketing");
  EXPECT_EQ(c.db.pool_size, 16);
  EXPECT_EQ(c.db.max_queue, 1024);
  EXPECT_EQ(c.db.pool_wait_timeout, 2s);
  EXPECT_EQ(c.db.connect_timeout, 2s);
  EXPECT_EQ(c.db.query_timeout, 10s);
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:16379");
  EXPECT_EQ(c.redis.command_timeout, 1s);
  EXPECT_EQ(c.redis.connect_timeout, 1s);
  EXPECT_EQ(c.kafka.bootstrap_servers, "127.0.0.1:19092");
  EXPECT_EQ(c.kafka.client_id, "ticketing");
  EXPECT_EQ(c.queue.max_active, 100);
  EXPECT_EQ(c.queue.admit_per_second, 50);
  EXPECT_EQ(c.queue.heartbeat_timeout, 30s);
  EXPECT_EQ(c.queue.active_ttl, 5min);
  EXPECT_EQ(c.queue.admission_interval, 200ms);
  EXPECT_EQ(c.hold.ttl, 5min);
  EXPECT_EQ(c.hold.max_seats_per_user, 4);
  EXPECT_EQ(c.hold.expiry_interval, 1s);
  EXPECT_EQ(c.hold.expiry_batch, 500);
  EXPECT_EQ(c.payment.order_ttl, 10min);
  EXPECT_EQ(c.payment.gateway_secret, "");
  EXPECT_EQ(c.security.token_secret, "");
  EXPECT_EQ(c.security.token_ttl, 10min);
  EXPECT_EQ(c.log.level, cfg::LogLevel::kInfo);
  EXPECT_TRUE(c.log.access);
  EXPECT_EQ(c.log.format, cfg::LogFormat::kText);
  EXPECT_TRUE(c.metrics.enabled);
  EXPECT_EQ(c.role, cfg::Role::kAll);
  EXPECT_EQ(value_of(loaded, "db.pool-size").source, "default");
  EXPECT_EQ(loaded.values.size(), cfg::schema().size());
  EXPECT_TRUE(loaded.warnings.empty());
}

TEST(ConfigTest, NestedYamlIsFlattenedAndDottedKeysWork) {
  ConfigDir dir;
  dir.write("application.yml",
            "db:\n"
            "  pool-size: 32\n"
            "  url: mysql://a:b@db:3306/x\n"
            "http: {port: 9090, max-body: 1MiB}\n"
            "queue.admission-interval: 50ms\n"
            "log:\n"
            "  # everything commented out\n"
            "role: api\n");
  auto loaded = cfg::load_config(dir.options());
  EXPECT_EQ(loaded.config.db.pool_size, 32);
  EXPECT_EQ(loaded.config.db.url, "mysql://a:b@db:3306/x");
  EXPECT_EQ(loaded.config.http.port, 9090);
  EXPECT_EQ(loaded.config.http.max_body, 1024u * 1024);
  EXPECT_EQ(loaded.config.queue.admission_interval, 50ms);
  EXPECT_EQ(loaded.config.role, cfg::Role::kApi);
  EXPECT_EQ(value_of(loaded, "db.pool-size").source, dir.file("application.yml") + ":2");
}

TEST(ConfigTest, SameKeyTwiceInOneFileIsAnError) {
  ConfigDir dir;
  dir.write("application.yml", "db:\n  pool-size: 3\ndb.pool-size: 4\n");
  EXPECT_THAT(load_error(dir.options()), HasSubstr("db.pool-size: set twice"));
}

TEST(ConfigTest, ProfileFileOverlaysBaseFile) {
  ConfigDir dir;
  dir.write("application.yml", "db:\n  pool-size: 32\n  max-queue: 10\n");
  dir.write("application-staging.yml", "db:\n  pool-size: 64\n");
  auto o = dir.options();
  o.profile = "staging";
  auto loaded = cfg::load_config(o);
  EXPECT_EQ(loaded.config.profile, "staging");
  EXPECT_EQ(loaded.config.db.pool_size, 64);
  EXPECT_EQ(loaded.config.db.max_queue, 10);
  EXPECT_EQ(value_of(loaded, "db.pool-size").source, dir.file("application-staging.yml") + ":2");
  ASSERT_EQ(loaded.files.size(), 2u);
}

TEST(ConfigTest, ProfileFromEnvironmentAndDevDefaultNeedsNoFile) {
  ConfigDir dir;
  dir.write("application-qa.yml", "hold:\n  ttl: 7s\n");
  auto o = dir.options();
  o.env["TICKETING_PROFILE"] = "qa";
  EXPECT_EQ(cfg::load_config(o).config.hold.ttl, 7s);
  // No application-dev.yml: the implicit dev profile is fine without one.
  EXPECT_EQ(cfg::load_config(dir.options()).config.profile, "dev");
}

TEST(ConfigTest, ExplicitProfileWithoutFileIsAnError) {
  ConfigDir dir;
  auto o = dir.options();
  o.profile = "prdo";
  std::string err = load_error(o);
  EXPECT_THAT(err, HasSubstr("profile \"prdo\""));
  EXPECT_THAT(err, HasSubstr("application-prdo.yml not found"));
  // Even "dev" named explicitly must exist.
  o.profile = "dev";
  EXPECT_THAT(load_error(o), HasSubstr("application-dev.yml not found"));
  // And no path tricks in a profile name.
  o.profile = "../etc";
  EXPECT_THAT(load_error(o), HasSubstr("profile \"../etc\""));
}

TEST(ConfigTest, MissingApplicationYmlIsAnError) {
  ConfigDir dir;
  fs::remove(dir.file("application.yml"));
  EXPECT_THAT(load_error(dir.options()), HasSubstr("application.yml not found"));
}

TEST(ConfigTest, ConfigDirFromEnvironmentThenFallback) {
  ConfigDir dir;
  dir.write("application.yml", "db.pool-size: 5\n");
  cfg::LoadOptions o;
  o.env["TICKETING_CONFIG_DIR"] = dir.str();
  auto loaded = cfg::load_config(o);
  EXPECT_EQ(loaded.config_dir, dir.str());
  EXPECT_EQ(loaded.config.db.pool_size, 5);

  // No option, no variable and no ./config/application.yml in the working directory: fallback.
  ConfigDir empty_cwd;
  fs::remove(empty_cwd.file("application.yml"));
  const fs::path old_cwd = fs::current_path();
  fs::current_path(empty_cwd.str());
  cfg::LoadOptions fallback;
  fallback.fallback_config_dir = dir.str();
  cfg::LoadedConfig from_fallback;
  EXPECT_NO_THROW(from_fallback = cfg::load_config(fallback));
  fs::current_path(old_cwd);
  EXPECT_EQ(from_fallback.config.db.pool_size, 5);
}

TEST(ConfigTest, EnvironmentBeatsFilesAndSetBeatsEnvironment) {
  ConfigDir dir;
  dir.write("application.yml", "db:\n  pool-size: 32\n");
  dir.write("application-dev.yml", "db:\n  pool-size: 48\n");
  auto o = dir.options();
  o.env["TICKETING_DB_POOL_SIZE"] = "64";
  o.env["TICKETING_HTTP_MAX_BODY"] = "128KiB";
  auto loaded = cfg::load_config(o);
  EXPECT_EQ(loaded.config.db.pool_size, 64);
  EXPECT_EQ(value_of(loaded, "db.pool-size").source, "TICKETING_DB_POOL_SIZE");
  EXPECT_EQ(loaded.config.http.max_body, 128u * 1024);

  o.sets = {"db.pool-size=100", "db.pool-size=128", "kafka.client-id=a=b"};
  loaded = cfg::load_config(o);
  EXPECT_EQ(loaded.config.db.pool_size, 128);  // the last --set wins
  EXPECT_EQ(value_of(loaded, "db.pool-size").source, "--set");
  EXPECT_EQ(loaded.config.kafka.client_id, "a=b");
}

TEST(ConfigTest, EnvVarMapping) {
  EXPECT_EQ(cfg::env_var_for_key("db.pool-size"), "TICKETING_DB_POOL_SIZE");
  EXPECT_EQ(cfg::env_var_for_key("db.url"), "TICKETING_DB_URL");
  EXPECT_EQ(cfg::env_var_for_key("role"), "TICKETING_ROLE");
  // Every key has its own variable, and none collides with a non-key variable.
  std::set<std::string> names;
  for (const auto& spec : cfg::schema()) EXPECT_TRUE(names.insert(cfg::env_var_for_key(spec.key)).second) << spec.key;
  for (auto known : cfg::known_non_key_env_vars()) EXPECT_FALSE(names.contains(std::string(known))) << known;
}

TEST(ConfigTest, UnknownEnvironmentVariablesOnlyWarn) {
  ConfigDir dir;
  auto o = dir.options();
  o.env["TICKETING_DB_POOLSIZE"] = "3";
  o.env["TICKETING_PROFILE"] = "dev";
  o.env["TICKETING_TEST_ROOT"] = "/tmp";
  o.env["TICKETING_CONFIG_DIR"] = "/nonexistent";  // the option wins
  o.env["PATH"] = "/bin";
  o.profile.reset();
  dir.write("application-dev.yml", "");
  auto loaded = cfg::load_config(o);
  ASSERT_EQ(loaded.warnings.size(), 1u);
  EXPECT_THAT(loaded.warnings[0], HasSubstr("TICKETING_DB_POOLSIZE"));
  EXPECT_THAT(loaded.warnings[0], HasSubstr("did you mean TICKETING_DB_POOL_SIZE"));
  EXPECT_EQ(loaded.config.db.pool_size, 16);
}

TEST(ConfigTest, UnknownKeyInFileNamesKeyAndFile) {
  ConfigDir dir;
  dir.write("application.yml", "db:\n  pool-sise: 3\n");
  std::string err = load_error(dir.options());
  EXPECT_THAT(err, HasSubstr("unknown key \"db.pool-sise\""));
  EXPECT_THAT(err, HasSubstr(dir.file("application.yml") + ":2"));
  EXPECT_THAT(err, HasSubstr("did you mean \"db.pool-size\""));
}

// Found by fuzz/fuzz_config: an alias that contains itself is refused as an unknown key, not
// followed until the stack overflows.
TEST(ConfigTest, AnAliasThatContainsItselfIsAnUnknownKey) {
  ConfigDir dir;
  dir.write("application.yml", "a: &x\n  port: *x\n");
  EXPECT_THAT(load_error(dir.options()), HasSubstr("unknown key \"a.port"));
  dir.write("application.yml", "http: &h\n  port: 8081\n  again: *h\n");
  EXPECT_THAT(load_error(dir.options()), HasSubstr("unknown key \"http.again"));
}

TEST(ConfigTest, UnknownKeyInProfileFileNamesThatFile) {
  ConfigDir dir;
  dir.write("application-dev.yml", "whatever: 1\n");
  EXPECT_THAT(load_error(dir.options()),
              HasSubstr("unknown key \"whatever\" (from " + dir.file("application-dev.yml")));
}

TEST(ConfigTest, UnknownKeyInSetNamesKeyAndSet) {
  ConfigDir dir;
  auto o = dir.options();
  o.sets = {"http.prot=1"};
  std::string err = load_error(o);
  EXPECT_THAT(err, HasSubstr("unknown key \"http.prot\" (from --set)"));
  o.sets = {"http.port"};
  EXPECT_THAT(load_error(o), HasSubstr("--set http.port: expected key=value"));
}

TEST(ConfigTest, SectionKeyWithScalarOrListIsAnError) {
  ConfigDir dir;
  dir.write("application.yml", "db: 5\n");
  EXPECT_THAT(load_error(dir.options()), HasSubstr("unknown key \"db\""));
  dir.write("application.yml", "kafka:\n  bootstrap-servers: [a:1, b:2]\n");
  EXPECT_THAT(load_error(dir.options()), HasSubstr("kafka.bootstrap-servers: expected a single value, got a list"));
  dir.write("application.yml", "db: [1\n");
  EXPECT_THAT(load_error(dir.options()), HasSubstr("invalid YAML"));
}

TEST(ConfigTest, BadIntegerNamesKeySourceAndRange) {
  ConfigDir dir;
  auto o = dir.options();
  o.env["TICKETING_DB_POOL_SIZE"] = "abc";
  EXPECT_EQ(load_error(o), "db.pool-size: expected an integer 1..512, got \"abc\" (from TICKETING_DB_POOL_SIZE)");
  o.env["TICKETING_DB_POOL_SIZE"] = "513";
  EXPECT_THAT(load_error(o), HasSubstr("db.pool-size: expected an integer 1..512, got \"513\""));
  o.env["TICKETING_DB_POOL_SIZE"] = "";
  EXPECT_THAT(load_error(o), HasSubstr("db.pool-size: expected an integer"));
  o.env.clear();
  o.sets = {"hold.max-seats-per-user=51"};
  EXPECT_THAT(load_error(o), HasSubstr("hold.max-seats-per-user: expected an integer 1..50, got \"51\" (from --set)"));
  o.sets = {"http.port=0"};
  EXPECT_EQ(cfg::load_config(o).config.http.port, 0);
}

TEST(ConfigTest, BadDurationNamesKeyAndNeedsUnit) {
  ConfigDir dir;
  dir.write("application.yml", "hold:\n  ttl: 300\n");
  std::string err = load_error(dir.options());
  EXPECT_THAT(err, HasSubstr("hold.ttl: expected a duration"));
  EXPECT_THAT(err, HasSubstr("a unit is needed (e.g. 300ms or 300s), got \"300\""));
  EXPECT_THAT(err, HasSubstr(dir.file("application.yml") + ":2"));
  dir.write("application.yml", "hold:\n  ttl: 10 minutes\n");
  EXPECT_THAT(load_error(dir.options()), HasSubstr("hold.ttl: expected a duration"));
  dir.write("application.yml", "hold:\n  ttl: 2h\n");
  EXPECT_THAT(load_error(dir.options()), HasSubstr("hold.ttl: expected a duration between 1s and 1h"));
}

TEST(ConfigTest, BadBoolEnumAndByteSizeNameTheKey) {
  ConfigDir dir;
  auto o = dir.options();
  o.sets = {"log.access=maybe"};
  EXPECT_THAT(load_error(o), HasSubstr("log.access: expected a boolean (true or false), got \"maybe\" (from --set)"));
  o.sets = {"log.level=verbose"};
  EXPECT_THAT(load_error(o), HasSubstr("log.level: expected one of trace|debug|info|warn|error, got \"verbose\""));
  o.sets = {"role=both"};
  EXPECT_THAT(load_error(o), HasSubstr("role: expected one of api|worker|all"));
  o.sets = {"http.max-body=64KB"};
  EXPECT_THAT(load_error(o), HasSubstr("http.max-body: expected a byte size"));
  o.sets = {"log.access=false", "log.level=debug", "log.format=json", "role=worker", "metrics.enabled=no"};
  auto c = cfg::load_config(o).config;
  EXPECT_FALSE(c.log.access);
  EXPECT_EQ(c.log.level, cfg::LogLevel::kDebug);
  EXPECT_EQ(c.log.format, cfg::LogFormat::kJson);
  EXPECT_EQ(c.role, cfg::Role::kWorker);
  EXPECT_FALSE(c.metrics.enabled);
}

TEST(ConfigTest, AllProblemsAreReportedAtOnce) {
  ConfigDir dir;
  auto o = dir.options();
  o.sets = {"db.pool-size=0", "hold.ttl=1", "nope=1"};
  try {
    cfg::load_config(o);
    FAIL() << "expected ConfigError";
  } catch (const cfg::ConfigError& e) {
    EXPECT_EQ(e.problems().size(), 3u);
    EXPECT_THAT(e.what(), HasSubstr("3 configuration problems"));
  }
}

TEST(ConfigTest, StringValuesAreChecked) {
  ConfigDir dir;
  auto o = dir.options();
  o.sets = {"db.url=postgres://u:hunter2@h/db"};
  std::string err = load_error(o);
  EXPECT_THAT(err, HasSubstr("db.url: expected mysql://user:password@host:port/database ("));
  EXPECT_THAT(err, Not(HasSubstr("hunter2")));
  o.sets = {"db.url=mysql//u:hunter2-host/db"};
  EXPECT_THAT(load_error(o), Not(HasSubstr("hunter2")));
  o.sets = {"redis.url=http://x"};
  EXPECT_THAT(load_error(o), HasSubstr("redis.url: expected a URL redis://"));
  o.sets = {"kafka.bootstrap-servers=localhost"};
  EXPECT_THAT(load_error(o), HasSubstr("kafka.bootstrap-servers: expected a comma-separated list of host:port"));
  o.sets = {"kafka.bootstrap-servers=a:1,b:2", "redis.url=redis://:pw@r:6380/1"};
  EXPECT_NO_THROW(cfg::load_config(o));
  o.sets = {"redis.url=redis-cluster://:pw@r1:27001,r2:27002"};
  EXPECT_NO_THROW(cfg::load_config(o));
  o.sets = {"redis.url=redis-cluster://r1:27001/1"};
  EXPECT_THAT(load_error(o), HasSubstr("a cluster has no /db"));
  o.sets = {"redis.url=redis-cluster://r1:27001,r2:x"};
  EXPECT_THAT(load_error(o), HasSubstr("bad port"));
}

// `ready` extends holds up to hold.max-total, so it can never be shorter than a hold.
TEST(ConfigTest, HoldMaxTotalMustCoverAHold) {
  ConfigDir dir;
  auto o = dir.options();
  o.sets = {"hold.ttl=10m", "hold.max-total=5m"};
  EXPECT_THAT(load_error(o), HasSubstr("hold.max-total: must be at least hold.ttl (5m < 10m)"));
  o.sets = {"hold.ttl=10m", "hold.max-total=10m"};
  EXPECT_EQ(cfg::load_config(o).config.hold.max_total, std::chrono::minutes(10));
}

// The reconciler picks orders up one interval early, so the interval must fit in the deadline.
TEST(ConfigTest, ReconcileIntervalMustBeShorterThanTheDeadline) {
  ConfigDir dir;
  auto o = dir.options();
  o.sets = {"payment.reconcile-after=10s", "payment.reconcile-interval=5s"};
  EXPECT_THAT(load_error(o),
              HasSubstr("payment.reconcile-interval: must be less than half of payment.reconcile-after"));
  o.sets = {"payment.reconcile-after=10s", "payment.reconcile-interval=2s"};
  EXPECT_EQ(cfg::load_config(o).config.payment.reconcile_interval, std::chrono::seconds(2));
}

TEST(ConfigTest, TokenSecretMustBeLongEnoughAnywhere) {
  ConfigDir dir;
  auto o = dir.options();
  o.env["TICKETING_SECURITY_TOKEN_SECRET"] = "short-s3cret";
  std::string err = load_error(o);
  EXPECT_THAT(err, HasSubstr("security.token-secret: must be at least 32 bytes"));
  EXPECT_THAT(err, Not(HasSubstr("short-s3cret")));
}

TEST(ConfigTest, TicketSeedMustBe32BytesAndIsNeverEchoed) {
  ConfigDir dir;
  auto o = dir.options();
  o.env["TICKETING_TICKET_SIGNING_SEED"] = "0123456789abcdef-not-a-seed";
  std::string err = load_error(o);
  EXPECT_THAT(err, HasSubstr("ticket.signing-seed: expected 32 bytes as 64 hex digits or base64"));
  EXPECT_THAT(err, Not(HasSubstr("not-a-seed")));
  o.env["TICKETING_TICKET_SIGNING_SEED"] = std::string(kStrongTicketSeed);
  EXPECT_EQ(cfg::load_config(o).config.ticket.signing_seed, kStrongTicketSeed);
}

TEST(ConfigTest, ProdProfileRequiresRealSecrets) {
  ConfigDir dir;
  dir.write("application-prod.yml", "log:\n  format: json\n");
  auto o = dir.options();
  o.profile = "prod";
  std::string err = load_error(o);
  EXPECT_THAT(err, HasSubstr("security.token-secret: must be set in the prod profile"));
  EXPECT_THAT(err, HasSubstr("payment.gateway-secret: must be set in the prod profile"));
  EXPECT_THAT(err, HasSubstr("security.access-token-secret: must be set in the prod profile"));
  EXPECT_THAT(err, HasSubstr("ticket.signing-seed: must be set in the prod profile"));
  EXPECT_THAT(err, HasSubstr("queue.pow-secret: must be set in the prod profile"));
  o.env["TICKETING_QUEUE_POW_SECRET"] = std::string(cfg::kDevPowSecret);
  EXPECT_THAT(load_error(o), HasSubstr("queue.pow-secret: the dev/test value must not be used"));
  o.env["TICKETING_QUEUE_POW_SECRET"] = std::string(kStrongSecret) + "-pow";

  // The dev ticket seed is refused however it is spelled (here in base64 instead of hex).
  o.env["TICKETING_TICKET_SIGNING_SEED"] = "ZGV2LXRpY2tldC1zaWduaW5nLXNlZWQtbm90LXByb2Q=";
  o.env["TICKETING_SECURITY_TOKEN_SECRET"] = std::string(cfg::kDevTokenSecret);
  o.env["TICKETING_SECURITY_ACCESS_TOKEN_SECRET"] = std::string(cfg::kDevAccessTokenSecret);
  o.env["TICKETING_PAYMENT_GATEWAY_SECRET"] = std::string(cfg::kDevGatewaySecret);
  err = load_error(o);
  EXPECT_THAT(err, HasSubstr("security.token-secret: the dev/test value must not be used"));
  EXPECT_THAT(err, HasSubstr("security.access-token-secret: the dev/test value must not be used"));
  EXPECT_THAT(err, HasSubstr("payment.gateway-secret: the dev/test value must not be used"));
  EXPECT_THAT(err, HasSubstr("ticket.signing-seed: the dev/test value must not be used"));
  EXPECT_THAT(err, Not(HasSubstr(std::string(cfg::kDevTokenSecret))));
  o.env["TICKETING_TICKET_SIGNING_SEED"] = std::string(kStrongTicketSeed);

  // The same key for both kinds of token would let a queue token pass as an access token.
  o.env["TICKETING_SECURITY_TOKEN_SECRET"] = std::string(kStrongSecret);
  o.env["TICKETING_SECURITY_ACCESS_TOKEN_SECRET"] = std::string(kStrongSecret);
  o.env["TICKETING_PAYMENT_GATEWAY_SECRET"] = "gw-prod-secret";
  EXPECT_THAT(load_error(o), HasSubstr("security.access-token-secret: must differ from security.token-secret"));

  // The refresh cookie is Secure in prod.
  o.env["TICKETING_SECURITY_ACCESS_TOKEN_SECRET"] = std::string(kStrongSecret) + "-access";
  o.sets = {"security.cookie-secure=false"};
  EXPECT_THAT(load_error(o), HasSubstr("security.cookie-secure: must be true in the prod profile"));

  // Callbacks must be signed in prod: the plain-secret shortcut is refused.
  o.env["TICKETING_SECURITY_ACCESS_TOKEN_SECRET"] = std::string(kStrongSecret) + "-access";
  o.sets = {"payment.gateway-plain-secret=true"};
  EXPECT_THAT(load_error(o), HasSubstr("payment.gateway-plain-secret: must be false in the prod profile"));
  // Nor may the web app's mock gateway page record payments.
  o.sets = {"payment.mock-gateway=true"};
  EXPECT_THAT(load_error(o), HasSubstr("payment.mock-gateway: must be false in the prod profile"));

  o.sets.clear();
  auto loaded = cfg::load_config(o);
  EXPECT_EQ(loaded.config.security.token_secret, kStrongSecret);
  EXPECT_EQ(loaded.config.log.format, cfg::LogFormat::kJson);
  EXPECT_THAT(loaded.warnings, ::testing::Contains(HasSubstr("db.url")));  // still the dev credentials
}

TEST(ConfigTest, DescribeMasksSecretsAndShowsSources) {
  ConfigDir dir;
  auto o = dir.options();
  o.env["TICKETING_DB_URL"] = "mysql://app:Pa%24%24w0rd-xyz@db:3306/tix";
  o.env["TICKETING_REDIS_URL"] = "redis://:redis-pw-abc@cache:6379/0";
  o.env["TICKETING_SECURITY_TOKEN_SECRET"] = std::string(kStrongSecret);
  o.sets = {"payment.gateway-secret=gw-secret-42", "db.pool-size=20"};
  auto loaded = cfg::load_config(o);
  std::string text = cfg::describe(loaded);
  EXPECT_THAT(text, Not(HasSubstr("Pa%24%24w0rd-xyz")));
  EXPECT_THAT(text, Not(HasSubstr("Pa$$w0rd")));
  EXPECT_THAT(text, Not(HasSubstr("redis-pw-abc")));
  EXPECT_THAT(text, Not(HasSubstr(std::string(kStrongSecret))));
  EXPECT_THAT(text, Not(HasSubstr("gw-secret-42")));
  EXPECT_THAT(text, HasSubstr("mysql://app:******@db:3306/tix"));
  EXPECT_THAT(text, HasSubstr("redis://:******@cache:6379/0"));
  EXPECT_THAT(text, HasSubstr("(TICKETING_DB_URL)"));
  EXPECT_THAT(text, HasSubstr("(--set)"));
  EXPECT_THAT(text, HasSubstr("(default)"));
  EXPECT_THAT(text, ::testing::ContainsRegex("db\\.pool-size += 20  \\(--set\\)"));
  // Every key is listed.
  for (const auto& spec : cfg::schema()) EXPECT_THAT(text, HasSubstr(std::string(spec.key) + " ")) << spec.key;
}

TEST(ConfigTest, DescribeMasksDefaultDbPassword) {
  ConfigDir dir;
  std::string text = cfg::describe(cfg::load_config(dir.options()));
  EXPECT_THAT(text, HasSubstr("mysql://ticketing:******@127.0.0.1:13306/ticketing"));
  EXPECT_THAT(text, Not(HasSubstr("ticketing:ticketing@")));
}

TEST(ConfigTest, ParseDbUrl) {
  auto u = cfg::parse_db_url("mysql://ticketing:ticketing@127.0.0.1:13306/ticketing");
  EXPECT_EQ(u.user, "ticketing");
  EXPECT_EQ(u.password, "ticketing");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 13306);
  EXPECT_EQ(u.database, "ticketing");

  u = cfg::parse_db_url("mariadb://us%40er:p%3Ass%2Fw%25rd@db.example.com/shop");
  EXPECT_EQ(u.user, "us@er");
  EXPECT_EQ(u.password, "p:ss/w%rd");
  EXPECT_EQ(u.host, "db.example.com");
  EXPECT_EQ(u.port, 3306);
  EXPECT_EQ(u.database, "shop");

  u = cfg::parse_db_url("mysql://root@[::1]:3307/t");
  EXPECT_EQ(u.user, "root");
  EXPECT_EQ(u.password, "");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 3307);

  for (const char* bad : {"postgres://u:secretpw@h/db", "mysql://h:3306/db", "mysql://u:secretpw@h:3306",
                          "mysql://u:secretpw@h:3306/", "mysql://u:secretpw@:3306/db", "mysql://u:secretpw@h:0/db",
                          "mysql://u:secretpw@h:99999/db", "mysql://u:secretpw@h:x/db", "mysql://u:sec%zzretpw@h/db",
                          "mysql://u:secretpw@h/db?ssl=1", "mysql://:secretpw@h/db", ""}) {
    try {
      cfg::parse_db_url(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const cfg::ConfigError& e) {
      EXPECT_THAT(e.what(), Not(HasSubstr("secretpw"))) << bad;
      EXPECT_THAT(e.what(), HasSubstr("database URL")) << bad;
    }
  }
}

TEST(ConfigTest, MaskUrlPassword) {
  EXPECT_EQ(cfg::mask_url_password("mysql://u:p@h/db"), "mysql://u:******@h/db");
  EXPECT_EQ(cfg::mask_url_password("mysql://u:p@ss/w@h/db"), "mysql://u:******@h/db");
  EXPECT_EQ(cfg::mask_url_password("redis://127.0.0.1:16379"), "redis://127.0.0.1:16379");
  EXPECT_EQ(cfg::mask_url_password("mysql://u@h/db"), "mysql://u@h/db");
}

TEST(ConfigTest, ValueSyntax) {
  EXPECT_EQ(cfg::parse_duration("250ms"), 250ms);
  EXPECT_EQ(cfg::parse_duration("10s"), 10s);
  EXPECT_EQ(cfg::parse_duration("5m"), 5min);
  EXPECT_EQ(cfg::parse_duration("1h"), 1h);
  EXPECT_EQ(cfg::parse_duration("1m30s"), 90s);
  EXPECT_EQ(cfg::parse_duration("0s"), 0ms);
  for (const char* bad : {"", "10", "0", "s", "10sec", "1.5s", "-1s", " 1s", "10 s", "99999999999999999999h"})
    EXPECT_THROW(cfg::parse_duration(bad), cfg::ConfigError) << bad;
  EXPECT_EQ(cfg::parse_byte_size("65536"), 65536u);
  EXPECT_EQ(cfg::parse_byte_size("64KiB"), 65536u);
  EXPECT_EQ(cfg::parse_byte_size("1MiB"), 1048576u);
  EXPECT_EQ(cfg::parse_byte_size("2GiB"), 2ull << 30);
  for (const char* bad : {"", "KiB", "64 KiB", "64KB", "1.5MiB", "-1", "64XiB"})
    EXPECT_THROW(cfg::parse_byte_size(bad), cfg::ConfigError) << bad;
  EXPECT_TRUE(cfg::parse_bool("true"));
  EXPECT_FALSE(cfg::parse_bool("False"));
  EXPECT_THROW(cfg::parse_bool("2"), cfg::ConfigError);
}

TEST(ConfigTest, SchemaDefaultsAreValid) {
  for (const auto& spec : cfg::schema()) {
    ConfigDir dir;
    auto o = dir.options();
    o.sets = {std::string(spec.key) + "=" + std::string(spec.default_value)};
    EXPECT_NO_THROW(cfg::load_config(o)) << spec.key;
    EXPECT_FALSE(spec.description.empty()) << spec.key;
  }
}

// The shipped config/ files: application.yml lists every key with exactly the built-in default,
// and every shipped profile loads.
TEST(ConfigTest, ShippedFilesMatchSchema) {
  const fs::path dir = repo_config_dir();
  ASSERT_TRUE(fs::exists(dir / "application.yml")) << dir;
  cfg::LoadOptions o;
  o.config_dir = dir.string();
  o.profile = "dev";
  auto dev = cfg::load_config(o);
  const std::string base = (dir / "application.yml").string();
  cfg::LoadOptions base_only;
  base_only.config_dir = dir.string();
  base_only.profile = "prod";
  base_only.env["TICKETING_SECURITY_TOKEN_SECRET"] = std::string(kStrongSecret);
  base_only.env["TICKETING_SECURITY_ACCESS_TOKEN_SECRET"] = std::string(kStrongSecret) + "-access";
  base_only.env["TICKETING_PAYMENT_GATEWAY_SECRET"] = "gw";
  base_only.env["TICKETING_QUEUE_POW_SECRET"] = std::string(kStrongSecret) + "-pow";
  base_only.env["TICKETING_TICKET_SIGNING_SEED"] = std::string(kStrongTicketSeed);
  auto prod = cfg::load_config(base_only);
  for (const auto& v : prod.values) {
    const auto* spec = cfg::find_key(v.key);
    ASSERT_NE(spec, nullptr);
    if (v.source.starts_with(base + ":")) {
      EXPECT_EQ(v.value, spec->default_value) << v.key;
    } else if (v.source == "default") {
      ADD_FAILURE() << v.key << " is missing from application.yml";
    }
  }
  EXPECT_EQ(dev.config.security.token_secret, cfg::kDevTokenSecret);
  EXPECT_EQ(dev.config.payment.gateway_secret, cfg::kDevGatewaySecret);

  o.profile = "test";
  auto test = cfg::load_config(o);
  EXPECT_EQ(test.config.http.port, 0);
  EXPECT_EQ(test.config.hold.ttl, 3s);
  EXPECT_EQ(test.config.queue.heartbeat_timeout, 3s);
  EXPECT_EQ(test.config.queue.active_ttl, 5s);
  EXPECT_EQ(test.config.hold.expiry_interval, 500ms);
  EXPECT_EQ(test.config.queue.admission_interval, 100ms);
  EXPECT_EQ(test.config.security.token_secret, cfg::kDevTokenSecret);
  EXPECT_EQ(test.config.payment.gateway_secret, cfg::kDevGatewaySecret);

  o.profile = "prod";
  EXPECT_THROW(cfg::load_config(o), cfg::ConfigError);  // no secrets given
}

TEST(ConfigTest, EnvironmentSnapshotReadsEnviron) {
  ::setenv("TICKETING_CONFIG_TEST_SNAPSHOT", "x=y", 1);
  auto env = cfg::environment_snapshot();
  ::unsetenv("TICKETING_CONFIG_TEST_SNAPSHOT");
  EXPECT_EQ(env["TICKETING_CONFIG_TEST_SNAPSHOT"], "x=y");
}
