// CPU cost of the signed tokens on every request (DESIGN.md §5, §12): the access token
// (JwtAccessTokenService: every signed-in route verifies one) and the queue's admission token
// (JwtTokenService: the booking routes verify one more, in the Queue-Token header). Issue is paid
// once per sign-in / refresh / admission, verify on every request. Pure CPU, no services needed:
//
//   scripts/build micro_bench && build/bench/micro_bench --benchmark_filter='Token'
//
// Each verify takes one of kTokens pre-issued tokens in turn (different users, as a server sees
// them), so the figure is not that of one hot string. "Rejected" is a token whose signature was
// altered: what a forged or corrupted token costs before the 401.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/ports/access_token_service.hpp"
#include "domain/ports/token_service.hpp"
#include "infra/security/jwt_access_token_service.hpp"
#include "infra/security/jwt_token_service.hpp"

namespace {

using namespace ticketing;
using namespace std::chrono_literals;

constexpr std::size_t kTokens = 1024;
// The dev profile's keys (config/application-dev.yml): the length is what matters for HMAC.
const std::string kAccessSecret = "dev-access-token-secret-not-for-production-0123";
const std::string kQueueSecret = "dev-token-secret-not-for-production-0123456789";
const std::string kSession = "420ece6ac3428313d5314b05c88cb9fb";  // 32 hex digits, as a sign-in makes

domain::Timestamp now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

domain::AccessClaims access_claims(std::int64_t user, domain::Timestamp at) {
  return domain::AccessClaims{domain::UserId{user}, domain::Role::kFan, kSession, at, at + 15min};
}

domain::AdmissionClaims admission_claims(std::int64_t user, domain::Timestamp at) {
  return domain::AdmissionClaims{domain::UserId{user}, domain::ScheduleId{1}, at, at + 10min};
}

// Seven-digit user ids, as in the 2,000,000-user bench database.
std::int64_t user_of(std::size_t i) {
  return 1'000'000 + static_cast<std::int64_t>(i) * 977;
}

// Flips one character of the signature (the last part) to another base64url character.
std::string tampered(std::string token) {
  char& c = token[token.size() - 2];
  c = c == 'A' ? 'B' : 'A';
  return token;
}

void BM_AccessTokenIssue(benchmark::State& state) {
  const infra::security::JwtAccessTokenService service(kAccessSecret);
  const auto at = now();
  std::size_t i = 0;
  for (auto _ : state) {
    std::string token = service.issue(access_claims(user_of(i++ % kTokens), at));
    benchmark::DoNotOptimize(token);
  }
  state.SetItemsProcessed(state.iterations());
}

// Shared by the threads of one run (verify is thread-safe, as on the server's I/O threads).
template <typename Service, typename Claims>
std::vector<std::string> issue_all(const Service& service, Claims (*claims)(std::int64_t, domain::Timestamp),
                                   bool tamper) {
  std::vector<std::string> tokens;
  const auto at = now();
  for (std::size_t i = 0; i < kTokens; ++i) {
    std::string token = service.issue(claims(user_of(i), at));
    tokens.push_back(tamper ? tampered(std::move(token)) : std::move(token));
  }
  return tokens;
}

void BM_AccessTokenVerify(benchmark::State& state) {
  static const infra::security::JwtAccessTokenService service(kAccessSecret);
  static const std::vector<std::string> tokens = issue_all(service, access_claims, false);
  const auto at = now();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 131;
  for (auto _ : state) {
    const auto check = service.verify(tokens[i++ % kTokens], at);
    if (!check.claims) throw std::logic_error("a freshly issued access token did not verify");
    benchmark::DoNotOptimize(check);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["token_bytes"] =
      benchmark::Counter(static_cast<double>(tokens[0].size()), benchmark::Counter::kAvgThreads);
}

void BM_AccessTokenVerifyRejected(benchmark::State& state) {
  static const infra::security::JwtAccessTokenService service(kAccessSecret);
  static const std::vector<std::string> tokens = issue_all(service, access_claims, true);
  const auto at = now();
  std::size_t i = 0;
  for (auto _ : state) {
    const auto check = service.verify(tokens[i++ % kTokens], at);
    if (check.claims) throw std::logic_error("a tampered access token verified");
    benchmark::DoNotOptimize(check);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_AdmissionTokenIssue(benchmark::State& state) {
  const infra::security::JwtTokenService service(kQueueSecret);
  const auto at = now();
  std::size_t i = 0;
  for (auto _ : state) {
    std::string token = service.issue(admission_claims(user_of(i++ % kTokens), at));
    benchmark::DoNotOptimize(token);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_AdmissionTokenVerify(benchmark::State& state) {
  static const infra::security::JwtTokenService service(kQueueSecret);
  static const std::vector<std::string> tokens = issue_all(service, admission_claims, false);
  const auto at = now();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 131;
  for (auto _ : state) {
    const auto check = service.verify(tokens[i++ % kTokens], at);
    if (!check.claims) throw std::logic_error("a freshly issued admission token did not verify");
    benchmark::DoNotOptimize(check);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["token_bytes"] =
      benchmark::Counter(static_cast<double>(tokens[0].size()), benchmark::Counter::kAvgThreads);
}

BENCHMARK(BM_AccessTokenIssue)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AccessTokenVerify)->Unit(benchmark::kMicrosecond)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_AccessTokenVerifyRejected)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AdmissionTokenIssue)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AdmissionTokenVerify)->Unit(benchmark::kMicrosecond)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
