// The Argon2id hasher (libsodium) and its bounded pool, with the cheapest parameters libsodium allows.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "domain/errors.hpp"
#include "infra/security/sodium_password_hasher.hpp"
#include "run_task.hpp"

using ticketing::domain::ErrorCode;
using ticketing::domain::RetryLater;
using ticketing::infra::security::Argon2Options;
using ticketing::infra::security::SodiumPasswordHasher;
using ticketing::testing::run_task;

namespace {

constexpr Argon2Options kCheap{1, 8 * 1024};

}  // namespace

TEST(PasswordHasher, HashesVerifyOnlyTheirPasswordAndUnknownAccountsNever) {
  SodiumPasswordHasher hasher(kCheap, 1, 4);
  const auto hash = run_task(hasher.hash("correct horse battery"));
  EXPECT_TRUE(hash.starts_with("$argon2id$")) << hash;
  EXPECT_EQ(hash.find("correct horse"), std::string::npos);
  EXPECT_NE(run_task(hasher.hash("correct horse battery")), hash) << "salted";
  EXPECT_TRUE(run_task(hasher.verify(hash, "correct horse battery")));
  EXPECT_FALSE(run_task(hasher.verify(hash, "correct horse batterz")));
  EXPECT_FALSE(run_task(hasher.verify(std::nullopt, "correct horse battery")));
  EXPECT_FALSE(run_task(hasher.verify(std::string("not a hash"), "correct horse battery")));
  EXPECT_FALSE(run_task(hasher.verify(std::string(), "")));
}

// Beyond `max_pending` hashes waiting or running, the caller is told to come back (503 +
// Retry-After) at once instead of queueing without bound.
TEST(PasswordHasher, AFullPoolRefusesAtOnceWithRetryAfter) {
  SodiumPasswordHasher hasher(Argon2Options{4, 64 * 1024 * 1024}, 1, 1);  // slow enough to still be running
  boost::asio::io_context io;
  auto first = boost::asio::co_spawn(io, hasher.hash("first password"), boost::asio::use_future);
  io.run_one();  // starts the first hash on the pool
  try {
    run_task(hasher.hash("second password"));
    FAIL() << "the second hash was accepted while the pool was full";
  } catch (const RetryLater& error) {
    EXPECT_EQ(error.code(), ErrorCode::kDependencyUnavailable);
    EXPECT_GE(error.retry_after().count(), 1);
  }
  io.run();
  EXPECT_TRUE(first.get().starts_with("$argon2id$"));
  // Once the first is done the pool takes work again.
  EXPECT_TRUE(run_task(hasher.verify(std::nullopt, "x")) == false);
}
