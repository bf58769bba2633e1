#pragma once
#include <string>

#include "infra/mysql/mysql_connection.hpp"

namespace ticketing::infra::mysql {

struct SeedOptions {
  int users = 100'000;
};

struct SeedReport {
  bool skipped = false;  // data was already there
  int users = 0;
  int concerts = 0;
  int schedules = 0;
  int seats = 0;
};

// Demo data for running and load-testing: users 1..N (user<N>@example.com), three concerts,
// schedule 1 (1,000 seats, booking open), schedule 2 (10,000 seats, open), schedule 3 (1,000 seats,
// booking opens in 30 days), schedule 4 (100 seats, open). Does nothing if concerts exist.
SeedReport seed_demo_data(MysqlConnection& connection, const SeedOptions& options);

}  // namespace ticketing::infra::mysql
