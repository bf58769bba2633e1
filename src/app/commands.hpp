#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "infra/config/config.hpp"

namespace ticketing::app {

// Subcommands of the `ticketing` binary. Each returns the process exit code.
int run_serve(const infra::config::AppConfig& config);
int run_migrate(const infra::config::AppConfig& config);
struct SeedCommandOptions {
  int users = 100'000;
};
int run_seed(const infra::config::AppConfig& config, const SeedCommandOptions& options);

// `ticketing user create [--admin] --email E --name N`: the password is read from stdin (a prompt
// without echo on a terminal), never from the command line where `ps` and shell history see it.
struct UserCreateOptions {
  std::string email;
  std::string name;
  bool admin = false;
};
int run_user_create(const infra::config::AppConfig& config, const UserCreateOptions& options);

// `ticketing token mint --users A-B [--ttl 1h] [--admin] [--out FILE]`: access tokens for users A..B
// (load tests and benchmarks), one "<userId> <token>" line each, signed with the configured key.
struct TokenMintOptions {
  std::string users;  // "A-B" or "A"
  std::string ttl = "1h";
  bool admin = false;
  std::string out;  // empty: stdout
};
int run_token_mint(const infra::config::AppConfig& config, const TokenMintOptions& options);

// `ticketing ticket verify <payload> [--key K | --key-file F] [--revoked-file F]`: checks an
// e-ticket QR payload offline, as a gate would (docs/tickets.md). The key is the base64url public
// key (--key), a file holding it or the JSON of /.well-known/ticket-key (--key-file), or else the
// public half of the configured ticket.signing-seed. Prints the fields and VALID (exit 0), or why
// not (exit 1; REVOKED when --revoked-file, the JSON of /.well-known/ticket-key, names the ticket).
// Exit 2: bad usage (no key, unreadable files).
struct TicketVerifyOptions {
  std::string payload;
  std::string key;
  std::string key_file;
  std::string revoked_file;
  bool needs_config() const { return key.empty() && key_file.empty(); }
};
int run_ticket_verify(const TicketVerifyOptions& options, const infra::config::AppConfig* config);

// `ticketing fairness verify <file|-> [--user ID [--mac HEX]]`: checks the JSON of
// GET /schedules/{id}/fairness offline (docs/queue.md): SHA-256(seed) equals the commitment, the
// order is strictly ascending lowercase hex, preQueued matches its length; with --user it
// recomputes that user's HMAC and finds its place (and compares it with --mac). Prints OK (exit 0)
// or each problem (exit 1); exit 2 for an unreadable file. Needs no configuration.
struct FairnessVerifyOptions {
  std::string file;  // "-": stdin
  std::optional<std::int64_t> user;
  std::string mac;
};
int run_fairness_verify(const FairnessVerifyOptions& options);

}  // namespace ticketing::app
