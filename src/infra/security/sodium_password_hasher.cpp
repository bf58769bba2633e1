#include "infra/security/sodium_password_hasher.hpp"

#include <sodium.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "domain/errors.hpp"

namespace ticketing::infra::security {
namespace {

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium could not be initialised");
}

struct PendingExit {
  std::atomic<int>& pending;
  ~PendingExit() { pending.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace

SodiumPasswordHasher::SodiumPasswordHasher(Argon2Options argon2, int threads, int max_pending)
    : argon2_(argon2), max_pending_(max_pending), pool_(static_cast<std::size_t>(threads < 1 ? 1 : threads)) {
  ensure_sodium();
  if (argon2_.ops_limit < crypto_pwhash_OPSLIMIT_MIN || argon2_.memory_bytes < crypto_pwhash_MEMLIMIT_MIN) {
    throw std::invalid_argument("Argon2 parameters below libsodium's minimum");
  }
  // What an unknown account is "verified" against: same parameters, so the same time.
  dummy_hash_ = hash_now("not-a-password: unknown accounts are checked against this");
}

SodiumPasswordHasher::~SodiumPasswordHasher() {
  stop();
}

void SodiumPasswordHasher::stop() {
  pool_.stop();
  pool_.join();
}

std::string SodiumPasswordHasher::hash_now(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), argon2_.ops_limit, argon2_.memory_bytes) != 0) {
    throw std::runtime_error("password hashing ran out of memory");
  }
  return std::string(out);
}

bool SodiumPasswordHasher::verify_now(const std::optional<std::string>& stored_hash, std::string_view password) const {
  const bool known = stored_hash.has_value() && !stored_hash->empty() && stored_hash->size() < crypto_pwhash_STRBYTES;
  const std::string& hash = known ? *stored_hash : dummy_hash_;
  const bool matches = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return known && matches;
}

void SodiumPasswordHasher::admit() {
  if (pending_.fetch_add(1, std::memory_order_relaxed) >= max_pending_) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    throw domain::RetryLater(domain::ErrorCode::kDependencyUnavailable, "sign-in is busy right now; retry in a moment",
                             std::chrono::seconds(1));
  }
}

Task<std::string> SodiumPasswordHasher::hash(std::string password) {
  admit();
  auto work = [this, password = std::move(password)]() mutable -> Task<std::string> {
    PendingExit exit{pending_};
    std::string out = hash_now(password);
    sodium_memzero(password.data(), password.size());
    co_return out;
  };
  co_return co_await boost::asio::co_spawn(pool_.get_executor(), std::move(work), boost::asio::use_awaitable);
}

Task<bool> SodiumPasswordHasher::verify(std::optional<std::string> stored_hash, std::string password) {
  admit();
  auto work = [this, stored_hash = std::move(stored_hash), password = std::move(password)]() mutable -> Task<bool> {
    PendingExit exit{pending_};
    const bool ok = verify_now(stored_hash, password);
    sodium_memzero(password.data(), password.size());
    co_return ok;
  };
  co_return co_await boost::asio::co_spawn(pool_.get_executor(), std::move(work), boost::asio::use_awaitable);
}

}  // namespace ticketing::infra::security
