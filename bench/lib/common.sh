# shellcheck shell=bash
# Shared helpers of bench/hold-storm, bench/payment-storm and bench/login-storm (same structure as
# bench/queue-enter-storm: bench database, bench server start/stop, health and "user cache loaded"
# waits, CPU accounting from /proc). Source it after setting LOG_PREFIX and OUT; do not execute it.
# Needs: BENCH_DB, BENCH_REDIS_DB, OUT (artefact directory), BIN.

# shellcheck source=scripts/lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"
# start_services, admin_sql, service_pidfile, drop_scratch_db, mint_access_tokens (SERVICES_RUN_DIR).
# shellcheck source=bench/lib/services.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/services.sh"

CLK_TCK="$(getconf CLK_TCK)"
# shellcheck disable=SC2034 # used by the scripts that source this file
LOADGEN="$ROOT/bench/lib/loadgen.py"

rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" -n "$BENCH_REDIS_DB" "$@"; }

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (scripts/install-deps installs wrk and redis-tools)"
  done
}

# ---------------------------------------------------------------------------------------------
# CPU accounting (user + system clock ticks), for "where does the time go".

proc_ticks() { # PID -> utime+stime in ticks, or 0 when the process is gone
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
  stat="${stat##*) }"
  # shellcheck disable=SC2086 # split on purpose; fields after "(comm) ": state=1 ... utime=12 stime=13
  set -- $stat
  echo $((${12} + ${13}))
}

# service_ticks — CPU ticks of the bench server, mariadbd, redis and kafka together.
service_ticks() {
  local pid sum=0
  for pid in "$SERVER_PID" "$(service_pid mariadb)" "$(service_pid redis)" "$(service_pid kafka)"; do
    sum=$((sum + $(proc_ticks "$pid")))
  done
  echo "$sum"
}

# thread_ticks PID... — one line per thread: "ticks pid tid comm" (utime+stime), read in one go
# (grep -H keeps going past a thread that exited meanwhile). From /proc, not top -H: top's row for a
# main thread can show the whole process.
thread_ticks() {
  local pid files=()
  for pid in "$@"; do
    [[ -n "$pid" && "$pid" != 0 && -d /proc/"$pid"/task ]] && files+=(/proc/"$pid"/task/*/stat)
  done
  ((${#files[@]} > 0)) || return 0
  { grep -H '' "${files[@]}" 2>/dev/null || true; } | awk '{
    c = index($0, ":"); path = substr($0, 1, c - 1); line = substr($0, c + 1)
    i = index(line, "("); j = 0
    for (k = length(line); k > i; k--) if (substr(line, k, 1) == ")") { j = k; break }
    comm = substr(line, i + 1, j - i - 1); gsub(/[ \t]/, "_", comm)
    split(substr(line, j + 2), f, " "); split(path, p, "/")
    print f[12] + f[13], p[3], p[5], comm }'
}

# thread_table BEFORE AFTER SECONDS NAMES — where the CPU went between two thread_ticks snapshots,
# by process and thread name (the service's threads are all named "ticketing"; MariaDB runs one
# thread per connection), with each group's busiest thread; NAMES maps pids to process names
# ("pid=name ..."). 100% = one core.
thread_table() {
  awk -v hz="$CLK_TCK" -v secs="$3" -v names="$4" '
    BEGIN { n = split(names, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], p, "="); name[p[1]] = p[2] } }
    NR == FNR { before[$3] = $1; next }
    { d = $1 - before[$3]; if (d <= 0) next
      k = name[$2] " " $4; sum[k] += d; cnt[k]++; if (d > top[k]) { top[k] = d; toptid[k] = $3 } }
    END { for (k in sum) { split(k, a, " ")
            printf "%6.1f%%  %-10s %-18s %3d busy thread(s), busiest %5.1f%% (tid %s)\n", 100 * sum[k] / hz / secs,
              a[1], a[2], cnt[k], 100 * top[k] / hz / secs, toptid[k] } }
  ' "$1" "$2" | sort -rn | awk -v n="${5:-12}" 'NR <= n'
}

machine_ticks() { # "busy total user+nice system irq+softirq iowait" over all CPUs, from /proc/stat
  awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t, $2 + $3, $4, $7 + $8, $6; exit }' /proc/stat
}

service_pid() { # mariadb|redis|kafka -> pid of our service (0 when unknown)
  local pid
  pid="$(cat "$(service_pidfile "$1")" 2>/dev/null || echo 0)"
  [[ "$pid" =~ ^[0-9]+$ ]] && proc_alive "$pid" && echo "$pid" || echo 0
}

calc() { awk "BEGIN { printf \"%s\\n\", $1 }"; }
verdict() { # CONDITION(awk) -> PASS | MISSED
  if awk "BEGIN { exit !($1) }"; then echo PASS; else echo MISSED; fi
}
fmt_int() { printf '%.0f' "$1"; }

# timed_bg OUTFILE CPUFILE CMD... — run CMD in the background (stdout+stderr to OUTFILE) and write
# its own user+system CPU seconds ("U S") to CPUFILE when it ends; sets LOAD_PID (the wrapper).
timed_bg() {
  local out="$1" cpu="$2"
  shift 2
  rm -f -- "$cpu"
  (
    TIMEFORMAT='%3U %3S'
    { time "$@" >"$out" 2>&1; } 2>"$cpu"
  ) &
  LOAD_PID=$!
}
# wait_load — wait for the timed_bg command; its exit status.
wait_load() {
  local rc=0
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  return "$rc"
}

# cpu_begin / cpu_end TAG LOADGEN_CPU_FILE — per-process CPU over a measured window: the service
# processes from /proc, the load generator from timed_bg's file. cpu_end writes $OUT/cpu-TAG.txt
# (process table, first line = window) and $OUT/threads-TAG.txt (busiest threads).
cpu_begin() {
  CPU_PIDS=("$SERVER_PID" "$(service_pid mariadb)" "$(service_pid redis)" "$(service_pid kafka)")
  CPU_NAMES="$SERVER_PID=ticketing ${CPU_PIDS[1]}=mariadbd ${CPU_PIDS[2]}=redis ${CPU_PIDS[3]}=kafka"
  thread_ticks "${CPU_PIDS[@]}" >"$OUT/.threads0"
  CPU_P0=()
  local pid
  for pid in "${CPU_PIDS[@]}"; do CPU_P0+=("$(proc_ticks "$pid")"); done
  read -r CPU_BUSY0 CPU_TOTAL0 _ _ CPU_IRQ0 CPU_IOWAIT0 <<<"$(machine_ticks)"
  CPU_T0="$EPOCHREALTIME"
}
cpu_end() {
  local tag="$1" cpu_file="$2" t1="$EPOCHREALTIME" busy1 total1 irq1 iowait1 i secs d sum=0 lg irq
  local names=(ticketing mariadbd redis kafka) p1=()
  read -r busy1 total1 _ _ irq1 iowait1 <<<"$(machine_ticks)"
  for i in 0 1 2 3; do p1+=("$(proc_ticks "${CPU_PIDS[i]}")"); done
  thread_ticks "${CPU_PIDS[@]}" >"$OUT/.threads1"
  secs="$(calc "sprintf(\"%.2f\", ${t1/,/.} - ${CPU_T0/,/.})")"
  lg="$(awk '{ printf "%d\n", ($1 + $2) * '"$CLK_TCK"' + 0.5 }' "$cpu_file" 2>/dev/null || echo 0)"
  {
    printf 'window %s s, machine %s%% busy of %s cores (iowait %s%%)\n' "$secs" \
      "$(calc "sprintf(\"%.0f\", 100 * ($busy1 - $CPU_BUSY0) / ($total1 - $CPU_TOTAL0))")" "$(nproc)" \
      "$(calc "sprintf(\"%.0f\", 100 * ($iowait1 - $CPU_IOWAIT0) / ($total1 - $CPU_TOTAL0))")"
    for i in 0 1 2 3; do
      d=$((p1[i] - CPU_P0[i]))
      local note=""
      if ((p1[i] == 0 && CPU_P0[i] > 0)); then d=0 note="  (the process exited during the window: not counted)"; fi
      sum=$((sum + d))
      printf '%-10s %6.2f s  %5.0f%% of one core%s\n' "${names[i]}" "$(calc "$d / $CLK_TCK")" "$(calc "100 * $d / $CLK_TCK / $secs")" "$note"
    done
    sum=$((sum + ${lg:-0}))
    printf '%-10s %6.2f s  %5.0f%% of one core\n' "loadgen" "$(calc "${lg:-0} / $CLK_TCK")" "$(calc "100 * ${lg:-0} / $CLK_TCK / $secs")"
    irq=$((irq1 - CPU_IRQ0))
    printf '%-10s %6.2f s  %5.0f%% of one core (irq+softirq: loopback TCP, charged to no process)\n' "softirq" \
      "$(calc "$irq / $CLK_TCK")" "$(calc "100 * $irq / $CLK_TCK / $secs")"
    d=$(((busy1 - CPU_BUSY0) - sum - irq))
    ((d > 0)) || d=0
    printf '%-10s %6.2f s  %5.0f%% of one core (other processes)\n' "foreign" \
      "$(calc "$d / $CLK_TCK")" "$(calc "100 * $d / $CLK_TCK / $secs")"
  } >"$OUT/cpu-$tag.txt"
  # Disturbed: other processes used more than 3 % of the machine during the window.
  CPU_DISTURBED=""
  if awk "BEGIN { exit !($d > 0.03 * ($total1 - $CPU_TOTAL0)) }"; then
    # shellcheck disable=SC2034 # read by the calling script
    CPU_DISTURBED=" -- figures disturbed by other processes ($(calc "sprintf(\"%.0f\", 100 * $d / ($total1 - $CPU_TOTAL0))")% of the machine): rerun on a quiet machine"
  fi
  thread_table "$OUT/.threads0" "$OUT/.threads1" "$secs" "$CPU_NAMES" 14 >"$OUT/threads-$tag.txt"
}
# cpu_seconds TAG NAME — CPU seconds of NAME (ticketing, mariadbd, redis, kafka, loadgen) in cpu-TAG.txt.
cpu_seconds() { awk -v n="$2" '$1 == n { print $2 }' "$OUT/cpu-$1.txt"; }

# per_request_cpu TAG N — "ticketing X us, mariadbd Y us, ... per request" from cpu-TAG.txt.
per_request_cpu() {
  awk -v n="$2" '$1 ~ /^(ticketing|mariadbd|redis|kafka|loadgen|softirq)$/ {
    printf "%s%s %.0f", sep, $1, (n > 0 ? $2 * 1e6 / n : 0); sep = ", " } END { print " us" }' "$OUT/cpu-$1.txt"
}
# db_line TAG [UNIT] — the database counters of a window in one line (from db-TAG.txt).
db_line() {
  awk -v unit="${2:-request}" '{ v[$1] = $2; per[$1] = $3 }
    END {
      printf "%s statements (%s per " unit ": %s select, %s insert, %s update, %s delete, %s begin, %s commit, %s rollback); row lock waits %d (%d ms); deadlocks %d",
        v["Questions"], per["Questions"], per["Com_select"], per["Com_insert"], per["Com_update"], per["Com_delete"],
        per["Com_begin"], per["Com_commit"], per["Com_rollback"], v["Innodb_row_lock_waits"], v["Innodb_row_lock_time"], v["Innodb_deadlocks"] }' "$OUT/db-$1.txt"
}

# save_deadlock TAG — when the window saw a deadlock (db-TAG.txt), keep InnoDB's report of the
# latest one in $OUT/deadlock-TAG.txt and print that path.
save_deadlock() {
  local n
  n="$(awk '$1 == "Innodb_deadlocks" { print $2 }' "$OUT/db-$1.txt")"
  ((${n:-0} > 0)) || return 0
  admin_sql -e "SHOW ENGINE INNODB STATUS\G" | sed -n '/LATEST DETECTED DEADLOCK/,/^TRANSACTIONS$/p' >"$OUT/deadlock-$1.txt"
  printf '%s\n' "$OUT/deadlock-$1.txt"
}

# db_status — "name value" of MariaDB's global counters that say what the database did.
db_status() {
  admin_sql -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_select', 'Com_insert', 'Com_update',
    'Com_delete', 'Com_commit', 'Com_rollback', 'Com_begin', 'Innodb_row_lock_waits', 'Innodb_row_lock_time',
    'Innodb_deadlocks', 'Innodb_rows_inserted', 'Innodb_rows_updated', 'Innodb_rows_read', 'Innodb_os_log_written',
    'Innodb_data_fsyncs', 'Threads_running')"
}
# db_delta BEFORE AFTER PER — "name delta (delta/PER per unit)" for each counter.
db_delta() {
  awk -v per="$3" 'NR == FNR { b[$1] = $2; next }
    { d = $2 - b[$1]; printf "%s %d %.2f\n", $1, d, (per > 0 ? d / per : 0) }' "$1" "$2"
}

# top_snapshot FILE DELAY_S — background `top -H -b` (two frames, DELAY_S apart: the second shows
# the window); sets TOP_PID.
top_snapshot() {
  (sleep "${3:-0}"; top -H -b -n 2 -d "$2" -w 400 >"$1" 2>&1) &
  TOP_PID=$!
}
# top_frame FILE — the busiest 15 thread rows of the second frame.
top_frame() {
  awk '/^top - / { frame++ } frame == 2' "$1" | awk 'f && ++n <= 15 { print } /^ *PID/ && !f { f = 1; print }'
}

# ---------------------------------------------------------------------------------------------
# Bench database, as in bench/queue-enter-storm: admin over the MariaDB socket (admin_sql,
# unix_socket auth), the app user granted the bench database.

# shellcheck disable=SC2120 # arguments are optional (SQL on stdin otherwise)
bench_sql() { admin_sql "$BENCH_DB" "$@"; }

create_bench_db() {
  admin_sql <<SQL
CREATE DATABASE IF NOT EXISTS \`$BENCH_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT ALL PRIVILEGES ON \`$BENCH_DB\`.* TO 'ticketing'@'127.0.0.1', 'ticketing'@'localhost', 'ticketing'@'%';
SQL
}
migrate_bench_db() { "$BIN" migrate >"$OUT/migrate.log" 2>&1; }

# prepare_bench_db USERS — create, migrate (re-create when a migration changed) and seed.
prepare_bench_db() {
  local want="$1" have_users have_max have_concerts t0
  export TICKETING_DB_URL="mysql://ticketing:ticketing@127.0.0.1:${MARIADB_PORT}/${BENCH_DB}"
  export TICKETING_REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/${BENCH_REDIS_DB}"
  export TICKETING_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_PORT}"
  create_bench_db
  if ! migrate_bench_db; then
    sed 's/^/    /' "$OUT/migrate.log" >&2
    log "  migrate failed on $BENCH_DB; dropping and re-creating it (it only holds bench data)"
    drop_scratch_db "$BENCH_DB"
    create_bench_db
    migrate_bench_db || { cat "$OUT/migrate.log" >&2; die "migrate failed on a fresh $BENCH_DB"; }
  fi
  read -r have_users have_max have_concerts <<<"$(admin_sql -e "SELECT
      (SELECT COUNT(*) FROM \`$BENCH_DB\`.user_account), (SELECT COALESCE(MAX(id), 0) FROM \`$BENCH_DB\`.user_account),
      (SELECT COUNT(*) FROM \`$BENCH_DB\`.concert)")"
  if ((have_concerts > 0 && have_users >= want && have_max == have_users)); then
    log "  already seeded: $have_users users, $have_concerts concerts"
    return
  fi
  if ((have_concerts > 0 || have_users > 0)); then
    log "  $BENCH_DB has $have_users users, the run needs $want: dropping and re-seeding it"
    drop_scratch_db "$BENCH_DB"
    create_bench_db
    migrate_bench_db || { cat "$OUT/migrate.log" >&2; die "migrate failed"; }
  fi
  log "  seeding $want users"
  t0="$(now_ms)"
  "$BIN" seed --users "$want" >"$OUT/seed.log" 2>&1 || { cat "$OUT/seed.log" >&2; die "seed failed"; }
  log "  seeded in $(($(now_ms) - t0)) ms"
}

# clean_schedules ID... — forget every booking of these schedules: reservations, orders, their
# outbox events and processed-event marks (outbox message_key = schedule id). Bench data only.
clean_schedules() {
  local ids quoted
  ids="$(IFS=,; echo "$*")"
  quoted="'${ids//,/\',\'}'"
  # shellcheck disable=SC2119 # the SQL comes on stdin
  bench_sql <<SQL
DELETE FROM reservation WHERE schedule_id IN ($ids);
DELETE p FROM processed_event p JOIN outbox_event o ON o.event_id = p.event_id WHERE o.message_key IN ($quoted);
DELETE FROM outbox_event WHERE message_key IN ($quoted);
DELETE FROM payment_order WHERE schedule_id IN ($ids);
SQL
}

# ---------------------------------------------------------------------------------------------
# The bench server: started in the background, stopped at exit (trap installed here).

SERVER_PID=""
TOP_PID=""
LOAD_PID=""
bench_cleanup() {
  local rc=$?
  local pid
  for pid in "$LOAD_PID" "$TOP_PID"; do
    if [[ -n "$pid" ]] && proc_alive "$pid"; then
      pkill -TERM -P "$pid" 2>/dev/null || true # the timed command under the wrapper subshell
      kill "$pid" 2>/dev/null || true
    fi
  done
  stop_bench_server
  remove_access_tokens
  local hook
  for hook in "${BENCH_EXIT_HOOKS[@]}"; do "$hook" || true; done
  exit "$rc"
}
BENCH_EXIT_HOOKS=() # functions a bench adds to run at exit (e.g. restore a server setting)
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stop_bench_server — SIGTERM the bench server (SIGKILL after 20 s) and wait for it.
stop_bench_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  if proc_alive "$SERVER_PID"; then
    log "stopping the bench server (pid $SERVER_PID)"
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while proc_alive "$SERVER_PID" && ((SECONDS < deadline)); do sleep 0.1; done
    if proc_alive "$SERVER_PID"; then
      log "bench server still running 20 s after SIGTERM; sending SIGKILL"
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# start_bench_server PORT --set k=v ... — start `ticketing serve` with these settings and wait for
# health 200 and the user cache; sets SERVER_PID, URL, IO_LINE, CACHE_LINE.
start_bench_server() {
  local port="$1"
  shift
  URL="http://127.0.0.1:$port"
  # --set is an option of the program, not of `serve`: it goes before the subcommand.
  "$BIN" --print-config --set http.address=127.0.0.1 --set "http.port=$port" "$@" serve \
    >"$OUT/access.log" 2>"$OUT/server.log" </dev/null &
  # (each start overwrites server.log; the scripts copy it to server-<run>.log)
  SERVER_PID=$!
  # shellcheck disable=SC2317 # called through wait_until
  health_ok() { [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/actuator/health")" == 200 ]]; }
  WAIT_PID="$SERVER_PID" WAIT_LOG="$OUT/server.log" wait_until 60 "bench server /actuator/health 200" health_ok ||
    die "the bench server did not become healthy"
  # shellcheck disable=SC2317 # called through wait_until
  cache_loaded() {
    grep -q "user cache not loaded" "$OUT/server.log" && return 0
    grep -q "user cache loaded: " "$OUT/server.log"
  }
  WAIT_PID="$SERVER_PID" WAIT_LOG="$OUT/server.log" wait_until 120 "user cache loaded" cache_loaded ||
    die "the bench server did not load its user cache"
  grep -q "user cache not loaded" "$OUT/server.log" &&
    die "the bench server could not load its user cache: $(grep 'user cache not loaded' "$OUT/server.log")"
  CACHE_LINE="$(grep -o 'user cache loaded: [0-9]* users' "$OUT/server.log" | tail -n 1)"
  IO_LINE="$(grep -o 'serving on .*' "$OUT/server.log" | tail -n 1)"
  log "  $CACHE_LINE; $IO_LINE"
}

# effective_setting KEY — "KEY=value (source)" as the bench server logged it (--print-config).
effective_setting() {
  local line
  line="$(grep -m1 -E "(^|[^a-z.-])$1([^a-z.-]|$)" "$OUT/server.log" | sed 's/^.*\] *//')"
  printf '%s\n' "${line:-$1=?}"
}

# line_field LINE FIELD — value of FIELD in a "LOADGEN k=v ..." or "BENCH k=v ..." line.
line_field() {
  local v
  v="$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p")"
  [[ -n "$v" ]] || die "no $2 in: $1"
  printf '%s\n' "$v"
}

# busy_foreign — processes other than ours busy right now (>= 10% CPU in a 1 s top sample).
busy_foreign() {
  local ours
  ours="$SERVER_PID $(service_pid mariadb) $(service_pid redis) $(service_pid kafka) $$"
  top -b -n 2 -d 1 -w 200 2>/dev/null | awk -v ours="$ours" '
    BEGIN { n = split(ours, o, " "); for (i = 1; i <= n; i++) mine[o[i]] = 1 }
    /^top - / { frame++; next }
    frame == 2 && $1 ~ /^[0-9]+$/ && !($1 in mine) && $9 + 0 >= 10 && $12 != "top" { printf "%s%s(%s) %s%%", sep, $12, $1, $9; sep = ", " }'
}
