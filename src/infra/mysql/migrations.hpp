#pragma once
// Versioned SQL migrations (db/migrations/V<n>__<name>.sql, embedded at build time), recorded in
// `schema_history`. Re-running is a no-op; an applied file that changed is an error.
#include <string>
#include <string_view>
#include <vector>

#include "infra/mysql/mysql_connection.hpp"

namespace ticketing::infra::mysql {

struct EmbeddedMigration {
  std::string_view file_name;
  std::string_view sql;
};
const std::vector<EmbeddedMigration>& embedded_migrations();

struct Migration {
  int version;
  std::string name;
  std::string_view sql;
  std::string checksum;
};
// Parses and orders the migrations; throws std::runtime_error on a bad file name or duplicate version.
std::vector<Migration> plan_migrations(const std::vector<EmbeddedMigration>& files);

struct MigrationReport {
  std::vector<std::string> applied;  // names applied now
  int already_applied = 0;
};

// `connection` must allow multi-statements. Serialised across processes with GET_LOCK.
MigrationReport migrate(MysqlConnection& connection, const std::vector<Migration>& migrations);

}  // namespace ticketing::infra::mysql
