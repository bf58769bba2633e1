#pragma once
// Argon2id password hashes (libsodium crypto_pwhash_str) on a small pool of their own threads, so a
// burst of sign-ins never occupies an I/O thread. At most `max_pending` hashes wait or run; beyond
// that the caller gets 503 with Retry-After at once (a login storm cannot queue without bound).
#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "domain/ports/password_hasher.hpp"

namespace ticketing::infra::security {

struct Argon2Options {
  unsigned long long ops_limit = 2;             // passes over memory (libsodium's opslimit)
  std::size_t memory_bytes = 19 * 1024 * 1024;  // memory per hash (memlimit)
};

class SodiumPasswordHasher final : public domain::PasswordHasher {
 public:
  SodiumPasswordHasher(Argon2Options argon2, int threads, int max_pending);
  ~SodiumPasswordHasher() override;

  Task<std::string> hash(std::string password) override;
  Task<bool> verify(std::optional<std::string> stored_hash, std::string password) override;

  // Blocking, on the calling thread (commands such as `seed` and `user create`).
  std::string hash_now(std::string_view password) const;
  bool verify_now(const std::optional<std::string>& stored_hash, std::string_view password) const;

  void stop();

 private:
  void admit();

  Argon2Options argon2_;
  int max_pending_;
  std::atomic<int> pending_{0};
  std::string dummy_hash_;
  boost::asio::thread_pool pool_;
};

}  // namespace ticketing::infra::security
