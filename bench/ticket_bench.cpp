// CPU cost of e-ticket payloads (docs/tickets.md): GET /me/tickets signs one Ed25519 payload per
// VALID ticket on every call; a gate verifies one per scan. Pure CPU, no services needed:
//
//   scripts/build micro_bench && build/bench/micro_bench --benchmark_filter='Ticket'
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "infra/security/ticket_payload.hpp"

namespace {

using namespace ticketing;

constexpr std::size_t kTickets = 1024;
// The dev profile's seed (config/application-dev.yml).
constexpr std::string_view kSeedHex = "6465762d7469636b65742d7369676e696e672d736565642d6e6f742d70726f64";

domain::TicketClaims claims_of(std::size_t i) {
  return domain::TicketClaims{domain::TicketId{10'000'000 + static_cast<std::int64_t>(i)}, domain::ScheduleId{2},
                              "B-" + std::to_string(i % 10'000),
                              domain::UserId{1'000'000 + static_cast<std::int64_t>(i)}, 1'795'000'000};
}

const infra::security::Ed25519TicketSigner& signer() {
  static const infra::security::Ed25519TicketSigner instance(*infra::security::parse_ticket_seed(kSeedHex));
  return instance;
}

void BM_TicketSign(benchmark::State& state) {
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(signer().sign(claims_of(i++ % kTickets)));
  }
}
BENCHMARK(BM_TicketSign);

void BM_TicketVerify(benchmark::State& state) {
  std::vector<std::string> payloads;
  for (std::size_t i = 0; i < kTickets; ++i) payloads.push_back(signer().sign(claims_of(i)));
  std::size_t i = 0;
  for (auto _ : state) {
    const auto result = infra::security::verify_ticket_payload(payloads[i++ % kTickets], signer().public_key());
    if (!result.valid()) state.SkipWithError("a payload did not verify");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_TicketVerify);

}  // namespace
