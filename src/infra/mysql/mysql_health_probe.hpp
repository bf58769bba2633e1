#pragma once
#include "domain/ports/health_probe.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

class MysqlHealthProbe final : public domain::HealthProbe {
 public:
  explicit MysqlHealthProbe(MysqlPool& pool) : pool_(pool) {}
  const std::string& component() const override { return name_; }
  Task<domain::ProbeResult> probe() override;

 private:
  MysqlPool& pool_;
  std::string name_ = "db";
};

}  // namespace ticketing::infra::mysql
