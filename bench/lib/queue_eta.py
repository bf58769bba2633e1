#!/usr/bin/env python3
"""ETA accuracy of the waiting room (issue 17 item 3), driven by bench/queue-eta.

Every sampled waiter records, at its first status answer, the predicted admission time
(now + estimatedWaitSeconds); a monitor reads the exact admission time from Redis (the active
slot's score is admission time + queue.active-ttl, and nobody here extends a slot). Prints one
RESULT line: median and p90 of |predicted - actual| in seconds.

Waiters poll as the server advises (pollAfterMs; a 429 waits Retry-After), so the run also shows
that a client following the advice is never refused for pacing.
"""
import argparse
import json
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tokens", required=True, help="file of '<userId> <accessToken>' lines")
    p.add_argument("--schedule", type=int, default=1)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--redis-db", type=int, required=True)
    p.add_argument("--active-ttl-s", type=float, required=True)
    p.add_argument("--early", type=int, default=0, help="users who enter first (not sampled)")
    p.add_argument("--sampled", type=int, required=True, help="users who enter later and are sampled")
    p.add_argument("--sampled-after-s", type=float, default=0, help="when the sampled users enter")
    p.add_argument("--free-per-second", type=float, default=0, help="admitted users who leave per second (purchases)")
    p.add_argument("--timeout-s", type=float, default=300)
    return p.parse_args()


class Client:
    def __init__(self, port, tokens):
        self.base = f"http://127.0.0.1:{port}"
        self.tokens = tokens
        self.refused_429 = 0
        self.lock = threading.Lock()

    def call(self, method, path, user, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.tokens[user])
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None), r.headers
        except urllib.error.HTTPError as e:
            text = e.read()
            if e.code == 429:
                with self.lock:
                    self.refused_429 += 1
            return e.code, (json.loads(text) if text else None), e.headers


def redis_active(args):
    out = subprocess.run(["redis-cli", "-p", str(args.redis_port), "-n", str(args.redis_db), "ZRANGE",
                          f"queue:{{{args.schedule}}}:active", "0", "-1", "WITHSCORES"],
                         capture_output=True, text=True, check=True).stdout.split()
    return {int(out[i]): float(out[i + 1]) for i in range(0, len(out) - 1, 2)}


def main():
    args = parse_args()
    tokens = {}
    with open(args.tokens) as f:
        for line in f:
            uid, tok = line.split()
            tokens[int(uid)] = tok
    client = Client(args.port, tokens)
    users = list(range(1, args.early + args.sampled + 1))
    admitted_at = {}   # user -> admission time (s, epoch), exact, from Redis
    admit_order = []
    predicted = {}     # sampled user -> predicted admission time (s, epoch)
    stop = threading.Event()

    def monitor():
        while not stop.is_set():
            for user, score in redis_active(args).items():
                if user not in admitted_at:
                    admitted_at[user] = score / 1000.0 - args.active_ttl_s
                    admit_order.append(user)
            time.sleep(0.05)

    def purchaser():  # frees slots at a steady rate: admitted users leave in admission order
        freed = 0
        start = time.time()
        while not stop.is_set():
            due = int((time.time() - start) * args.free_per_second)
            while freed < due and freed < len(admit_order):
                client.call("DELETE", f"/queue?scheduleId={args.schedule}", admit_order[freed])
                freed += 1
            time.sleep(0.02)

    def waiter(user, sampled):
        status, body, _ = client.call("POST", "/queue/enter", user, {"scheduleId": args.schedule})
        if status != 200:
            print(f"user {user}: enter {status} {body}")
            return
        # The prediction is the enter answer's: a status call at once after it would be paced (429).
        if sampled and body["status"] == "WAITING":
            predicted[user] = time.time() + body["estimatedWaitSeconds"]
        deadline = time.time() + args.timeout_s
        while time.time() < deadline and not stop.is_set():
            if body["status"] == "ADMITTED":
                return
            time.sleep(body.get("pollAfterMs", 1000) / 1000.0 * 0.9)
            while True:
                status, answer, headers = client.call("GET", f"/queue/status?scheduleId={args.schedule}", user)
                if status != 429:
                    break
                time.sleep(float(headers.get("Retry-After", "1")))
            if status != 200:
                print(f"user {user}: status {status} {answer}")
                return
            body = answer

    threads = [threading.Thread(target=monitor, daemon=True)]
    if args.free_per_second > 0:
        threads.append(threading.Thread(target=purchaser, daemon=True))
    for t in threads:
        t.start()
    started = time.time()
    waiters = []
    for user in users[: args.early]:
        t = threading.Thread(target=waiter, args=(user, False), daemon=True)
        t.start()
        waiters.append(t)
    time.sleep(max(0.0, started + args.sampled_after_s - time.time()))
    for user in users[args.early:]:
        t = threading.Thread(target=waiter, args=(user, True), daemon=True)
        t.start()
        waiters.append(t)
    for t in waiters:
        t.join(timeout=max(0.0, started + args.timeout_s - time.time()))
    time.sleep(0.3)
    stop.set()
    errors = sorted(abs(predicted[u] - admitted_at[u]) for u in predicted if u in admitted_at)
    missing = [u for u in predicted if u not in admitted_at]
    signed = [predicted[u] - admitted_at[u] for u in predicted if u in admitted_at]
    if not errors:
        print("RESULT sampled=0")
        return
    p90 = errors[min(len(errors) - 1, int(round(0.9 * (len(errors) - 1))))]
    print(f"RESULT sampled={len(errors)} not_admitted={len(missing)} median_abs_error_s={statistics.median(errors):.2f} "
          f"p90_abs_error_s={p90:.2f} max_abs_error_s={errors[-1]:.2f} mean_signed_error_s={statistics.mean(signed):+.2f} "
          f"last_admission_s={max(admitted_at[u] for u in predicted if u in admitted_at) - started:.1f} "
          f"status_429={client.refused_429}")


if __name__ == "__main__":
    main()
