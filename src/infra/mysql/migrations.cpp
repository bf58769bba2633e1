#include "infra/mysql/migrations.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace ticketing::infra::mysql {
namespace {

std::string fnv1a_hex(std::string_view text) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

class MigrationLock {
 public:
  explicit MigrationLock(MysqlConnection& connection) : connection_(connection) {
    const auto result = connection_.query("SELECT GET_LOCK('ticketing.migrate', 60)");
    if (result.rows.empty() || result.rows[0][0] != std::optional<std::string>("1")) {
      throw std::runtime_error("could not take the migration lock within 60 s (another migrate running?)");
    }
  }
  ~MigrationLock() {
    try {
      connection_.query("SELECT RELEASE_LOCK('ticketing.migrate')");
    } catch (...) {
      // The server releases the lock when the connection closes.
    }
  }

 private:
  MysqlConnection& connection_;
};

}  // namespace

std::vector<Migration> plan_migrations(const std::vector<EmbeddedMigration>& files) {
  std::vector<Migration> plan;
  for (const auto& file : files) {
    const std::string_view name = file.file_name;
    const auto sep = name.find("__");
    if (name.size() < 5 || name[0] != 'V' || sep == std::string_view::npos || sep < 2 || !name.ends_with(".sql")) {
      throw std::runtime_error("bad migration file name '" + std::string(name) + "': expected V<number>__<name>.sql");
    }
    int version = 0;
    for (char c : name.substr(1, sep - 1)) {
      if (c < '0' || c > '9') throw std::runtime_error("bad migration version in '" + std::string(name) + "'");
      version = version * 10 + (c - '0');
    }
    plan.push_back(Migration{version, std::string(name.substr(0, name.size() - 4)), file.sql, fnv1a_hex(file.sql)});
  }
  std::sort(plan.begin(), plan.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < plan.size(); ++i) {
    if (plan[i].version == plan[i - 1].version) {
      throw std::runtime_error("two migrations with version " + std::to_string(plan[i].version));
    }
  }
  return plan;
}

MigrationReport migrate(MysqlConnection& connection, const std::vector<Migration>& migrations) {
  connection.execute(
      "CREATE TABLE IF NOT EXISTS schema_history ("
      " version INT NOT NULL PRIMARY KEY,"
      " name VARCHAR(255) NOT NULL,"
      " checksum VARCHAR(32) NOT NULL,"
      " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
      ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
  MigrationLock lock(connection);

  std::map<int, std::string> applied;
  for (const auto& row : connection.query("SELECT version, checksum FROM schema_history").rows) {
    applied.emplace(std::stoi(*row[0]), *row[1]);
  }

  MigrationReport report;
  for (const auto& migration : migrations) {
    if (auto it = applied.find(migration.version); it != applied.end()) {
      if (it->second != migration.checksum) {
        throw std::runtime_error("migration " + migration.name + " was changed after it was applied (checksum " +
                                 it->second + " in schema_history, " + migration.checksum +
                                 " now); add a new migration instead of editing an applied one");
      }
      ++report.already_applied;
      continue;
    }
    try {
      connection.execute_script(migration.sql);
    } catch (const MysqlError& error) {
      throw std::runtime_error("migration " + migration.name + " failed: " + error.what());
    }
    connection.execute("INSERT INTO schema_history (version, name, checksum) VALUES (?, ?, ?)",
                       {migration.version, migration.name, migration.checksum});
    report.applied.push_back(migration.name);
  }
  return report;
}

}  // namespace ticketing::infra::mysql
