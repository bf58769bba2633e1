# shellcheck shell=bash
# Shared settings and helpers for every script under scripts/ and .ci/.
# Source it; do not execute it. Safe to source more than once.

# Repo root from this file's location, so scripts work from any cwd and in any clone.
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)"
# Service data, logs and pid files (git-ignored).
RUN_DIR="${RUN_DIR:-$ROOT/.run}"
# Tools fetched from registries, e.g. the Kafka jars (git-ignored).
TOOLS_DIR="${TOOLS_DIR:-$ROOT/.tools}"

# Our own ports, away from the system defaults (3306/6379/9092) that a developer's
# distro services may already hold. Override through the environment.
MARIADB_PORT="${MARIADB_PORT:-13306}"
REDIS_PORT="${REDIS_PORT:-16379}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
# Local Prometheus (`scripts/services start prometheus`, only when named); 9090 is the system one.
PROMETHEUS_PORT="${PROMETHEUS_PORT:-19090}"

# Kafka broker pinned in scripts/kafka/pom.xml; the jars land here.
KAFKA_VERSION="4.4.0"
KAFKA_HOME="$TOOLS_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIB="$KAFKA_HOME/lib"

export ROOT RUN_DIR TOOLS_DIR MARIADB_PORT REDIS_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT PROMETHEUS_PORT KAFKA_HOME KAFKA_LIB

# log MSG... — progress on stderr, so stdout stays clean for data (e.g. `services status`).
log() {
  printf '[%s] %s\n' "${LOG_PREFIX:-$(basename -- "$0")}" "$*" >&2
}

# die MSG... — log and exit non-zero.
die() {
  log "error: $*"
  exit 1
}

# wait_until TIMEOUT_SECONDS DESCRIPTION COMMAND... — poll COMMAND until it succeeds.
# Optional variables (set them as a prefix of the call):
#   WAIT_LOG=FILE  log file named (and its tail shown) when the wait fails
#   WAIT_PID=PID   give up at once when this process has exited (crashed on start)
wait_until() {
  local timeout="$1" desc="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "${WAIT_PID:-}" ]] && ! proc_alive "$WAIT_PID"; then
      _wait_failed "$desc: the process (pid $WAIT_PID) exited"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      _wait_failed "$desc: not ready after ${timeout}s"
      return 1
    fi
    sleep 0.1
  done
}

_wait_failed() {
  log "error: $1"
  if [[ -n "${WAIT_LOG:-}" ]]; then
    log "see the log: $WAIT_LOG (last lines below)"
    if [[ -f "$WAIT_LOG" ]]; then
      tail -n 20 -- "$WAIT_LOG" | sed 's/^/    /' >&2
    fi
  fi
}

# proc_alive PID — true while PID runs. Unlike `kill -0`, a zombie (a child of ours that already
# died and was not reaped yet) counts as dead.
proc_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # the state letter follows the command name in parentheses
  [[ -n "$stat" && "${stat:0:1}" != Z ]]
}

# now_ms — wall-clock milliseconds, for the timings in messages.
now_ms() {
  local t="${EPOCHREALTIME//[!0-9]/}" # seconds and microseconds, whatever the locale's radix
  printf '%s\n' "$((t / 1000))"
}

# port_open PORT — true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  timeout 2 bash -c ': <"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# port_owner PORT — best-effort description of who listens on PORT (for error messages).
port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | head -n 3
  fi
}

# pick_free_port PORT — print PORT, or the next port up that nothing listens on.
pick_free_port() {
  local port="$1" limit=$(($1 + 100))
  while port_open "$port"; do
    port=$((port + 1))
    ((port < limit)) || die "no free port in $1..$limit"
  done
  printf '%s\n' "$port"
}

# build_settings BUILD_TYPE — set BUILD_DIR, CMAKE_BUILD_TYPE and SANITIZE for scripts/build and
# scripts/test: asan and tsan get instrumented trees of their own, the CMake types share build/.
# shellcheck disable=SC2034 # the variables are the result, read by the caller
build_settings() {
  case "$1" in
    asan | tsan) BUILD_DIR="$ROOT/build-$1" CMAKE_BUILD_TYPE=RelWithDebInfo SANITIZE="$1" ;;
    Debug | Release | RelWithDebInfo | MinSizeRel) BUILD_DIR="$ROOT/build" CMAKE_BUILD_TYPE="$1" SANITIZE="" ;;
    *) die "unknown BUILD_TYPE '$1' (Debug, Release, RelWithDebInfo, MinSizeRel, asan or tsan)" ;;
  esac
}
