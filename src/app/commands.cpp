#include "app/commands.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "app/application.hpp"
#include "domain/errors.hpp"
#include "domain/ports/clock.hpp"
#include "domain/time.hpp"
#include "infra/mysql/demo_seed.hpp"
#include "infra/mysql/migrations.hpp"
#include "infra/mysql/mysql_account_repository.hpp"
#include "infra/security/fairness_document.hpp"
#include "infra/security/jwt_access_token_service.hpp"
#include "infra/security/random.hpp"
#include "infra/security/sodium_fairness_crypto.hpp"
#include "infra/security/sodium_password_hasher.hpp"
#include "infra/security/ticket_payload.hpp"

namespace ticketing::app {

namespace {

infra::mysql::DbEndpoint endpoint_of(const infra::config::AppConfig& config) {
  const auto url = infra::config::parse_db_url(config.db.url);
  return infra::mysql::DbEndpoint{
      url.host, url.port, url.user, url.password, url.database, config.db.connect_timeout, config.db.query_timeout};
}

infra::security::SodiumPasswordHasher password_hasher(const infra::config::AppConfig& config) {
  return infra::security::SodiumPasswordHasher(
      infra::security::Argon2Options{static_cast<unsigned long long>(config.auth.argon2_ops),
                                     config.auth.argon2_memory},
      1, 1);
}

// One line from stdin; on a terminal, prompted and without echo.
std::string read_password() {
  const bool terminal = ::isatty(STDIN_FILENO) != 0;
  termios saved{};
  if (terminal) {
    std::cerr << "password: " << std::flush;
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string password;
  std::getline(std::cin, password);
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string trimmed(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
}

// The gate's key: --key, --key-file (a bare key or the key document) or the configured seed.
std::optional<infra::security::TicketPublicKey> verification_key(const TicketVerifyOptions& options,
                                                                 const infra::config::AppConfig* config) {
  if (!options.key.empty()) {
    const auto key = infra::security::parse_ticket_public_key(trimmed(options.key));
    if (!key) std::cerr << "--key: not an Ed25519 public key in unpadded base64url (43 characters)\n";
    return key;
  }
  if (!options.key_file.empty()) {
    const auto text = read_file(options.key_file);
    if (!text) {
      std::cerr << "--key-file: cannot read " << options.key_file << "\n";
      return std::nullopt;
    }
    if (const auto key = infra::security::parse_ticket_public_key(trimmed(*text))) return key;
    if (const auto document = infra::security::parse_ticket_key_document(*text)) return document->public_key;
    std::cerr << "--key-file: " << options.key_file
              << " holds neither a base64url public key nor the JSON of /.well-known/ticket-key\n";
    return std::nullopt;
  }
  const auto seed = config ? infra::security::parse_ticket_seed(config->ticket.signing_seed) : std::nullopt;
  if (!seed) {
    std::cerr << "no key: give --key or --key-file, or configure ticket.signing-seed\n";
    return std::nullopt;
  }
  return infra::security::Ed25519TicketSigner(*seed).public_key();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int run_serve(const infra::config::AppConfig& config) {
  Application application(config);
  application.start();
  application.run_until_signal();
  return 0;
}

int run_migrate(const infra::config::AppConfig& config) {
  const auto started = std::chrono::steady_clock::now();
  infra::mysql::MysqlConnection connection(endpoint_of(config), /*multi_statements=*/true);
  const auto report =
      infra::mysql::migrate(connection, infra::mysql::plan_migrations(infra::mysql::embedded_migrations()));
  for (const auto& name : report.applied) spdlog::info("applied migration {}", name);
  spdlog::info("schema up to date: {} applied now, {} already applied ({:.2f} s)", report.applied.size(),
               report.already_applied, seconds_since(started));
  return 0;
}

int run_seed(const infra::config::AppConfig& config, const SeedCommandOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  infra::mysql::MysqlConnection connection(endpoint_of(config));
  const auto hash = password_hasher(config).hash_now(infra::mysql::kDemoPassword);
  const auto report = infra::mysql::seed_demo_data(connection, infra::mysql::SeedOptions{options.users, hash});
  if (report.skipped) {
    spdlog::info("demo data already present; nothing seeded");
  } else {
    spdlog::info("seeded {} users, {} concerts, {} schedules (ids {}), {} seats in {:.2f} s", report.users,
                 report.concerts, report.schedules, fmt::join(report.schedule_ids, ", "), report.seats,
                 seconds_since(started));
  }
  return 0;
}

int run_user_create(const infra::config::AppConfig& config, const UserCreateOptions& options) {
  const std::string password = read_password();
  domain::SignUpRequest request;
  try {
    request = domain::validate_sign_up(options.email, password, options.name);
  } catch (const domain::DomainError& error) {
    for (const auto& field : error.errors()) std::cerr << field.field << ": " << field.reason << "\n";
    return 2;
  }
  const auto hash = password_hasher(config).hash_now(request.password);
  infra::mysql::MysqlConnection connection(endpoint_of(config));
  const auto account = infra::mysql::MysqlAccountRepository::create_now(
      connection,
      domain::NewAccount{request.email, request.name, hash, options.admin ? domain::Role::kAdmin : domain::Role::kFan});
  if (!account) {
    std::cerr << "an account with the email " << request.email << " already exists\n";
    return 3;
  }
  std::cout << "created user " << account->id.value << " <" << account->email << "> role "
            << domain::to_string(account->role) << "\n";
  return 0;
}

int run_token_mint(const infra::config::AppConfig& config, const TokenMintOptions& options) {
  std::int64_t first = 0;
  std::int64_t last = 0;
  const auto dash = options.users.find('-');
  const auto a = domain::parse_canonical_id(options.users.substr(0, dash));
  const auto b = dash == std::string::npos ? a : domain::parse_canonical_id(options.users.substr(dash + 1));
  if (!a || !b || *b < *a || *b - *a >= 10'000'000) {
    std::cerr << "--users must be A-B with 1 <= A <= B (at most 10,000,000 users) or a single id\n";
    return 2;
  }
  first = *a;
  last = *b;
  std::chrono::milliseconds ttl{};
  try {
    ttl = infra::config::parse_duration(options.ttl);
  } catch (const std::exception& error) {
    std::cerr << "--ttl: " << error.what() << "\n";
    return 2;
  }
  if (ttl < std::chrono::seconds(1) || ttl > std::chrono::hours(24)) {
    std::cerr << "--ttl must be between 1s and 24h\n";
    return 2;
  }
  if (config.security.access_token_secret.empty()) {
    std::cerr << "security.access-token-secret is not set (TICKETING_SECURITY_ACCESS_TOKEN_SECRET)\n";
    return 2;
  }
  const infra::security::JwtAccessTokenService tokens(config.security.access_token_secret);
  std::ofstream file;
  if (!options.out.empty()) {
    file.open(options.out, std::ios::trunc);
    if (!file) {
      std::cerr << "cannot write " << options.out << "\n";
      return 2;
    }
  }
  std::ostream& out = options.out.empty() ? std::cout : file;
  const auto now = domain::SystemClock().now();
  // One session for the batch: it is not a sign-in, so it has no refresh token to revoke.
  const std::string session = infra::security::random_hex(16);
  const auto role = options.admin ? domain::Role::kAdmin : domain::Role::kFan;
  std::string lines;
  for (std::int64_t user = first; user <= last; ++user) {
    lines += std::to_string(user);
    lines += ' ';
    lines += tokens.issue(domain::AccessClaims{domain::UserId{user}, role, session, now, now + ttl});
    lines += '\n';
    if (lines.size() > (1 << 20)) {
      out << lines;
      lines.clear();
    }
  }
  out << lines << std::flush;
  if (!options.out.empty()) {
    spdlog::info("minted {} access tokens (users {}-{}, valid {} s) into {}", last - first + 1, first, last,
                 std::chrono::duration_cast<std::chrono::seconds>(ttl).count(), options.out);
  }
  return out.good() ? 0 : 1;
}

int run_ticket_verify(const TicketVerifyOptions& options, const infra::config::AppConfig* config) {
  const auto key = verification_key(options, config);
  if (!key) return 2;
  std::optional<infra::security::TicketKeyDocumentView> revocations;
  if (!options.revoked_file.empty()) {
    const auto text = read_file(options.revoked_file);
    if (text) revocations = infra::security::parse_ticket_key_document(*text);
    if (!revocations) {
      std::cerr << "--revoked-file: " << options.revoked_file
                << " is not readable as the JSON of /.well-known/ticket-key\n";
      return 2;
    }
  }
  const auto result = infra::security::verify_ticket_payload(trimmed(options.payload), *key);
  if (result.fields) {
    const auto& claims = result.fields->claims;
    std::cout << "ticketId:   " << claims.ticket.value << "\n"
              << "scheduleId: " << claims.schedule.value << "\n"
              << "seatNo:     " << claims.seat_no << "\n"
              << "holder:     user " << claims.holder.value << "\n"
              << "issuedAt:   " << domain::to_iso8601(domain::Timestamp{std::chrono::seconds{claims.issued_at}}) << "\n"
              << "keyId:      " << result.fields->key_id << "\n";
  }
  if (!result.valid()) {
    std::cout << "INVALID: " << infra::security::to_string(result.problem) << "\n";
    return 1;
  }
  if (revocations && revocations->is_revoked(result.fields->claims.ticket.value)) {
    std::cout << "REVOKED\n";
    return 1;
  }
  std::cout << "VALID\n";
  return 0;
}

int run_fairness_verify(const FairnessVerifyOptions& options) {
  std::optional<std::string> text;
  if (options.file == "-") {
    std::ostringstream in;
    in << std::cin.rdbuf();
    text = in.str();
  } else {
    text = read_file(options.file);
  }
  if (!text) {
    std::cerr << "cannot read " << options.file << "\n";
    return 2;
  }
  std::string error;
  const auto document = infra::security::parse_fairness_document(*text, error);
  if (!document) {
    std::cout << "INVALID: " << options.file << " is not the JSON of GET /schedules/{id}/fairness: " << error << "\n";
    return 1;
  }
  std::optional<domain::UserPlaceCheck> user;
  if (options.user) {
    user = domain::UserPlaceCheck{domain::UserId{*options.user}, std::nullopt};
    if (!options.mac.empty()) user->expected_mac = options.mac;
  }
  const infra::security::SodiumFairnessCrypto crypto;
  const auto verdict = domain::verify_fairness(document->reveal, crypto, user);
  if (document->schedule_id) std::cout << "scheduleId: " << *document->schedule_id << "\n";
  std::cout << "commitment: " << document->reveal.commitment << "\n"
            << "seed:       " << document->reveal.seed << "\n"
            << "order:      " << document->reveal.order.size() << " values\n";
  if (user && verdict.user_mac) {
    std::cout << "user " << user->user.value << ": HMAC " << *verdict.user_mac << ", ";
    if (verdict.user_place) {
      std::cout << "place " << *verdict.user_place << " of " << document->reveal.order.size() << "\n";
    } else {
      std::cout << "not in the order (not pre-queued, or joined after the opening)\n";
    }
  }
  for (const auto& problem : verdict.problems) std::cout << "PROBLEM: " << problem << "\n";
  std::cout << (verdict.ok() ? "OK" : "FAILED") << "\n";
  return verdict.ok() ? 0 : 1;
}

}  // namespace ticketing::app
