# shellcheck shell=bash
# The chaos flash sale's machinery for load/run (scenario `chaos`, issue 18): several ticketing
# instances, their metrics samplers, and the fault schedule (SIGKILL + restart, SIGSTOP + SIGCONT)
# injected while k6 runs. Source it from load/run after scripts/lib/common.sh and
# bench/lib/services.sh; do not execute it. Uses load/run's BIN, OUT, ROOT and log/die.
#
# Every instance's pid lives in $OUT/pids/<name>.pid (not in a shell variable): the fault injector
# runs in a background subshell and restarts instances, and the exit trap must stop whatever pid
# is current.

# The default schedule: offset (s after k6 start) : kill|stop : target : seconds until the restart
# (kill) or the SIGCONT (stop). Targets: an instance name (api1, api2, worker) or a service
# (mariadb, redis, kafka). Kafka gets 50 s: after a kill -9 its controller refuses the restarted
# broker's registration until the old one's session expires (~30 s to answer again here). The
# SIGSTOP of the worker (15 s) outlasts its timeouts (Redis command 1 s, database pool wait 2 s,
# query 10 s) and the admission job's cadence. The faults run one after the other: a slow
# restart delays the next one (faults.tsv has the real times).
# shellcheck disable=SC2034 # read by load/run
CHAOS_SCHEDULE_DEFAULT="15:kill:api2:5,40:kill:redis:2,60:kill:kafka:2,110:kill:mariadb:2,140:stop:worker:15"
# With --cluster (scripts/cluster): one part at a time, each kill -9'd and restarted 5 s later —
# a Redis master (its replica takes over), a Kafka broker, the Galera writer (HAProxy moves to the
# next node) and an api instance (HAProxy stops sending to it).
# shellcheck disable=SC2034 # read by load/run
CHAOS_CLUSTER_SCHEDULE_DEFAULT="20:kill:redis-master:5,60:kill:kafka-broker:5,100:kill:db-writer:5,140:kill:api:5"

# chaos_cluster_target NAME — true for the parts scripts/cluster can kill and restart.
chaos_cluster_target() { [[ "$1" =~ ^(redis-master|kafka-broker|db-writer|api)$ ]]; }

chaos_pidfile() { printf '%s/pids/%s.pid\n' "$OUT" "$1"; }
chaos_instance_pid() { cat -- "$(chaos_pidfile "$1")" 2>/dev/null || true; }
chaos_instance_names() { find "$OUT/pids" -name '*.pid' -printf '%f\n' 2>/dev/null | sed 's/\.pid$//' | sort; }

# chaos_instance_start NAME ROLE PORT [--set k=v ...] — start (or restart) one instance in the
# background; its stdout/stderr are appended to server-NAME.out/.log, so a restart keeps the story.
chaos_instance_start() {
  local name="$1" role="$2" port="$3" pid
  shift 3
  mkdir -p -- "$OUT/pids"
  printf '==== %s start (role %s, port %s) ====\n' "$(date -u +%FT%T.%3NZ)" "$role" "$port" >>"$OUT/server-$name.log"
  "$BIN" "$@" --set "role=$role" --set "http.port=$port" serve >>"$OUT/server-$name.out" 2>>"$OUT/server-$name.log" </dev/null &
  pid=$!
  # The injector kills it on purpose: no "Killed" job notice from this shell.
  disown "$pid"
  printf '%s\n' "$pid" >"$(chaos_pidfile "$name")"
  printf '%s %s\n' "$role" "$port" >"$OUT/pids/$name.role"
}

chaos_health_ok() { [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/actuator/health")" == 200 ]]; }

# chaos_wait_healthy NAME TIMEOUT — until /actuator/health answers 200 (the process's own view).
chaos_wait_healthy() {
  local name="$1" port
  port="$(awk '{ print $2 }' "$OUT/pids/$name.role")"
  WAIT_PID="$(chaos_instance_pid "$name")" WAIT_LOG="$OUT/server-$name.log" \
    wait_until "$2" "$name /actuator/health 200" chaos_health_ok "$port"
}

# chaos_stop_instances — SIGCONT (a paused one cannot handle SIGTERM), SIGTERM, then SIGKILL after 20 s.
chaos_stop_instances() {
  local name pid deadline
  for name in $(chaos_instance_names); do
    pid="$(chaos_instance_pid "$name")"
    if [[ -z "$pid" ]] || ! proc_alive "$pid"; then continue; fi
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
  done
  for name in $(chaos_instance_names); do
    pid="$(chaos_instance_pid "$name")"
    [[ -n "$pid" ]] || continue
    deadline=$((SECONDS + 20))
    while proc_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if proc_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

# chaos_parse_schedule SPEC — validate and print one fault a line: "offset kind target seconds".
chaos_parse_schedule() {
  local item offset kind target secs
  local -a items
  IFS=, read -r -a items <<<"$1"
  for item in "${items[@]}"; do
    IFS=: read -r offset kind target secs <<<"$item"
    [[ "$offset" =~ ^[0-9]+$ && "$secs" =~ ^[0-9]+$ ]] || die "chaos schedule: bad item '$item' (offset:kill|stop:target:seconds)"
    [[ "$kind" == kill || "$kind" == stop ]] || die "chaos schedule: '$kind' in '$item' is not kill or stop"
    if ${CLUSTER:-false}; then
      if ! chaos_cluster_target "$target" || [[ "$kind" != kill ]]; then
        die "chaos schedule: with --cluster, kill one of redis-master, kafka-broker, db-writer, api ('$item')"
      fi
      printf '%s %s %s %s\n' "$offset" "$kind" "$target" "$secs"
      continue
    fi
    case "$target" in
      mariadb | redis | kafka) [[ "$kind" == kill ]] || die "chaos schedule: only instances are paused ('$item')" ;;
      *) [[ -f "$OUT/pids/$target.role" ]] || die "chaos schedule: no instance or service '$target' ('$item')" ;;
    esac
    printf '%s %s %s %s\n' "$offset" "$kind" "$target" "$secs"
  done
}

# chaos_describe — the schedule in words (printed before the sale starts).
chaos_describe() {
  local offset kind target secs
  while read -r offset kind target secs; do
    if [[ "$kind" == kill ]]; then
      log "  t+${offset}s  kill -9 $target, restart it ${secs}s later"
    else
      log "  t+${offset}s  SIGSTOP $target for ${secs}s, then SIGCONT"
    fi
  done <<<"$CHAOS_FAULTS"
}

# chaos_service_restart NAME — scripts/services start NAME (same datadir, ports and settings as
# any start), until it answers.
chaos_service_restart() { "$ROOT/scripts/services" start "$1" >>"$OUT/faults.log" 2>&1; }

# chaos_inject START_MS — run the schedule relative to START_MS (k6's start); one line per fault in
# faults.tsv: name, kind, target, injected ms, restarted/resumed ms, ready ms (answering again).
chaos_inject() {
  local start_ms="$1" offset kind target secs due wait pid t_fault t_back t_ready name role port
  local -a instance_sets=("${@:2}")
  printf 'name\tkind\ttarget\tinjected_ms\tback_ms\tready_ms\n' >"$OUT/faults.tsv"
  while read -r offset kind target secs; do
    due=$((start_ms + offset * 1000))
    wait=$((due - $(now_ms)))
    ((wait > 0)) && sleep "$(awk -v w="$wait" 'BEGIN { printf "%.3f", w / 1000 }')"
    name="$kind-$target"
    if ${CLUSTER:-false}; then
      # scripts/cluster picks the process (the first live master / broker / writer / api) and
      # its restart waits until that part answers again (cluster ok, 3 brokers, synced, healthy).
      t_fault="$(now_ms)"
      if ! "$ROOT/scripts/cluster" kill "$target" >>"$OUT/faults.log" 2>&1; then
        log "  chaos: nothing of $target is up at t+${offset}s; skipping $name"
        continue
      fi
      log "  chaos t+$(((t_fault - start_ms) / 1000))s: $(tail -n 1 "$OUT/faults.log")"
      sleep "$secs"
      t_back="$(now_ms)"
      "$ROOT/scripts/cluster" restart "$target" >>"$OUT/faults.log" 2>&1 || log "  chaos: restarting $target FAILED (see faults.log)"
      t_ready="$(now_ms)"
      log "  chaos t+$(((t_ready - start_ms) / 1000))s: $target restarted and ready ($((t_ready - t_fault)) ms after the fault)"
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$target" "$t_fault" "$t_back" "$t_ready" >>"$OUT/faults.tsv"
      continue
    fi
    case "$target" in
      mariadb | redis | kafka) pid="$(cat -- "$(service_pidfile "$target")" 2>/dev/null || true)" ;;
      *) pid="$(chaos_instance_pid "$target")" ;;
    esac
    if [[ -z "$pid" ]] || ! proc_alive "$pid"; then
      log "  chaos: $target is not running at t+${offset}s; skipping $name"
      continue
    fi
    t_fault="$(now_ms)"
    if [[ "$kind" == stop ]]; then
      kill -STOP "$pid"
      log "  chaos t+$(((t_fault - start_ms) / 1000))s: SIGSTOP $target (pid $pid) for ${secs}s"
      sleep "$secs"
      kill -CONT "$pid"
      t_back="$(now_ms)"
      log "  chaos t+$(((t_back - start_ms) / 1000))s: SIGCONT $target"
    else
      kill -KILL "$pid"
      log "  chaos t+$(((t_fault - start_ms) / 1000))s: kill -9 $target (pid $pid)"
      while proc_alive "$pid"; do sleep 0.05; done
      sleep "$secs"
      t_back="$(now_ms)"
      case "$target" in
        mariadb | redis | kafka) chaos_service_restart "$target" || log "  chaos: restarting $target FAILED (see faults.log)" ;;
        *)
          read -r role port <"$OUT/pids/$target.role"
          chaos_instance_start "$target" "$role" "$port" "${instance_sets[@]}"
          ;;
      esac
      log "  chaos t+$(((t_back - start_ms) / 1000))s: restarted $target"
    fi
    # Ready: a service answers (scripts/services waited for that); an instance's health says 200.
    case "$target" in
      mariadb | redis | kafka) ;;
      *) chaos_wait_healthy "$target" 120 || log "  chaos: $target not healthy 120 s after $name" ;;
    esac
    t_ready="$(now_ms)"
    log "  chaos t+$(((t_ready - start_ms) / 1000))s: $target ready again ($((t_ready - t_fault)) ms after the fault)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$target" "$t_fault" "$t_back" "$t_ready" >>"$OUT/faults.tsv"
  done <<<"$CHAOS_FAULTS"
}

# chaos_sample_instance NAME PORT — its /actuator/prometheus HTTP and domain lines every second
# into metrics-NAME.prom (a restart resets the counters; report.py skips those intervals).
chaos_sample_instance() {
  local name="$1" port="$2"
  while :; do
    printf '# t=%s\n' "$(now_ms)"
    curl -s --max-time 1 "http://127.0.0.1:$port/actuator/prometheus" |
      grep '^\(http_server_requests_seconds_count\|ticketing_\)' || true
    sleep 1
  done >"$OUT/metrics-$name.prom"
}
