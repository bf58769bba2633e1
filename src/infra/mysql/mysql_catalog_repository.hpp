#pragma once
#include "domain/ports/catalog_repository.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

class MysqlCatalogRepository final : public domain::CatalogRepository {
 public:
  explicit MysqlCatalogRepository(MysqlPool& pool) : pool_(pool) {}

  Task<std::vector<domain::Concert>> list_concerts() override;
  Task<std::optional<std::vector<domain::Schedule>>> list_schedules(domain::ConcertId concert) override;
  Task<std::optional<domain::SeatMap>> seat_map(domain::ScheduleId schedule) override;

 private:
  MysqlPool& pool_;
};

}  // namespace ticketing::infra::mysql
