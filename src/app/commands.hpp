#pragma once
#include "infra/config/config.hpp"

namespace ticketing::app {

// Subcommands of the `ticketing` binary. Each returns the process exit code.
int run_serve(const infra::config::AppConfig& config);
int run_migrate(const infra::config::AppConfig& config);
struct SeedCommandOptions {
  int users = 100'000;
};
int run_seed(const infra::config::AppConfig& config, const SeedCommandOptions& options);

}  // namespace ticketing::app
