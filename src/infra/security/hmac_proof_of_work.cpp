#include "infra/security/hmac_proof_of_work.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdexcept>

#include "infra/security/jws.hpp"

namespace ticketing::infra::security {
namespace {

std::string hex_of(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

void sha256(std::initializer_list<std::string_view> parts, unsigned char (&out)[32]) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
  for (const auto part : parts) ok = ok && EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
  unsigned int size = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, out, &size) == 1 && size == 32;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("SHA-256 failed");
}

std::string solve_pow(std::string_view challenge, int difficulty) {
  unsigned char digest[32];
  for (std::uint64_t n = 0;; ++n) {
    const std::string nonce = std::to_string(n);
    sha256({challenge, nonce}, digest);
    if (domain::leading_zero_bits(digest) >= difficulty) return nonce;
  }
}

HmacProofOfWork::HmacProofOfWork(std::string_view secret) : mac_(std::make_unique<const HmacSha256>(secret)) {}
HmacProofOfWork::~HmacProofOfWork() = default;

std::string HmacProofOfWork::issue(const domain::PowChallenge& challenge) const {
  const std::string payload = domain::pow_payload(challenge);
  unsigned char mac[kHmacBytes];
  if (!mac_->sign(payload, mac)) throw std::runtime_error("proof of work: HMAC-SHA256 failed");
  return payload + "." + hex_of(mac, kHmacBytes);
}

domain::PowCheck HmacProofOfWork::verify(std::string_view challenge, std::string_view nonce, domain::UserId user,
                                         domain::ScheduleId schedule, domain::Timestamp now) const {
  using domain::PowProblem;
  const auto dot = challenge.rfind('.');
  if (dot == std::string_view::npos || challenge.size() - dot - 1 != 2 * kHmacBytes) return {{}, PowProblem::kInvalid};
  const auto payload = challenge.substr(0, dot);
  unsigned char mac[kHmacBytes];
  if (!mac_->sign(payload, mac)) throw std::runtime_error("proof of work: HMAC-SHA256 failed");
  const std::string expected = hex_of(mac, kHmacBytes);
  if (CRYPTO_memcmp(expected.data(), challenge.data() + dot + 1, expected.size()) != 0)
    return {{}, PowProblem::kInvalid};
  auto parsed = domain::parse_pow_payload(payload);
  if (!parsed || parsed->user != user || parsed->schedule != schedule) return {{}, PowProblem::kInvalid};
  if (!domain::valid_pow_nonce(nonce)) return {{}, PowProblem::kInvalid};
  unsigned char digest[32];
  sha256({challenge, nonce}, digest);
  if (domain::leading_zero_bits(digest) < parsed->difficulty) return {{}, PowProblem::kInvalid};
  // Checked last: an expired challenge with a wrong solution is just wrong.
  if (now >= parsed->expires_at) return {{}, PowProblem::kExpired};
  return {std::move(parsed), PowProblem::kNone};
}

}  // namespace ticketing::infra::security
