// ticketing: serve | migrate | seed | user create | token mint | ticket verify | fairness verify. See README.md and
// docs/configuration.md.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/commands.hpp"
#include "infra/config/config.hpp"
#include "infra/observability/logging.hpp"

namespace {

using namespace ticketing;

infra::observability::Level log_level(infra::config::LogLevel level) {
  switch (level) {
    case infra::config::LogLevel::kTrace: return infra::observability::Level::kTrace;
    case infra::config::LogLevel::kDebug: return infra::observability::Level::kDebug;
    case infra::config::LogLevel::kInfo: return infra::observability::Level::kInfo;
    case infra::config::LogLevel::kWarn: return infra::observability::Level::kWarn;
    case infra::config::LogLevel::kError: return infra::observability::Level::kError;
  }
  return infra::observability::Level::kInfo;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"ticketing — concert ticketing service"};
  cli.require_subcommand(1);
  // Global options also work after the subcommand (`ticketing serve --set http.port=8081`):
  // subcommands created below inherit this and hand options they do not know to the parent.
  cli.fallthrough();
  infra::config::LoadOptions load;
  std::string profile;
  std::string config_dir;
  bool print_config = false;
  cli.add_option("--profile", profile, "configuration profile (dev, test, prod); env TICKETING_PROFILE");
  cli.add_option("--config-dir", config_dir, "directory holding application.yml; env TICKETING_CONFIG_DIR");
  cli.add_option("--set", load.sets, "override a key: --set db.pool-size=32 (repeatable)")->take_all();
  cli.add_flag("--print-config", print_config, "log every effective key and its source (secrets masked)");

  auto* serve = cli.add_subcommand("serve", "serve the HTTP API and run background workers");
  std::string role;
  serve->add_option("--role", role, "api | worker | all (default all)");
  cli.add_subcommand("migrate", "apply pending database migrations");
  auto* seed = cli.add_subcommand("seed", "load demo data (skipped when data exists)");
  app::SeedCommandOptions seed_options;
  seed->add_option("--users", seed_options.users, "number of demo users")->check(CLI::Range(1, 10'000'000));

  auto* user = cli.add_subcommand("user", "manage accounts");
  user->require_subcommand(1);
  auto* user_create = user->add_subcommand("create", "create an account; the password is read from stdin");
  app::UserCreateOptions user_options;
  user_create->add_option("--email", user_options.email, "email address")->required();
  user_create->add_option("--name", user_options.name, "display name")->required();
  user_create->add_flag("--admin", user_options.admin, "an operator (ADMIN) account instead of a fan");

  auto* token = cli.add_subcommand("token", "access tokens for load tests and benchmarks");
  token->require_subcommand(1);
  auto* token_mint = token->add_subcommand("mint", "print '<userId> <token>' lines for seeded users");
  app::TokenMintOptions mint_options;
  token_mint->add_option("--users", mint_options.users, "user ids A-B (or one id)")->required();
  token_mint->add_option("--ttl", mint_options.ttl, "lifetime, e.g. 30m, 1h (default 1h, at most 24h)");
  token_mint->add_flag("--admin", mint_options.admin, "tokens with role ADMIN");
  token_mint->add_option("--out", mint_options.out, "write to this file instead of stdout");

  auto* ticket = cli.add_subcommand("ticket", "e-tickets");
  ticket->require_subcommand(1);
  auto* ticket_verify = ticket->add_subcommand("verify", "verify an e-ticket QR payload offline, as a gate would");
  app::TicketVerifyOptions verify_options;
  ticket_verify->add_option("payload", verify_options.payload, "the QR payload (TKT1....)")->required();
  auto* key_option = ticket_verify->add_option("--key", verify_options.key,
                                               "the public key (base64url, from /.well-known/ticket-key)");
  ticket_verify
      ->add_option("--key-file", verify_options.key_file,
                   "a file with the public key or the JSON of /.well-known/ticket-key")
      ->excludes(key_option);
  ticket_verify->add_option("--revoked-file", verify_options.revoked_file,
                            "the JSON of /.well-known/ticket-key: also refuse the tickets it revokes");

  auto* fairness = cli.add_subcommand("fairness", "the pre-queue's fair start (docs/queue.md)");
  fairness->require_subcommand(1);
  auto* fairness_verify = fairness->add_subcommand(
      "verify", "check the JSON of GET /schedules/{id}/fairness: commitment, order, and a user's place");
  app::FairnessVerifyOptions fairness_options;
  fairness_verify->add_option("file", fairness_options.file, "the saved JSON ('-': stdin)")->required();
  fairness_verify->add_option("--user", fairness_options.user, "recompute this user's HMAC and find its place");
  fairness_verify->add_option("--mac", fairness_options.mac, "the HMAC (hex) expected for --user")->needs("--user");

  CLI11_PARSE(cli, argc, argv);

  // Offline and self-contained: no configuration is needed.
  if (fairness_verify->parsed()) return app::run_fairness_verify(fairness_options);

  // Offline with a key given: no configuration (nor database) is needed, as at a gate.
  if (ticket_verify->parsed() && !verify_options.needs_config()) {
    return app::run_ticket_verify(verify_options, nullptr);
  }

  if (!profile.empty()) load.profile = profile;
  if (!config_dir.empty()) load.config_dir = config_dir;
  if (!role.empty()) load.sets.push_back("role=" + role);
  load.env = infra::config::environment_snapshot();

  infra::config::LoadedConfig loaded;
  try {
    loaded = infra::config::load_config(load);
  } catch (const std::exception& error) {
    std::cerr << "configuration error:\n" << error.what() << "\n";
    return 2;
  }
  infra::observability::configure_logging(log_level(loaded.config.log.level));
  for (const auto& warning : loaded.warnings) spdlog::warn("config: {}", warning);
  if (print_config) spdlog::info("effective configuration:\n{}", infra::config::describe(loaded));

  try {
    int code = 0;
    if (cli.got_subcommand("serve")) {
      code = app::run_serve(loaded.config);
    } else if (cli.got_subcommand("migrate")) {
      code = app::run_migrate(loaded.config);
    } else if (cli.got_subcommand("seed")) {
      code = app::run_seed(loaded.config, seed_options);
    } else if (user_create->parsed()) {
      code = app::run_user_create(loaded.config, user_options);
    } else if (token_mint->parsed()) {
      code = app::run_token_mint(loaded.config, mint_options);
    } else if (ticket_verify->parsed()) {
      code = app::run_ticket_verify(verify_options, &loaded.config);
    }
    infra::observability::flush_logs();
    return code;
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    infra::observability::flush_logs();
    return 1;
  }
}
