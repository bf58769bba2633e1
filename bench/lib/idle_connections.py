#!/usr/bin/env python3
"""Idle-connection flood against one server (bench/idle-connections, docs/limits.md).

Opens --connections TCP connections that never send a byte, from several worker processes (each
under the open-file limit, each from its own loopback source address so the ephemeral ports do not
run out), and watches which of them the server closes at once (past http.max-connections). While
the flood runs and after it, samples the server's CPU (process and busiest thread, from /proc) and
RSS, and sends a request on a keep-alive connection opened before the flood. At the end, all idle
connections are closed and a fresh connection must be served again. Prints one BENCH line.
"""
import argparse
import errno
import multiprocessing as mp
import os
import resource
import select
import socket
import time

IP_BIND_ADDRESS_NO_PORT = 24  # Linux: pick the source port at connect(), per destination
CLK_TCK = os.sysconf("SC_CLK_TCK")


def worker(index, count, port, source, in_flight, connect_timeout, report, release):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ep = select.epoll()
    sockets = {}
    connecting = {}  # fd -> when connect() began
    connected = refused = failed = started = 0
    started_at = time.monotonic()

    def open_one():
        nonlocal started, failed
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((source, 0))
        err = s.connect_ex(("127.0.0.1", port))
        started += 1
        if err not in (0, 115):  # EINPROGRESS
            failed += 1
            s.close()
            return
        sockets[s.fileno()] = s
        connecting[s.fileno()] = time.monotonic()
        ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN | select.EPOLLRDHUP)

    def handle(timeout):
        nonlocal connected, refused, failed
        for fd, events in ep.poll(timeout, 4096):
            s = sockets.get(fd)
            if s is None:
                continue
            if fd in connecting:
                del connecting[fd]
                error = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error != 0:
                    # Reset right after the handshake: the server accepted it and closed it at once.
                    if error == errno.ECONNRESET:
                        connected += 1
                        refused += 1
                    else:
                        failed += 1
                    ep.unregister(fd)
                    del sockets[fd]
                    s.close()
                    continue
                connected += 1
                ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
                if not events & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                    continue
            # The server wrote nothing to an idle connection: any readiness is its close (or reset).
            try:
                data = s.recv(1)
            except OSError:
                data = b""
            if data:
                continue
            refused += 1
            ep.unregister(fd)
            del sockets[fd]
            s.close()

    def give_up_slow():
        # A full backlog drops SYNs: such a connect would hang for minutes of retries.
        nonlocal failed
        now = time.monotonic()
        for fd in [fd for fd, t in connecting.items() if now - t > connect_timeout]:
            del connecting[fd]
            ep.unregister(fd)
            sockets.pop(fd).close()
            failed += 1

    while started < count:
        while started < count and len(connecting) < in_flight:
            try:
                open_one()
            except OSError:
                failed += 1
                started += 1
        handle(0.05)
        give_up_slow()
    while connecting:
        handle(0.1)
        give_up_slow()
    report.put(("connected", index, connected, refused, failed, time.monotonic() - started_at))
    while not release.is_set():
        handle(0.2)
    report.put(("final", index, connected, refused, failed, len(sockets)))
    for s in sockets.values():
        s.close()


def thread_ticks(pid):
    ticks = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    stat = f.read()
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    name = f.read().strip()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            ticks[f"{name}/{tid}"] = int(fields[11]) + int(fields[12])
    except OSError:
        pass
    return ticks


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_between(before, after, seconds):
    """Process CPU % of one core, and the busiest thread's name and %."""
    total = sum(after.values()) - sum(before.values())
    busiest, top = "-", 0
    for name, t in after.items():
        d = t - before.get(name, 0)
        if d > top:
            busiest, top = name, d
    scale = 100.0 / (CLK_TCK * max(seconds, 1e-9))
    return total * scale, busiest, top * scale


def request(sock, target):
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return 0, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head[9:12]), body


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--connections", type=int, default=70000)
    p.add_argument("--per-process", type=int, default=15000)
    p.add_argument("--in-flight", type=int, default=500)
    p.add_argument("--settle", type=float, default=5.0)
    p.add_argument("--connect-timeout", type=float, default=3.0)
    args = p.parse_args()

    pid = args.server_pid
    probe = socket.create_connection(("127.0.0.1", args.port))
    status, _ = request(probe, "/actuator/health")
    assert status == 200, f"health answered {status}"
    rss_before = rss_kib(pid)

    workers = []
    report = mp.Queue()
    release = mp.Event()
    left = args.connections
    index = 0
    while left > 0:
        count = min(left, args.per_process)
        source = f"127.0.{1 + index // 250}.{2 + index % 250}"
        w = mp.Process(target=worker, args=(index, count, args.port, source, args.in_flight, args.connect_timeout, report, release))
        workers.append(w)
        left -= count
        index += 1

    t0 = time.monotonic()
    ticks0 = thread_ticks(pid)
    for w in workers:
        w.start()
    done = {}
    during_status = []
    samples = []
    last = (t0, ticks0)
    while len(done) < len(workers):
        try:
            msg = report.get(timeout=0.5)
            done[msg[1]] = msg
        except Exception:
            pass
        now = time.monotonic()
        if now - last[0] >= 1.0:
            ticks = thread_ticks(pid)
            samples.append(cpu_between(last[1], ticks, now - last[0]))
            last = (now, ticks)
            if len(during_status) < 3:
                s, _ = request(probe, "/actuator/health")
                during_status.append(s)
    t1 = time.monotonic()
    ticks1 = thread_ticks(pid)
    flood_cpu, flood_thread, flood_thread_pct = cpu_between(ticks0, ticks1, t1 - t0)
    peak = max(samples, key=lambda x: x[0]) if samples else (flood_cpu, flood_thread, flood_thread_pct)

    # Idle with every connection held: the accept thread must not spin.
    time.sleep(args.settle)
    t2 = time.monotonic()
    ticks2 = thread_ticks(pid)
    idle_cpu, idle_thread, idle_thread_pct = cpu_between(ticks1, ticks2, t2 - t1)
    rss_after = rss_kib(pid)
    after_status, body = request(probe, "/actuator/prometheus")
    text = body.decode(errors="replace")
    open_now = metric(text, "ticketing_http_open_connections")
    accepted_total = metric(text, "ticketing_http_connections_accepted_total")
    refused_total = metric(text, "ticketing_http_connections_refused_total")
    accept_failures = metric(text, "ticketing_http_accept_failures_total")
    backoff_s = metric(text, "ticketing_http_accept_backoff_seconds_total")

    release.set()
    finals = {}
    while len(finals) < len(workers):
        msg = report.get(timeout=60)
        if msg[0] == "final":
            finals[msg[1]] = msg
    for w in workers:
        w.join(timeout=30)
    connected = sum(m[2] for m in finals.values())
    refused = sum(m[3] for m in finals.values())
    failed = sum(m[4] for m in finals.values())
    held = sum(m[5] for m in finals.values())
    connect_s = max(m[5] for m in done.values())

    # All idle connections closed: a fresh connection is served again.
    fresh = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=2) as s:
                fresh, _ = request(s, "/actuator/health")
            if fresh == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    after_probe, _ = request(probe, "/actuator/health")

    per_conn = (rss_after - rss_before) * 1024 / max(held, 1)
    print(
        "BENCH "
        + " ".join(
            f"{k}={v}"
            for k, v in dict(
                connections=args.connections,
                processes=len(workers),
                connected=connected,
                held=held,
                refused=refused,
                connect_failed=failed,
                connect_s=f"{connect_s:.1f}",
                flood_s=f"{t1 - t0:.1f}",
                flood_cpu_pct=f"{flood_cpu:.1f}",
                flood_thread=flood_thread,
                flood_thread_pct=f"{flood_thread_pct:.1f}",
                peak_cpu_pct=f"{peak[0]:.1f}",
                peak_thread=peak[1],
                peak_thread_pct=f"{peak[2]:.1f}",
                idle_s=f"{t2 - t1:.1f}",
                idle_cpu_pct=f"{idle_cpu:.2f}",
                idle_thread=idle_thread,
                idle_thread_pct=f"{idle_thread_pct:.2f}",
                rss_before_mib=f"{rss_before / 1024:.1f}",
                rss_after_mib=f"{rss_after / 1024:.1f}",
                rss_per_conn_bytes=f"{per_conn:.0f}",
                server_open=f"{open_now:.0f}",
                server_accepted=f"{accepted_total:.0f}",
                server_refused=f"{refused_total:.0f}",
                server_accept_failures=f"{accept_failures:.0f}",
                server_backoff_s=f"{backoff_s:.2f}",
                during_status=",".join(map(str, during_status)) or "-",
                after_status=after_status,
                after_probe=after_probe,
                fresh_status=fresh,
            ).items()
        )
    )


if __name__ == "__main__":
    main()
