# shellcheck shell=bash
# Services and access tokens for the benchmarks (bench/*) and the load tests (load/run).
# Source it after scripts/lib/common.sh; do not execute it. Needs BIN (build/ticketing) for the
# token helpers.
#
# MariaDB, Redis and Kafka are scripts/services' processes: their pid files and the MariaDB admin
# socket live under $RUN_DIR. A git worktree may use the services that another checkout started
# instead: SERVICES_RUN_DIR=<that checkout>/.run. Then nothing is started, and the admin socket
# and the pid files (for the CPU figures) are read from there.
SERVICES_RUN_DIR="${SERVICES_RUN_DIR:-$RUN_DIR}"

# start_services — MariaDB, Redis and Kafka running (scripts/services start), or, with another
# SERVICES_RUN_DIR, answering on their ports.
start_services() {
  if [[ "$(realpath -m -- "$SERVICES_RUN_DIR")" == "$(realpath -m -- "$RUN_DIR")" ]]; then
    "$ROOT/scripts/services" start mariadb redis kafka >&2
    return
  fi
  local port
  for port in "$MARIADB_PORT" "$REDIS_PORT" "$KAFKA_PORT"; do
    port_open "$port" || die "nothing answers on 127.0.0.1:$port (SERVICES_RUN_DIR=$SERVICES_RUN_DIR: are its services running?)"
  done
  [[ -S "$(mariadb_socket)" ]] || die "no MariaDB admin socket at $(mariadb_socket) (SERVICES_RUN_DIR=$SERVICES_RUN_DIR)"
  log "  using the services started from $SERVICES_RUN_DIR (SERVICES_RUN_DIR); starting none"
}

# mariadb_socket — the admin socket, as scripts/services computes it for its RUN_DIR.
mariadb_socket() {
  local sock="$SERVICES_RUN_DIR/mariadb/mariadb.sock"
  if ((${#sock} > 100)); then
    sock="${TMPDIR:-/tmp}/ticketing-mariadb-$(printf '%s' "$SERVICES_RUN_DIR" | sha256sum | cut -c1-12).sock"
  fi
  printf '%s\n' "$sock"
}
# admin_sql ARGS... — the mariadb client as the OS user over the socket (unix_socket auth).
admin_sql() {
  mariadb --no-defaults --protocol=socket --socket="$(mariadb_socket)" -u "$(id -un)" --batch --skip-column-names "$@"
}
# service_pidfile mariadb|redis|kafka — where scripts/services keeps that service's pid.
service_pidfile() { printf '%s/%s/%s.pid\n' "$SERVICES_RUN_DIR" "$1" "$1"; }

# drop_scratch_db NAME — DROP DATABASE, only for the scripts' own databases (ticketing_bench*,
# ticketing_load*): a run pointed at the dev database (or any other) never drops it.
drop_scratch_db() {
  [[ "$1" =~ ^ticketing_(bench|load)[A-Za-z0-9_]*$ ]] ||
    die "refusing to drop database $1: only ticketing_bench* and ticketing_load* databases are the scripts' own to re-create"
  admin_sql -e "DROP DATABASE \`$1\`"
}

# ---------------------------------------------------------------------------------------------
# Access tokens (DESIGN.md §12): every user of a run gets one, minted once per run by
# `ticketing token mint` (signed with the configured key, like the server's: run it with the
# server's profile, TICKETING_* environment, config/ and --set options) instead of logging in.

ACCESS_TOKENS=""             # "<userId> <accessToken>" per line, ascending ids; set by mint_access_tokens
ACCESS_TOKEN_TTL="${ACCESS_TOKEN_TTL:-2h}" # long enough for any run; at most 24h

# mint_access_tokens FIRST-LAST [--set key=value ...] — mint into a fresh temporary file (ACCESS_TOKENS);
# remove_access_tokens deletes it (call it from the exit trap). Run from $ROOT (config/).
mint_access_tokens() {
  local range="$1" t0 lines
  shift
  remove_access_tokens
  ACCESS_TOKENS="$(mktemp "${TMPDIR:-/tmp}/ticketing-access-tokens.XXXXXX")"
  t0="$(now_ms)"
  "$BIN" "$@" token mint --users "$range" --ttl "$ACCESS_TOKEN_TTL" --out "$ACCESS_TOKENS" >"$ACCESS_TOKENS.log" 2>&1 ||
    { cat "$ACCESS_TOKENS.log" >&2; rm -f -- "$ACCESS_TOKENS.log"; die "ticketing token mint --users $range failed"; }
  rm -f -- "$ACCESS_TOKENS.log"
  lines="$(wc -l <"$ACCESS_TOKENS")"
  # shellcheck disable=SC2034 # read by the calling scripts
  MINT_NOTE="$lines access tokens minted for users $range (ticketing token mint, valid $ACCESS_TOKEN_TTL) in $(($(now_ms) - t0)) ms"
  log "  $MINT_NOTE"
}
remove_access_tokens() {
  if [[ -n "$ACCESS_TOKENS" ]]; then rm -f -- "$ACCESS_TOKENS"; fi
  ACCESS_TOKENS=""
}
