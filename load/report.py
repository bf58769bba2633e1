#!/usr/bin/env python3
"""Markdown report and plot of one load/run result directory.

    report.py DIR [--no-plot]

Reads what load/run left in DIR: run.json (settings), summary.json (k6 --summary-export),
audit.txt, orders.tsv / reservations.tsv (timestamps from the database), metrics.prom (the
server's /actuator/prometheus HTTP histograms, sampled once a second). Writes DIR/report.md and,
when matplotlib is importable and --no-plot is not given, DIR/plot.png. Prints the report.

The chaos scenario adds faults.tsv (when each fault was injected, undone, answered again) and the
k6 per-second outcomes ("timeline" lines in k6.txt): the report then has a section per fault
(failed requests, seconds until the error rate was back to its baseline), the invariants, and the
plot marks the faults. That section also goes to DIR/chaos.txt.

Only the standard library is needed for the report; matplotlib only for the plot.
"""
import json
import math
import os
import re
import sys
from collections import Counter, defaultdict

ENDPOINTS = ['enter', 'status', 'leave', 'seats', 'hold', 'release', 'ready', 'pay', 'order']
# Server route (method, uri label) -> the k6 endpoint name.
ROUTES = {
    ('POST', '/queue/enter'): 'enter',
    ('GET', '/queue/status'): 'status',
    ('DELETE', '/queue'): 'leave',
    ('GET', '/schedules/{id}/seats'): 'seats',
    ('POST', '/tickets/hold'): 'hold',
    ('POST', '/tickets/release'): 'release',
    ('POST', '/payment/ready'): 'ready',
    ('POST', '/payment/mock-success'): 'pay',
    ('GET', '/payment/{orderNo}'): 'order',
}
COUNTERS = [
    ('users', 'users started'),
    ('bookings_paid', 'bookings PAID (seen by users)'),
    ('seats_bought', 'seats bought'),
    ('bookings_cancelled', 'bookings CANCELLED'),
    ('payments_accepted', 'payments accepted (mock-success 202/200)'),
    ('payments_unsettled', 'payments not final while polled'),
    ('hold_conflicts', 'hold 409 SEAT_ALREADY_HELD'),
    ('gave_up_sold_out', 'users who found nothing available'),
    ('gave_up_after_tries', 'users who gave up after the hold tries'),
    ('seat_map_reads', 'seat-map reads'),
    ('hold_won', 'same-seat: holds won'),
    ('hold_lost', 'same-seat: holds lost (409 naming the seat)'),
    ('hold_wrong_answer', 'same-seat: wrong answers'),
    ('late_starters', 'same-seat: VUs late for the start'),
    ('winner_paid', 'same-seat: winner PAID'),
    ('flow_errors', 'broken user flows (see k6.txt)'),
    ('shed_responses', '503/429 answers (retried)'),
]


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip('\n').split('\t') for line in f if line.strip()]


def fmt_ms(v):
    if v is None:
        return '-'
    if v >= 100:
        return f'{v:.0f}'
    if v >= 10:
        return f'{v:.1f}'
    return f'{v:.2f}'


def per_second(times_ms):
    return Counter(int(t // 1000) for t in times_ms)


def parse_metrics(path):
    """[(t_ms, {(endpoint, le): cumulative_count}, {endpoint: count}, {process: cpu ticks})] per sample."""
    samples = []
    if not os.path.exists(path):
        return samples
    line_re = re.compile(r'^http_server_requests_seconds_(bucket|count)\{([^}]*)\} ([0-9.eE+-]+)')
    label_re = re.compile(r'(\w+)="([^"]*)"')
    cur = None
    with open(path) as f:
        for line in f:
            if line.startswith('# t='):
                if cur:
                    samples.append(cur)
                cur = (int(line[4:].strip()), defaultdict(float), defaultdict(float), {})
                continue
            if line.startswith('# cpu') and cur is not None:
                for kv in line[5:].split():
                    name, _, ticks = kv.partition('=')
                    if ticks.isdigit():
                        # load/run --cluster names each process group.member (server.api1,
                        # mariadb.n2, redis.27003, ...): a group's processes add up.
                        group = name.split('.')[0]
                        cur[3][group] = cur[3].get(group, 0) + int(ticks)
                continue
            m = line_re.match(line)
            if not m or cur is None:
                continue
            labels = dict(label_re.findall(m.group(2)))
            name = ROUTES.get((labels.get('method'), labels.get('uri')))
            if not name:
                continue
            value = float(m.group(3))
            if m.group(1) == 'bucket':
                le = labels.get('le', '+Inf')
                cur[1][(name, math.inf if le == '+Inf' else float(le))] += value
            else:
                cur[2][name] += value
    if cur:
        samples.append(cur)
    # A sample cut short by the sampler being stopped has fewer series: drop a trailing partial one.
    if len(samples) >= 2 and len(samples[-1][2]) < len(samples[-2][2]):
        samples.pop()
    return samples


def quantile_from_buckets(buckets, q):
    """buckets: sorted [(le, count in this interval, cumulative)] -> the q-quantile (ms), linear in a bucket."""
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_cum = 0.0, 0.0
    for le, cum in buckets:
        if cum >= rank:
            if math.isinf(le):
                return prev_le * 1000
            frac = (rank - prev_cum) / (cum - prev_cum) if cum > prev_cum else 1.0
            return (prev_le + (le - prev_le) * frac) * 1000
        prev_le, prev_cum = le, cum
    return prev_le * 1000


def server_series(samples, t0_ms, clk_tck=100):
    """Per interval between samples: time (s since t0), req/s per endpoint, p99 (ms) per endpoint,
    cores used per process."""
    out = []
    for (ta, ba, ca, pa), (tb, bb, cb, pb) in zip(samples, samples[1:]):
        dt = (tb - ta) / 1000.0
        if dt <= 0:
            continue
        rates, p99 = {}, {}
        for name in set(cb):
            # A sample the server did not answer (paused, killed) or a restart (counters back at
            # 0) gives no rate for that interval.
            if name not in ca or cb[name] < ca[name]:
                continue
            n = cb[name] - ca.get(name, 0.0)
            rates[name] = n / dt
            if n > 0:
                les = sorted(le for (ep, le) in bb if ep == name)
                cum = [(le, bb[(name, le)] - ba.get((name, le), 0.0)) for le in les]
                p99[name] = quantile_from_buckets(cum, 0.99)
        cores = {}
        for name, ticks in pb.items():
            # A process seen for the first time (k6 starting) or restarted counts from this sample.
            if name in pa and ticks >= pa[name]:
                cores[name] = (ticks - pa[name]) / clk_tck / dt
        out.append(((tb - t0_ms) / 1000.0, rates, p99, cores))
    return out


def cpu_between(series, start_s, end_s):
    """Average cores per process over the intervals that end within [start_s, end_s + 1]."""
    picked = [s for s in series if start_s < s[0] <= end_s + 1.0]
    if not picked:
        return {}
    totals = defaultdict(float)
    for s in picked:
        for name, cores in s[3].items():
            totals[name] += cores
    return {name: v / len(picked) for name, v in totals.items()}


def parse_timeline(path):
    """k6's per-second outcomes (TIMELINE=1): {epoch second: [ok, no answer, 5xx, other]} over all VUs."""
    out = defaultdict(lambda: [0, 0, 0, 0])
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        for line in f:
            i = line.find('timeline vu=')
            if i < 0:
                continue
            for item in line[i:].split()[2:]:
                sec, _, counts = item.partition(':')
                parts = counts.rstrip('"').split('/')
                if not sec.isdigit() or len(parts) != 4:
                    continue
                c = out[int(sec)]
                for k in range(4):
                    c[k] += int(parts[k])
    return dict(out)


def read_faults(path):
    rows = read_tsv(path)
    return [dict(zip(rows[0], r)) for r in rows[1:]] if rows else []


# Recovery: the error rate is back when it stays within this much of the baseline (absolute, as a
# fraction of requests) for RECOVERED_FOR consecutive seconds that have requests.
RECOVERY_MARGIN = 0.01
RECOVERED_FOR = 3

INVARIANTS = [
    ('oversold seats', ['seats-sold-within-capacity', 'no-seat-with-two-active-rows', 'active-flag-consistent']),
    ('double-charged orders', ['no-double-charge', 'paid-amount-matches-prices']),
    ('paid orders not PAID and not CANCELLED-with-refund',
     ['recorded-payments-accounted', 'confirmed-rows-have-paid-order', 'paid-orders-have-rows', 'paid-order-rows-confirmed']),
    ('orders left READY/CONFIRMING past their deadlines', ['nothing-past-its-deadline', 'no-order-left-non-final']),
    ('outbox rows unpublished', ['outbox-published']),
    ('duplicate confirmations', ['no-duplicate-confirmation']),
]


def chaos_section(out_dir, run, summary, audit_text, paid=()):
    """(lines, ok): the per-fault figures and the invariants of a chaos run. paid: (updated_at ms,
    seats) of the PAID orders, for the second recovery figure (bookings per second)."""
    timeline = parse_timeline(os.path.join(out_dir, 'k6.txt'))
    paid_per_s = per_second(t for t, _ in paid)
    faults = read_faults(os.path.join(out_dir, 'faults.tsv'))
    t0 = run['k6_start_ms'] / 1000.0
    lines = []
    w = lines.append
    secs = sorted(timeline)
    rate = lambda c: (sum(c[1:]) / sum(c)) if sum(c) else None  # noqa: E731

    first_fault = min((int(f['injected_ms']) // 1000 for f in faults), default=(secs[-1] + 1 if secs else 0))
    base = [timeline[s] for s in secs if t0 + 3 <= s < first_fault]
    base_tot = [sum(x) for x in zip(*base)] if base else [0, 0, 0, 0]
    base_rate = rate(base_tot) or 0.0
    base_ok = base_tot[0] / max(len(base), 1)
    base_secs = [s for s in secs if t0 + 3 <= s < first_fault]
    base_paid = sum(paid_per_s.get(s, 0) for s in base_secs) / max(len(base_secs), 1)
    last_paid = max(paid_per_s, default=0)
    w(f'Baseline (k6 start +3 s to the first fault, {len(base)} s): {base_ok:,.0f} good requests/s, '
      f'error rate {100 * base_rate:.2f}% ({sum(base_tot[1:])} failed), {base_paid:,.0f} bookings PAID/s. '
      f'**Recovery** = seconds from the fault until the error rate stays within {100 * RECOVERY_MARGIN:.0f} point of '
      f'the baseline for {RECOVERED_FOR} s in a row. **Bookings back** = seconds from the fault until PAID orders '
      f'run at half the baseline rate or more for {RECOVERED_FOR} s (a stall fails no request but sells nothing). '
      f'Failed requests: from the fault to the later of the recovery and the component answering again.')
    w('')
    w('| fault | injected (t+s) | undone (t+s) | answering (t+s) | failed requests (no answer / 5xx / other) | '
      'recovery (s) | bookings back (s) | lowest good req/s |')
    w('| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |')
    limit = base_rate + RECOVERY_MARGIN
    results = []
    for i, f in enumerate(faults):
        start = int(f['injected_ms']) // 1000
        end = int(faults[i + 1]['injected_ms']) // 1000 if i + 1 < len(faults) else (secs[-1] + 1 if secs else start)
        recovered = None
        s = start
        while s < end:
            run_ok = 0
            for k in range(RECOVERED_FOR):
                c = timeline.get(s + k)
                r = rate(c) if c else None
                if r is None or r > limit:
                    break
                run_ok += 1
            # Counted from the injection, not from the restart: a fault that fails nothing (requests
            # only wait) recovers in 0 s by this measure; the plot shows what it cost in throughput.
            if run_ok == RECOVERED_FOR:
                recovered = s
                break
            s += 1
        ready = int(f['ready_ms']) // 1000
        stop = min(max(recovered if recovered is not None else end, ready + 1), end)
        window = [timeline.get(x, [0, 0, 0, 0]) for x in range(start, stop)]
        booked = None
        for x in range(start, end):
            if x + RECOVERED_FOR > last_paid:
                break
            if all(paid_per_s.get(x + k, 0) >= 0.5 * base_paid for k in range(RECOVERED_FOR)):
                booked = x
                break
        if base_paid <= 0:
            book_text = 'n/a'
        elif booked is not None:
            book_text = f'{booked - start}'
        elif start + RECOVERED_FOR > last_paid:
            book_text = 'sold out'
        else:
            book_text = f'> {end - start}'

        failed = [sum(c[k] for c in window) for k in (1, 2, 3)]
        low = min((c[0] for c in window), default=0)
        rec_text = f'{recovered - start}' if recovered is not None else f'> {end - start} (not before the next fault)'
        results.append((f['name'], sum(failed), recovered - start if recovered is not None else None))
        w(f"| {f['name']} | {(int(f['injected_ms']) / 1000 - t0):.1f} | {(int(f['back_ms']) / 1000 - t0):.1f} | "
          f"{(int(f['ready_ms']) / 1000 - t0):.1f} | **{sum(failed):,}** ({failed[0]:,} / {failed[1]:,} / {failed[2]:,}) | "
          f"**{rec_text}** | **{book_text}** | {low:,} |")
    w('')

    checks = {}
    for line in audit_text.splitlines():
        m = re.match(r'^(PASS|FAIL)\s+(\S+)\s+(.*)$', line)
        if m:
            checks[m.group(2)] = (m.group(1) == 'PASS', m.group(3))
    ok = bool(checks)
    w('| invariant | count | audit checks |')
    w('| --- | ---: | --- |')
    for label, names in INVARIANTS:
        bad = [(n, checks[n][1]) for n in names if n in checks and not checks[n][0]]
        missing = [n for n in names if n not in checks]
        if bad or missing:
            ok = False
        count = 0
        for _, detail in bad:
            m = re.search(r'\d+', detail)
            count += int(m.group(0)) if m else 1
        text = '; '.join(f'{n}: {d}' for n, d in bad) or ', '.join(n for n in names if n in checks)
        if missing:
            text += f" (missing: {', '.join(missing)})"
        w(f'| {label} | **{count if not missing else "?"}** | {text} |')
    qv = summary.get('queue_order_violations', {}).get('count')
    qv = int(qv) if qv is not None else 0  # a Counter never added to is not exported: none seen
    if qv:
        ok = False
    w(f'| queue order violations | **{qv}** | k6 `queue_order_violations`: a waiting user whose position grew |')
    w('')
    unsettled = int(summary.get('payments_unsettled', {}).get('count', 0) or 0)
    flows = int(summary.get('flow_errors', {}).get('count', 0) or 0)
    w(f'Client side (not invariants): {unsettled} accepted payments not final while their user polled '
      f'(ORDER_TIMEOUT_S), {flows} broken user flows (see k6.txt).')
    w('')
    w('chaos: every invariant 0' if ok else 'chaos: INVARIANT VIOLATED (see the table and audit.txt)')
    return lines, ok, faults, timeline


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    plot = '--no-plot' not in sys.argv[2:]
    run = json.load(open(os.path.join(out_dir, 'run.json')))
    summary = {}
    summary_path = os.path.join(out_dir, 'summary.json')
    if os.path.exists(summary_path):
        summary = json.load(open(summary_path)).get('metrics', {})
    audit_text = open(os.path.join(out_dir, 'audit.txt')).read() if os.path.exists(os.path.join(out_dir, 'audit.txt')) else ''
    t0 = run['k6_start_ms']
    k6_secs = (run['k6_end_ms'] - t0) / 1000.0

    orders = read_tsv(os.path.join(out_dir, 'orders.tsv'))
    paid = [(int(float(o[3])), int(o[5])) for o in orders if o[1] == 'PAID']  # (updated_at ms, seats)
    holds = [int(float(r[1])) for r in read_tsv(os.path.join(out_dir, 'reservations.tsv'))]
    seats_total = run['seats']
    seats_sold = sum(s for _, s in paid)

    lines = []
    w = lines.append
    w(f"# Load run: {run['scenario']} ({os.path.basename(out_dir.rstrip('/'))})")
    w('')
    w(f"- command: `load/run {run['args'].strip()}`")
    w(f"- users {run['users']:,}, k6: {run['vus']} VUs x {run.get('concurrency', 1)} users in flight, schedule {run['schedule_id']} with {seats_total:,} seats, "
      f"maxDuration {run['duration']}")
    w(f"- machine: {run['cores']} cores ({run['cpu']}), shared by k6, the server, MariaDB, Redis and Kafka; "
      f"{run['busy_before_pct']}% busy just before the run")
    w(f"- server: build/ticketing at {run['commit']}, `{run['server_sets'].strip()}`; database {run['db']}, "
      f"Redis db {run['redis_db']}")
    w(f"- {run['k6']}; k6 ran {k6_secs:.1f} s and exited {run['k6_rc']}; drain: {run['drain']}")
    if run.get('tokens'):
        w(f"- identity: {run['tokens']}; every call as its user (Authorization: Bearer), booking calls "
          f"with Queue-Token, mock-success signed (Gateway-Signature)")
    if run.get('warm_up'):
        w(f"- warm-up: {run['warm_up']}")
    if run.get('cpu_seconds'):
        w(f"- CPU during the k6 run: {run['cpu_seconds']}")
    w('')

    # -- Bookings
    if run['scenario'] in ('flash-sale', 'same-seat'):
        w('## Bookings')
        w('')
        if paid:
            buckets = per_second(t for t, _ in paid)
            seat_buckets = Counter()
            for t, s in paid:
                seat_buckets[int(t // 1000)] += s
            first_hold = min(holds) if holds else t0
            first_paid = min(t for t, _ in paid)
            last_paid = max(t for t, _ in paid)
            peak_sec, peak = max(buckets.items(), key=lambda kv: kv[1])
            window = max((last_paid - first_hold) / 1000.0, 1e-3)
            w('| figure | value |')
            w('| --- | --- |')
            w(f'| confirmed bookings (PAID orders) | {len(paid):,} |')
            w(f'| seats sold | {seats_sold:,} of {seats_total:,} ({100.0 * seats_sold / seats_total:.1f}%) |')
            sale = run['scenario'] == 'flash-sale'
            if sale and seats_sold == seats_total:
                w(f'| **sell-out time** (k6 start -> last seat confirmed PAID) | **{(last_paid - t0) / 1000.0:.2f} s** |')
                w(f'| sell-out time from the first hold | {(last_paid - first_hold) / 1000.0:.2f} s |')
            elif sale:
                w(f'| sell-out | not sold out: {seats_total - seats_sold:,} seats left |')
            w(f'| first hold / first PAID / last PAID (s after k6 start) | '
              f'{(first_hold - t0) / 1000.0:.2f} / {(first_paid - t0) / 1000.0:.2f} / {(last_paid - t0) / 1000.0:.2f} |')
            w(f'| **confirmed bookings/s, overall** (PAID orders / first hold -> last PAID) | **{len(paid) / window:,.0f}** '
              f'({seats_sold / window:,.0f} seats/s) |')
            w(f'| **confirmed bookings/s, peak** (busiest 1-s bucket of PAID updated_at) | **{peak:,}** at +{peak_sec - t0 / 1000.0:.0f} s '
              f'({seat_buckets[peak_sec]:,} seats) |')
            top = sorted(buckets.items(), key=lambda kv: -kv[1])[:5]
            w(f"| busiest seconds (bookings) | {', '.join(f'{n:,} @+{s - t0 / 1000.0:.0f}s' for s, n in top)} |")
            statuses = Counter(o[1] for o in orders)
            w(f"| orders by status | {', '.join(f'{k} {v:,}' for k, v in sorted(statuses.items()))} |")
        else:
            w('No PAID orders.')
        w('')

    # -- Latency per endpoint (client side, k6)
    w('## Latency per endpoint (k6, client side, ms)')
    w('')
    w('| endpoint | requests | p50 | p95 | p99 | max | thresholds |')
    w('| --- | ---: | ---: | ---: | ---: | ---: | --- |')
    for name in ENDPOINTS:
        m = summary.get(f'{name}_ms')
        if not m or not m.get('count'):
            continue
        th = m.get('thresholds', {})
        th_text = ', '.join(f"{k} {'FAIL' if v else 'ok'}" for k, v in th.items()) or '-'
        w(f"| {name} | {int(m.get('count', 0)):,} | {fmt_ms(m.get('med'))} | {fmt_ms(m.get('p(95)'))} | "
          f"{fmt_ms(m.get('p(99)'))} | {fmt_ms(m.get('max'))} | {th_text} |")
    for name, label in (('admission_wait_ms', 'enter -> ADMITTED'), ('confirm_wait_ms', 'mock-success -> final'),
                        ('hold_to_paid_ms', 'first hold -> PAID'), ('user_flow_ms', 'whole user flow'),
                        ('start_spread_ms', 'same-seat start spread')):
        m = summary.get(name)
        if m and m.get('count'):
            w(f"| *{label}* | {int(m['count']):,} | {fmt_ms(m.get('med'))} | {fmt_ms(m.get('p(95)'))} | "
              f"{fmt_ms(m.get('p(99)'))} | {fmt_ms(m.get('max'))} | - |")
    reqs = summary.get('http_reqs', {})
    if reqs:
        w('')
        w(f"HTTP requests: {int(reqs.get('count', 0)):,} ({reqs.get('rate', 0):,.0f}/s over the k6 run).")
    w('')

    # -- Counters and thresholds
    w('## Counters and thresholds')
    w('')
    w('| metric | value |')
    w('| --- | ---: |')
    for key, label in COUNTERS:
        m = summary.get(key)
        if m is not None and 'count' in m:
            w(f"| {label} (`{key}`) | {int(m['count']):,} |")
    for key in ('http_req_failed', 'user_flow_failed'):
        m = summary.get(key)
        if m is not None and 'value' in m:
            w(f"| `{key}` rate | {100.0 * m['value']:.3f}% |")
    w('')
    crossed = []
    for key, m in sorted(summary.items()):
        for expr, failed in (m.get('thresholds') or {}).items():
            if failed:
                crossed.append(f'`{key}: {expr}`')
    w(f"k6 thresholds: {'all held' if not crossed else 'CROSSED: ' + ', '.join(crossed)}.")
    w('')

    # -- Audit
    w('## Audit (load/audit, after the drain)')
    w('')
    w('```')
    w(audit_text.rstrip())
    w('```')
    w('')

    # -- Chaos: per fault and the invariants
    faults, timeline = [], {}
    if run['scenario'] == 'chaos':
        chaos_lines, _, faults, timeline = chaos_section(out_dir, run, summary, audit_text, paid)
        w('## Faults and recovery (chaos)')
        w('')
        lines.extend(chaos_lines)
        w('')
        with open(os.path.join(out_dir, 'chaos.txt'), 'w') as f:
            f.write('\n'.join(chaos_lines) + '\n')

    # -- Over time (server side)
    samples = parse_metrics(os.path.join(out_dir, 'metrics.prom'))
    series = server_series(samples, t0, run.get('clk_tck', 100))
    if series:
        w('## Over time')
        w('')
        busiest = max(series, key=lambda s: sum(s[1].values()))
        w(f"Server-side, from /actuator/prometheus sampled every second ({len(samples)} samples): busiest second "
          f"{sum(busiest[1].values()):,.0f} req/s at +{busiest[0]:.0f} s.")
        w('')
        windows = [('whole k6 run', 0.0, k6_secs)]
        if run['scenario'] == 'flash-sale' and paid:
            windows.insert(0, ('sale (first hold -> last PAID)', (min(holds or [t0]) - t0) / 1000.0,
                               (max(t for t, _ in paid) - t0) / 1000.0))
        names = ['k6', 'server', 'mariadb', 'redis', 'kafka']
        rows = []
        for label, a, b in windows:
            cpu = cpu_between(series, a, b)
            if cpu:
                rows.append(f'| {label} ({b - a:.1f} s) | ' + ' | '.join(f'{cpu.get(n, 0.0):.2f}' for n in names)
                            + f' | {sum(cpu.values()):.2f} |')
        if rows:
            w('CPU in cores (2 = the whole machine), averaged over the 1-s samples:')
            w('')
            w('| window | ' + ' | '.join(names) + ' | total |')
            w('| --- |' + ' ---: |' * (len(names) + 1))
            lines.extend(rows)
            w('')
    png = os.path.join(out_dir, 'plot.png')
    if plot and (series or paid or timeline):
        try:
            make_plot(png, series, paid, holds, t0, run, faults, timeline)
            w('![throughput and latency over time](plot.png)')
            w('')
            w('From the top: server requests/s per endpoint; confirmed bookings (PAID orders) and seat holds per '
              'second, from the database timestamps; server-side p99 latency per endpoint per second (from the '
              'histogram buckets, interpolated, so capped by the bucket bounds); CPU cores used by each process '
              '(the dashed line is the whole 2-core machine).')
        except ImportError:
            w('(no plot: matplotlib is not installed)')
        w('')

    text = '\n'.join(lines) + '\n'
    with open(os.path.join(out_dir, 'report.md'), 'w') as f:
        f.write(text)
    print(text)
    return 0


def make_plot(path, series, paid, holds, t0, run, faults=(), timeline=None):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    extra = 1 if timeline else 0
    fig, axes = plt.subplots(4 + extra, 1, figsize=(11, 13 + 3 * extra), sharex=True)
    if timeline:
        # k6's view: good and failed requests per second (chaos), the faults marked on every panel.
        ax = axes[0]
        xs = sorted(timeline)
        ts = [x - t0 / 1000.0 + 0.5 for x in xs]
        ax.plot(ts, [timeline[x][0] for x in xs], label='good requests/s (k6)', color='tab:blue', linewidth=1.2)
        ax.plot(ts, [sum(timeline[x][1:]) for x in xs], label='failed requests/s (k6)', color='tab:red', linewidth=1.2)
        ax.set_ylabel('k6 requests/s')
        ax.set_title(f"load/run chaos: {run['users']:,} users, {run['seats']:,} seats, faults shaded", pad=28)
        ax.legend(loc='upper right', fontsize=8)
        ax.grid(alpha=0.3)
        axes = axes[1:]
        for ax in [*axes, fig.axes[0]]:
            for f in faults:
                a = int(f['injected_ms']) / 1000.0 - t0 / 1000.0
                b = int(f['ready_ms']) / 1000.0 - t0 / 1000.0
                ax.axvspan(a, max(b, a + 0.5), color='tab:red', alpha=0.12)
        top = fig.axes[0]
        for f in faults:
            top.annotate(f['name'], xy=(int(f['injected_ms']) / 1000.0 - t0 / 1000.0, 1.0),
                         xycoords=('data', 'axes fraction'), fontsize=8, rotation=30, va='bottom')
    ax = axes[0]
    for name in ENDPOINTS:
        xs = [s[0] for s in series if name in s[1]]
        ys = [s[1][name] for s in series if name in s[1]]
        if ys and max(ys) > 0:
            ax.plot(xs, ys, label=name, linewidth=1.2)
    ax.set_ylabel('server requests/s')
    ax.legend(loc='upper right', ncol=5, fontsize=8)
    ax.grid(alpha=0.3)
    if not timeline:
        ax.set_title(f"load/run {run['scenario']}: {run['users']:,} users, {run['seats']:,} seats, "
                     f"{run['vus']} VUs x {run.get('concurrency', 1)}")
    else:
        ax.set_ylabel('api1 requests/s')

    ax = axes[1]
    if paid:
        b = per_second(t for t, _ in paid)
        xs = sorted(b)
        ax.bar([x - t0 / 1000.0 + 0.5 for x in xs], [b[x] for x in xs], width=0.9, label='bookings PAID/s', color='tab:green')
    if holds:
        h = per_second(holds)
        xs = sorted(h)
        ax.plot([x - t0 / 1000.0 + 0.5 for x in xs], [h[x] for x in xs], label='seat holds/s', color='tab:orange')
    ax.set_ylabel('per second')
    ax.legend(loc='upper right', fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[2]
    for name in ENDPOINTS:
        pts = [(s[0], s[2][name]) for s in series if s[2].get(name) is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=f'{name} p99', linewidth=1.0)
    ax.set_yscale('log')
    ax.set_ylabel('server p99 latency (ms)')
    ax.legend(loc='upper right', ncol=5, fontsize=8)
    ax.grid(alpha=0.3, which='both')

    ax = axes[3]
    names = ['k6', 'server', 'mariadb', 'redis', 'kafka']
    names += sorted({n for s in series for n in s[3]} - set(names))
    xs = [s[0] for s in series]
    ys = [[s[3].get(n, 0.0) for s in series] for n in names]
    if xs:
        ax.stackplot(xs, ys, labels=names, alpha=0.8)
    ax.axhline(2.0, color='black', linewidth=0.8, linestyle='--')
    ax.set_ylabel('CPU (cores)')
    ax.set_xlabel('seconds since k6 start')
    ax.legend(loc='upper right', ncol=5, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == '__main__':
    sys.exit(main())
