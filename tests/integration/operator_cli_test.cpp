// The operator commands of the binary (`user create`, `token mint`) against the test database, and
// global options given after the subcommand.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <boost/json/parse.hpp>
#include <cstdio>
#include <sstream>

#include "domain/ports/clock.hpp"
#include "infra/security/jwt_access_token_service.hpp"
#include "infra/security/random.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;

namespace {

struct CommandResult {
  int exit_code = -1;
  std::string out;
};

// Runs the binary through the shell with `input` on stdin; stdout captured, stderr to the log.
CommandResult run_binary(const std::string& args, const std::string& input = "") {
  const std::string input_file = "/tmp/ticketing-cli-test-" + infra::security::random_hex(6);
  FILE* in = std::fopen(input_file.c_str(), "w");
  std::fputs(input.c_str(), in);
  std::fclose(in);
  const std::string command = fmt::format("{} {} < {} 2>/dev/null", TICKETING_BINARY, args, input_file);
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.out += buffer.data();
  const int status = ::pclose(pipe);
  std::remove(input_file.c_str());
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string login_body(const std::string& email, const std::string& password) {
  return fmt::format(R"({{"email":"{}","password":"{}"}})", email, password);
}

}  // namespace

// The password comes from stdin, never argv; the new admin can sign in and has role ADMIN; a second
// account with the same email is refused without a row.
TEST(OperatorCli, UserCreateReadsThePasswordFromStdinAndTheAccountSignsIn) {
  prepare_test_database();
  const std::string email = "ops-" + infra::security::random_hex(6) + "@example.com";
  const auto created = run_binary(fmt::format("user create --admin --email {} --name Operator --profile test", email),
                                  "s3cret-pass-word\n");
  ASSERT_EQ(created.exit_code, 0) << created.out;
  EXPECT_NE(created.out.find("role ADMIN"), std::string::npos) << created.out;
  EXPECT_EQ(created.out.find("s3cret-pass-word"), std::string::npos);

  TestServer server;
  const auto login = http(server.port(), "POST", "/auth/login", login_body(email, "s3cret-pass-word"));
  ASSERT_EQ(login.status, 200) << login.raw;
  const auto body = json::parse(login.body).as_object();
  EXPECT_EQ(body.at("user").at("role").as_string(), "ADMIN");
  EXPECT_EQ(http(server.port(), "POST", "/auth/login", login_body(email, "wrong-pass-word")).status, 401);

  const auto again =
      run_binary(fmt::format("--profile test user create --email {} --name Twice", email), "another-password\n");
  EXPECT_NE(again.exit_code, 0);
  auto db = test_db();
  EXPECT_EQ(db->query(fmt::format("SELECT COUNT(*) FROM user_account WHERE email = '{}'", email)).rows[0][0], "1");
  // A password below the minimum is refused before anything is written.
  const auto weak_email = "weak-" + infra::security::random_hex(6) + "@example.com";
  EXPECT_EQ(
      run_binary(fmt::format("user create --email {} --name Weak --profile test", weak_email), "short\n").exit_code, 2);
  EXPECT_EQ(db->query(fmt::format("SELECT COUNT(*) FROM user_account WHERE email = '{}'", weak_email)).rows[0][0], "0");
}

// `token mint` writes one "<userId> <token>" line per user, signed with the configured access-token
// key; global options work before and after the subcommand alike.
TEST(OperatorCli, TokenMintWritesVerifiableTokensWithOptionsOnEitherSide) {
  prepare_test_database();
  const auto after = run_binary("token mint --users 3-5 --ttl 10m --profile test");
  const auto before = run_binary("--profile test token mint --users 3-5 --ttl 10m");
  ASSERT_EQ(after.exit_code, 0);
  ASSERT_EQ(before.exit_code, 0);
  const infra::security::JwtAccessTokenService tokens(test_config().security.access_token_secret);
  const auto now = domain::SystemClock().now();
  for (const auto* output : {&after.out, &before.out}) {
    std::istringstream lines(*output);
    std::int64_t expected_user = 3;
    std::string user;
    std::string token;
    while (lines >> user >> token) {
      EXPECT_EQ(user, std::to_string(expected_user));
      const auto check = tokens.verify(token, now);
      ASSERT_TRUE(check.claims.has_value()) << token;
      EXPECT_EQ(check.claims->user.value, expected_user);
      EXPECT_LE(check.claims->expires_at - now, std::chrono::minutes(10));
      ++expected_user;
    }
    EXPECT_EQ(expected_user, 6) << *output;
  }
  // A minted token is accepted by the service.
  TestServer server;
  std::istringstream lines(after.out);
  std::string user;
  std::string token;
  lines >> user >> token;
  const auto me = http(server.port(), "GET", "/me", "", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(me.status, 200) << me.raw;
  EXPECT_EQ(json::parse(me.body).at("id").as_int64(), 3);
  EXPECT_NE(run_binary("token mint --users 5-3 --profile test").exit_code, 0);
  EXPECT_NE(run_binary("token mint --users abc --profile test").exit_code, 0);
}
