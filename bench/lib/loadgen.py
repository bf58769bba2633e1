#!/usr/bin/env python3
"""Load driver for bench/hold-storm, bench/payment-storm and bench/login-storm (standard library only).

A small asyncio HTTP/1.1 client (keep-alive, one connection per worker, Content-Length bodies)
and the steps the benchmarks need around wrk:

  admit       enter every user into a schedule's queue, poll status until ADMITTED, write
              "userId queueToken" lines (setup; not measured)
  hold-ready  per "userId queueToken seat": POST /tickets/hold, then POST /payment/ready with a
              unique Idempotency-Key; write "userId orderNo seat amount" lines (setup; not measured)
  hold        per "userId queueToken seat[,seat...]": POST /tickets/hold; counts statuses (warm-up)
  fire-mock   POST /payment/mock-success for every order as fast as possible with N in flight,
              signed as the gateway signs (Gateway-Signature); write "orderNo status send_ms
              recv_ms" (epoch ms, this machine's clock)
  login       POST /auth/login {email, password} for seeded users from N workers for a fixed time
  payment-report   percentiles and rates from the database's PAID rows and fire-mock's file
  percentiles      nearest-rank percentiles of a column of numbers (stdin)

Who calls is said by an access token (DESIGN.md §12), never by a userId in a body or query: the
commands that act for users read `ticketing token mint` output ("userId accessToken" lines,
--access-tokens) and send `Authorization: Bearer <accessToken>`; the booking calls also send the
queue's admission token in `Queue-Token`.

Every command prints one machine-readable line starting with "LOADGEN " on stdout (key=value),
progress and errors on stderr, and exits non-zero when the step could not be done.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import math
import sys
import time
from collections import Counter
from urllib.parse import urlsplit


def log(msg: str) -> None:
    print(f"[loadgen] {msg}", file=sys.stderr, flush=True)


def emit(fields: dict) -> None:
    print("LOADGEN " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)


def now_ms() -> float:
    return time.time() * 1000.0


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 client: one keep-alive connection per worker.


class HttpError(Exception):
    pass


class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes, retries: int = 2) -> tuple[int, bytes]:
        """Send one request (complete bytes); return (status, body). Reconnects on a dropped
        keep-alive connection (retried only when nothing was answered)."""
        for attempt in range(retries + 1):
            if self.writer is None:
                await self._open()
            try:
                self.writer.write(raw)
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
                self.close()
                if attempt == retries:
                    raise HttpError(f"connection failed: {error}") from error
                continue
            lines = head.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    raise HttpError("chunked responses are not supported by this client")
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await self.reader.readexactly(length) if length else b""
            if close:
                self.close()
            return status, body
        raise HttpError("unreachable")


def build(method: str, host_header: str, path: str, body: dict | None = None, headers: dict | None = None) -> bytes:
    out = [f"{method} {path} HTTP/1.1", f"Host: {host_header}"]
    for k, v in (headers or {}).items():
        out.append(f"{k}: {v}")
    data = b""
    if body is not None:
        data = json.dumps(body, separators=(",", ":")).encode()
        out.append("Content-Type: application/json")
        out.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(out) + "\r\n\r\n").encode() + data


async def run_workers(url: str, items: list, concurrency: int, handle) -> None:
    """Run handle(conn, item) for every item with `concurrency` workers, each with its own
    connection. Items are taken in order."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    it = iter(items)

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            for item in it:  # shared iterator: each item handed to exactly one worker
                await handle(conn, item)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items) or 1)))))


def host_header(url: str) -> str:
    return urlsplit(url).netloc


def read_rows(path: str) -> list[list[str]]:
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def read_access_tokens(path: str, users=None) -> dict[int, str]:
    """`ticketing token mint` output: "userId accessToken" per line. Only `users` (a set) when given;
    every one of them must be there."""
    tokens: dict[int, str] = {}
    with open(path) as f:
        for line in f:
            user, _, token = line.strip().partition(" ")
            if not token:
                continue
            uid = int(user)
            if users is None or uid in users:
                tokens[uid] = token
    if users is not None and len(tokens) != len(users):
        missing = sorted(set(users) - set(tokens))
        raise HttpError(f"no access token in {path} for {len(missing)} users (first: {missing[:5]})")
    return tokens


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def booking_headers(access_token: str, queue_token: str) -> dict:
    """The booking endpoints want both: who calls (access token) and the admission (queue token)."""
    return {"Authorization": f"Bearer {access_token}", "Queue-Token": queue_token}


def gateway_signature(secret: str, body: bytes, t: int | None = None) -> str:
    """Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>."""
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


# ---------------------------------------------------------------------------------------------
# Commands


async def cmd_admit(args) -> int:
    first, _, last = args.users.partition("-")
    users = list(range(int(first), int(last or first) + 1))
    access = read_access_tokens(args.access_tokens, set(users))
    hh = host_header(args.url)
    tokens: dict[int, str] = {}
    statuses: Counter = Counter()
    t0 = time.monotonic()

    async def enter(conn: Connection, user: int) -> None:
        status, body = await conn.request(
            build("POST", hh, "/queue/enter", {"scheduleId": args.schedule}, bearer(access[user])))
        statuses[f"enter_{status}"] += 1
        if status != 200:
            raise HttpError(f"enter user {user}: {status} {body[:200]!r}")
        doc = json.loads(body)
        if doc.get("status") == "ADMITTED" and doc.get("token"):
            tokens[user] = doc["token"]

    await run_workers(args.url, users, args.concurrency, enter)
    t_enter = time.monotonic() - t0
    log(f"schedule {args.schedule}: {len(users)} users entered in {t_enter:.2f} s ({len(tokens)} admitted at once)")

    async def poll(conn: Connection, user: int) -> None:
        status, body = await conn.request(
            build("GET", hh, f"/queue/status?scheduleId={args.schedule}", None, bearer(access[user])))
        statuses[f"status_{status}"] += 1
        if status == 429:
            return  # paced (a waiter's first status right after enter, too): asked again next round
        if status != 200:
            raise HttpError(f"status user {user}: {status} {body[:200]!r}")
        doc = json.loads(body)
        if doc.get("status") == "ADMITTED" and doc.get("token"):
            tokens[user] = doc["token"]

    deadline = time.monotonic() + args.timeout
    rounds = 0
    while True:
        waiting = [u for u in users if u not in tokens]
        if not waiting:
            break
        if time.monotonic() > deadline:
            log(f"{len(waiting)} users still not admitted after {args.timeout} s (first: {waiting[:5]})")
            return 1
        if rounds > 0:
            await asyncio.sleep(0.05)  # one admission interval
        rounds += 1
        await run_workers(args.url, waiting, args.concurrency, poll)
    elapsed = time.monotonic() - t0
    with open(args.out, "w") as f:
        for user in users:
            f.write(f"{user} {tokens[user]}\n")
    log(f"schedule {args.schedule}: {len(users)} users admitted with tokens in {elapsed:.2f} s "
        f"({rounds} status pass(es))")
    emit({"users": len(users), "admitted": len(tokens), "seconds": f"{elapsed:.3f}", "status_passes": rounds,
          "calls": ",".join(f"{k}:{v}" for k, v in sorted(statuses.items()))})
    return 0


async def cmd_hold(args) -> int:
    rows = read_rows(args.rows)
    access = read_access_tokens(args.access_tokens, {int(row[0]) for row in rows})
    hh = host_header(args.url)
    statuses: Counter = Counter()
    t0 = time.monotonic()

    async def hold(conn: Connection, row: list[str]) -> None:
        user, token, seats = int(row[0]), row[1], row[2].split(",")
        status, _ = await conn.request(build(
            "POST", hh, "/tickets/hold", {"scheduleId": args.schedule, "seatNos": seats},
            booking_headers(access[user], token)))
        statuses[status] += 1

    await run_workers(args.url, rows, args.concurrency, hold)
    elapsed = time.monotonic() - t0
    emit({"requests": len(rows), "seconds": f"{elapsed:.3f}",
          "statuses": ",".join(f"{k}:{v}" for k, v in sorted(statuses.items()))})
    return 0


async def cmd_hold_ready(args) -> int:
    rows = read_rows(args.rows)
    access = read_access_tokens(args.access_tokens, {int(row[0]) for row in rows})
    hh = host_header(args.url)
    orders: list[str] = []
    failures: list[str] = []
    t0 = time.monotonic()

    async def hold_and_ready(conn: Connection, row: list[str]) -> None:
        user, token, seats = int(row[0]), row[1], row[2].split(",")
        body = {"scheduleId": args.schedule, "seatNos": seats}
        auth = booking_headers(access[user], token)
        status, text = await conn.request(build("POST", hh, "/tickets/hold", body, auth))
        if status != 200:
            failures.append(f"hold user {user} {seats}: {status} {text[:160]!r}")
            return
        status, text = await conn.request(build(
            "POST", hh, "/payment/ready", body, {**auth, "Idempotency-Key": f"{args.key_prefix}-{user}"}))
        if status != 201:
            failures.append(f"ready user {user}: {status} {text[:160]!r}")
            return
        doc = json.loads(text)
        orders.append(f"{user} {doc['orderNo']} {','.join(seats)} {doc['amount']}")

    await run_workers(args.url, rows, args.concurrency, hold_and_ready)
    elapsed = time.monotonic() - t0
    if failures:
        for line in failures[:10]:
            log(line)
        log(f"{len(failures)} of {len(rows)} users could not hold and create an order")
        return 1
    with open(args.out, "w") as f:
        f.write("\n".join(orders) + "\n")
    emit({"orders": len(orders), "seconds": f"{elapsed:.3f}"})
    return 0


async def cmd_fire_mock(args) -> int:
    rows = read_rows(args.orders)
    hh = host_header(args.url)
    # Pre-built requests: the measured loop only writes, reads and timestamps. Signed as the gateway
    # signs its callback (one t for all: well inside payment.gateway-signature-tolerance), or, with
    # --plain-secret, the dev profile's X-Gateway-Secret shortcut.
    t_sign = int(time.time())

    def gateway_headers(order_no: str) -> dict:
        if args.plain_secret:
            return {"X-Gateway-Secret": args.secret}
        raw = json.dumps({"orderNo": order_no}, separators=(",", ":")).encode()  # exactly what build() sends
        return {"Gateway-Signature": gateway_signature(args.secret, raw, t_sign)}

    requests = [(row[1], build("POST", hh, "/payment/mock-success", {"orderNo": row[1]}, gateway_headers(row[1])))
                for row in rows]
    results: dict[str, tuple[int, float, float]] = {}
    failed: list[tuple[str, bytes]] = []
    errors: list[str] = []

    async def fire(conn: Connection, item: tuple[str, bytes]) -> None:
        order_no, raw = item
        sent = now_ms()
        try:
            status, body = await conn.request(raw, retries=0)
        except HttpError as error:
            errors.append(f"{order_no}: {error}")
            failed.append(item)
            return
        results[order_no] = (status, sent, now_ms())
        if status != 202:
            errors.append(f"{order_no}: {status} {body[:200]!r}")
            failed.append(item)

    t0 = now_ms()
    await run_workers(args.url, requests, args.concurrency, fire)
    t1 = now_ms()
    first = Counter(r[0] for r in results.values())
    first_errors = len(errors)
    for line in errors[:10]:
        log(f"mock-success failed: {line}")
    # A gateway retries a callback that failed; so does this driver, once, after the storm. The
    # retried call's answer replaces the first one (its send time stays the first call's).
    retried: Counter = Counter()
    still_failed = 0
    if failed and args.retry_failed:
        retry_items = list(failed)
        failed.clear()
        errors.clear()
        first_sent = {k: v[1] for k, v in results.items()}

        async def refire(conn: Connection, item: tuple[str, bytes]) -> None:
            order_no, raw = item
            try:
                status, body = await conn.request(raw, retries=1)
            except HttpError as error:
                retried["error"] += 1
                errors.append(f"{order_no}: {error}")
                return
            retried[status] += 1
            results[order_no] = (status, first_sent.get(order_no, now_ms()), now_ms())
            if status not in (200, 202):
                errors.append(f"{order_no}: {status} {body[:200]!r}")

        await run_workers(args.url, retry_items, 4, refire)
        still_failed = len(errors)
        for line in errors[:10]:
            log(f"mock-success retry failed: {line}")
    elif failed:
        still_failed = len(failed)
    with open(args.out, "w") as f:
        for order_no, (status, sent, recv) in results.items():
            f.write(f"{order_no} {status} {sent:.3f} {recv:.3f}\n")
    lat = sorted(recv - sent for status, sent, recv in results.values() if status == 202)
    emit({"calls": len(requests), "answered": sum(first.values()), "errors": first_errors,
          "statuses": ",".join(f"{k}:{v}" for k, v in sorted(first.items())) or "none",
          "retried": ",".join(f"{k}:{v}" for k, v in sorted(retried.items(), key=str)) or "none",
          "unresolved": still_failed,
          "seconds": f"{(t1 - t0) / 1000:.3f}", "calls_per_s": f"{len(requests) / ((t1 - t0) / 1000):.1f}",
          "p50_ms": f"{percentile(lat, 50):.1f}", "p95_ms": f"{percentile(lat, 95):.1f}",
          "p99_ms": f"{percentile(lat, 99):.1f}", "max_ms": f"{lat[-1] if lat else 0:.1f}"})
    return 0 if still_failed == 0 else 1


async def cmd_login(args) -> int:
    """Workers sign in users first..last in turn (user<N>@example.com, the demo password) until
    --duration seconds have passed; each keeps one connection. Percentiles are over the 200s."""
    first, _, last = args.users.partition("-")
    first, last = int(first), int(last or first)
    hh = host_header(args.url)
    parts = urlsplit(args.url)
    statuses: Counter = Counter()
    latencies: list[float] = []
    conn_errors = 0
    next_user = first
    t0 = time.monotonic()
    deadline = t0 + args.duration
    first_sent = last_done = 0.0

    async def worker() -> None:
        nonlocal next_user, conn_errors, first_sent, last_done
        conn = Connection(parts.hostname, parts.port or 80)
        try:
            while time.monotonic() < deadline:
                user = next_user
                next_user = first if next_user >= last else next_user + 1
                raw = build("POST", hh, "/auth/login",
                            {"email": args.email.format(user), "password": args.password})
                sent = time.monotonic()
                if not first_sent:
                    first_sent = sent
                try:
                    status, body = await conn.request(raw, retries=0)
                except HttpError as error:
                    conn_errors += 1
                    if conn_errors <= 5:
                        log(f"login user {user}: {error}")
                    continue
                done = time.monotonic()
                last_done = max(last_done, done)
                statuses[status] += 1
                if status == 200:
                    latencies.append((done - sent) * 1000)
                elif sum(statuses.values()) - statuses[200] <= 5:
                    log(f"login user {user}: {status} {body[:200]!r}")
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    span = (last_done - first_sent) if last_done > first_sent else 0.0
    latencies.sort()
    answered = sum(statuses.values())
    emit({"requests": answered + conn_errors, "answered": answered, "logins": statuses[200],
          "span_s": f"{span:.3f}", "logins_per_s": f"{statuses[200] / span if span else 0:.1f}",
          "p50_ms": f"{percentile(latencies, 50):.1f}", "p95_ms": f"{percentile(latencies, 95):.1f}",
          "p99_ms": f"{percentile(latencies, 99):.1f}", "max_ms": f"{latencies[-1] if latencies else 0:.1f}",
          "errors": answered - statuses[200] + conn_errors, "s429": statuses[429], "s503": statuses[503],
          "s401": statuses[401], "conn_errors": conn_errors,
          "statuses": ",".join(f"{k}:{v}" for k, v in sorted(statuses.items())) or "none"})
    return 0


def cmd_payment_report(args) -> int:
    """--db: "order_no status paid_at_ms updated_at_ms" (epoch ms, from the database; NULL allowed)
    --sends: fire-mock's output; --outbox (optional): "order_no published_at_ms" of the orders'
    PaymentCompleted outbox rows. Latency per PAID order = updated_at - paid_at (server clock, both
    written by the service), and updated_at - client send time (same machine clock); split into
    relay (paid_at -> outbox published_at, i.e. Kafka acknowledged) and consumer (published_at ->
    updated_at)."""
    sends = {row[0]: float(row[2]) for row in read_rows(args.sends)}
    published = {}
    if args.outbox:
        published = {row[0]: float(row[1]) for row in read_rows(args.outbox) if row[1] != "NULL"}
    paid_at, updated_at, server_lat, client_lat, relay_lat, consume_lat = [], [], [], [], [], []
    counts: Counter = Counter()
    for row in read_rows(args.db):
        order_no, status = row[0], row[1]
        counts[status] += 1
        if status != "PAID" or row[2] == "NULL":
            continue
        p, u = float(row[2]), float(row[3])
        paid_at.append(p)
        updated_at.append(u)
        server_lat.append(u - p)
        if order_no in sends:
            client_lat.append(u - sends[order_no])
        if order_no in published:
            relay_lat.append(published[order_no] - p)
            consume_lat.append(u - published[order_no])
    for values in (server_lat, client_lat, relay_lat, consume_lat):
        values.sort()
    first_send = min(sends.values()) if sends else 0.0
    span_s = (max(updated_at) - min(paid_at)) / 1000 if paid_at else 0.0
    span_client_s = (max(updated_at) - first_send) / 1000 if paid_at else 0.0
    emit({"orders": sum(counts.values()), "paid": len(paid_at),
          "statuses": ",".join(f"{k}:{v}" for k, v in sorted(counts.items())) or "none",
          "confirm_span_s": f"{span_s:.3f}", "confirm_per_s": f"{len(paid_at) / span_s if span_s else 0:.1f}",
          "client_span_s": f"{span_client_s:.3f}",
          "client_confirm_per_s": f"{len(paid_at) / span_client_s if span_client_s else 0:.1f}",
          "p50_ms": f"{percentile(server_lat, 50):.0f}", "p95_ms": f"{percentile(server_lat, 95):.0f}",
          "p99_ms": f"{percentile(server_lat, 99):.0f}", "max_ms": f"{server_lat[-1] if server_lat else 0:.0f}",
          "client_p50_ms": f"{percentile(client_lat, 50):.0f}", "client_p99_ms": f"{percentile(client_lat, 99):.0f}",
          "paid_at_span_s": f"{(max(paid_at) - min(paid_at)) / 1000 if paid_at else 0:.3f}",
          "relay_p50_ms": f"{percentile(relay_lat, 50):.0f}", "relay_p99_ms": f"{percentile(relay_lat, 99):.0f}",
          "consume_p50_ms": f"{percentile(consume_lat, 50):.0f}",
          "consume_p99_ms": f"{percentile(consume_lat, 99):.0f}", "published_n": len(relay_lat)})
    return 0


def cmd_percentiles(args) -> int:
    values = sorted(float(line.split()[0]) for line in sys.stdin if line.strip())
    emit({"n": len(values), **{f"p{p}".replace(".", ""): f"{percentile(values, p):.1f}" for p in (50, 95, 99)},
          "max": f"{values[-1] if values else 0:.1f}"})
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("admit")
    p.add_argument("--url", required=True)
    p.add_argument("--schedule", type=int, required=True)
    p.add_argument("--users", required=True, help="FIRST-LAST (inclusive)")
    p.add_argument("--access-tokens", required=True, help='"userId accessToken" lines (ticketing token mint)')
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--out", required=True)

    p = sub.add_parser("hold")
    p.add_argument("--url", required=True)
    p.add_argument("--schedule", type=int, required=True)
    p.add_argument("--rows", required=True, help='"userId queueToken seat[,seat...]" lines')
    p.add_argument("--access-tokens", required=True, help='"userId accessToken" lines (ticketing token mint)')
    p.add_argument("--concurrency", type=int, default=32)

    p = sub.add_parser("hold-ready")
    p.add_argument("--url", required=True)
    p.add_argument("--schedule", type=int, required=True)
    p.add_argument("--rows", required=True, help='"userId queueToken seat[,seat...]" lines')
    p.add_argument("--access-tokens", required=True, help='"userId accessToken" lines (ticketing token mint)')
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--key-prefix", required=True, help="Idempotency-Key = PREFIX-userId")
    p.add_argument("--out", required=True)

    p = sub.add_parser("fire-mock")
    p.add_argument("--url", required=True)
    p.add_argument("--orders", required=True, help="hold-ready's output")
    p.add_argument("--concurrency", type=int, default=128)
    p.add_argument("--secret", required=True, help="payment.gateway-secret: the key of Gateway-Signature")
    p.add_argument("--plain-secret", action="store_true",
                   help="send X-Gateway-Secret: <secret> (dev profile shortcut) instead of signing")
    p.add_argument("--out", required=True)
    p.add_argument("--retry-failed", action="store_true",
                   help="call again (once, after the storm) every order whose call failed or was not 202")

    p = sub.add_parser("login")
    p.add_argument("--url", required=True)
    p.add_argument("--users", required=True, help="FIRST-LAST (inclusive): seeded users, taken in turn")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, required=True, help="seconds")
    p.add_argument("--email", default="user{}@example.com", help="format of the email, {} = user id")
    p.add_argument("--password", default="demo-password")

    p = sub.add_parser("payment-report")
    p.add_argument("--db", required=True)
    p.add_argument("--sends", required=True)
    p.add_argument("--outbox")

    sub.add_parser("percentiles")

    args = parser.parse_args()
    try:
        if args.cmd == "admit":
            return asyncio.run(cmd_admit(args))
        if args.cmd == "hold":
            return asyncio.run(cmd_hold(args))
        if args.cmd == "hold-ready":
            return asyncio.run(cmd_hold_ready(args))
        if args.cmd == "fire-mock":
            return asyncio.run(cmd_fire_mock(args))
        if args.cmd == "login":
            return asyncio.run(cmd_login(args))
        if args.cmd == "payment-report":
            return cmd_payment_report(args)
        return cmd_percentiles(args)
    except (HttpError, OSError) as error:
        log(f"error: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
