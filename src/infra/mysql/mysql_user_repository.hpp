#pragma once
// User existence, asked on every queue enter. A sale opening means tens of thousands of distinct
// users per second, each a cache miss for a plain LRU, so known ids are kept in a bitmap (1 bit per
// id up to kBitmapIds; a hash set above) that `preload()` fills at start-up. Unknown ids fall back
// to the database and are remembered when found; missing ones are not (a user may be created).
#include <cstdint>
#include <shared_mutex>
#include <unordered_set>
#include <vector>

#include "domain/ports/user_repository.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

class MysqlUserRepository final : public domain::UserRepository {
 public:
  explicit MysqlUserRepository(MysqlPool& pool) : pool_(pool) {}

  Task<bool> exists(domain::UserId user) override;
  // Loads every existing id into the cache in batches; returns how many.
  Task<std::int64_t> preload();

  static constexpr std::int64_t kBitmapIds = std::int64_t{1} << 27;  // 16 MiB at most

 private:
  bool cached(std::int64_t id) const;
  void remember(const std::vector<std::int64_t>& ids);

  MysqlPool& pool_;
  mutable std::shared_mutex mutex_;
  std::vector<std::uint64_t> bitmap_;
  std::unordered_set<std::int64_t> large_ids_;
};

}  // namespace ticketing::infra::mysql
