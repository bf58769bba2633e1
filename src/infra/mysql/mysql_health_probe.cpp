#include "infra/mysql/mysql_health_probe.hpp"

#include "domain/errors.hpp"

namespace ticketing::infra::mysql {

Task<domain::ProbeResult> MysqlHealthProbe::probe() {
  try {
    auto work = [](MysqlConnection& db) {
      const auto result = db.query("SELECT 1");
      return !result.rows.empty();
    };
    const bool ok = co_await pool_.run(work);
    co_return domain::ProbeResult{ok, ok ? "" : "unexpected answer to SELECT 1"};
  } catch (const std::exception& error) {
    co_return domain::ProbeResult{false, error.what()};
  }
}

}  // namespace ticketing::infra::mysql
