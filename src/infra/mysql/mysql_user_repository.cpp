#include "infra/mysql/mysql_user_repository.hpp"

#include <mutex>

#include "infra/mysql/row_reader.hpp"

namespace ticketing::infra::mysql {

bool MysqlUserRepository::cached(std::int64_t id) const {
  std::shared_lock lock(mutex_);
  if (id < kBitmapIds) {
    const auto word = static_cast<std::size_t>(id / 64);
    return word < bitmap_.size() && (bitmap_[word] >> (id % 64) & 1U) != 0;
  }
  return large_ids_.count(id) > 0;
}

void MysqlUserRepository::remember(const std::vector<std::int64_t>& ids) {
  std::unique_lock lock(mutex_);
  for (const auto id : ids) {
    if (id < kBitmapIds) {
      const auto word = static_cast<std::size_t>(id / 64);
      if (word >= bitmap_.size()) bitmap_.resize(word + 1 + word / 4, 0);
      bitmap_[word] |= std::uint64_t{1} << (id % 64);
    } else {
      large_ids_.insert(id);
    }
  }
}

Task<bool> MysqlUserRepository::exists(domain::UserId user) {
  if (cached(user.value)) co_return true;
  auto work = [id = user.value](MysqlConnection& db) {
    return !db.query("SELECT 1 FROM user_account WHERE id = ?", {id}).rows.empty();
  };
  const bool found = co_await pool_.run(work);
  if (found) remember({user.value});
  co_return found;
}

Task<std::int64_t> MysqlUserRepository::preload() {
  static constexpr int kBatch = 50'000;
  std::int64_t after = 0;
  std::int64_t total = 0;
  while (true) {
    auto work = [after](MysqlConnection& db) {
      std::vector<std::int64_t> out;
      const auto result = db.query("SELECT id FROM user_account WHERE id > ? ORDER BY id LIMIT ?", {after, kBatch});
      out.reserve(result.rows.size());
      for (const auto& row : result.rows) out.push_back(to_int64(row[0]));
      return out;
    };
    auto ids = co_await pool_.run(work);
    if (ids.empty()) break;
    after = ids.back();
    total += static_cast<std::int64_t>(ids.size());
    remember(ids);
    if (ids.size() < static_cast<std::size_t>(kBatch)) break;
  }
  co_return total;
}

}  // namespace ticketing::infra::mysql
