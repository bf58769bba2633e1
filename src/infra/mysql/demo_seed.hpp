#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "domain/ids.hpp"
#include "infra/mysql/mysql_connection.hpp"

namespace ticketing::infra::mysql {

// The one documented password of every seeded demo user (README, docs/security.md).
inline constexpr std::string_view kDemoPassword = "demo-password";

// The admin_audit actor of the seed's creations: no account has id 0.
inline constexpr domain::UserId kSeedActor{0};

struct SeedOptions {
  int users = 100'000;
  // Argon2id hash of kDemoPassword, computed once by the caller and shared by every demo user.
  std::string password_hash;
};

struct SeedReport {
  bool skipped = false;  // data was already there
  int users = 0;
  int concerts = 0;
  int schedules = 0;
  int seats = 0;
  std::vector<std::int64_t> schedule_ids;  // 1-4 on an empty database
};

// Demo data for running and load-testing, in one transaction: users 1..N (user<N>@example.com), three
// venues, three concerts, schedule 1 (1,000 seats, booking open), schedule 2 (10,000 seats, open),
// schedule 3 (1,000 seats, booking opens in 30 days), schedule 4 (100 seats, open). Venues, concerts
// and schedules are created by the operator console's code. Does nothing if concerts exist, except
// giving demo users from before accounts had passwords the demo password.
SeedReport seed_demo_data(MysqlConnection& connection, const SeedOptions& options);

}  // namespace ticketing::infra::mysql
