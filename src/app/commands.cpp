#include "app/commands.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "app/application.hpp"
#include "infra/mysql/demo_seed.hpp"
#include "infra/mysql/migrations.hpp"

namespace ticketing::app {

namespace {

infra::mysql::DbEndpoint endpoint_of(const infra::config::AppConfig& config) {
  const auto url = infra::config::parse_db_url(config.db.url);
  return infra::mysql::DbEndpoint{url.host, url.port, url.user, url.password, url.database,
                                  config.db.connect_timeout, config.db.query_timeout};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int run_serve(const infra::config::AppConfig& config) {
  Application application(config);
  application.start();
  application.run_until_signal();
  return 0;
}

int run_migrate(const infra::config::AppConfig& config) {
  const auto started = std::chrono::steady_clock::now();
  infra::mysql::MysqlConnection connection(endpoint_of(config), /*multi_statements=*/true);
  const auto report =
      infra::mysql::migrate(connection, infra::mysql::plan_migrations(infra::mysql::embedded_migrations()));
  for (const auto& name : report.applied) spdlog::info("applied migration {}", name);
  spdlog::info("schema up to date: {} applied now, {} already applied ({:.2f} s)", report.applied.size(),
               report.already_applied, seconds_since(started));
  return 0;
}

int run_seed(const infra::config::AppConfig& config, const SeedCommandOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  infra::mysql::MysqlConnection connection(endpoint_of(config));
  const auto report = infra::mysql::seed_demo_data(connection, infra::mysql::SeedOptions{options.users});
  if (report.skipped) {
    spdlog::info("demo data already present; nothing seeded");
  } else {
    spdlog::info("seeded {} users, {} concerts, {} schedules, {} seats in {:.2f} s", report.users, report.concerts,
                 report.schedules, report.seats, seconds_since(started));
  }
  return 0;
}

}  // namespace ticketing::app
