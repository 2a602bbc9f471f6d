"""Benchmark: delivery-report webhooks per second through a real web server (issue 5 "Measured").

gunicorn (gthread workers) on 127.0.0.1 serves bench/bench_wsgi.py: the portal plus a trivial view. In the same
run and with the same client (keep-alive connections from N threads) it measures

- the baseline: POSTs of a report-sized body to the trivial view ``/bench/trivial/``;
- the callback endpoint: signed seed-004 ``sms:message:status`` reports to ``/hooks/cpaas/<connection>/``
  (signature verified, raw payload stored, the apply task scheduled), each answered 200;

and prints both rates, their ratio (target >= 0.5) and the callbacks' p50/p99 latency (target p99 < 100 ms). It
then checks that every report answered 200 is stored. Last, the durability phase: reports are posted to a fresh
server whose master and workers all get ``kill -9`` mid-load; every report answered 200 before the kill must be
stored (the raw INSERT commits before the answer; see channels_out/hooks.py).

Run: .venv/bin/python bench/bench_callbacks.py [--requests 6000] [--threads 16] [--workers 4]
It uses its own database (portal_bench) and Redis databases 12/13; everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from benchsetup import ROOT, bench_django, bench_env

bench_env("portal_bench")
BROKER = "redis://127.0.0.1:6379/12"
CACHE = "redis://127.0.0.1:6379/13"
os.environ["CELERY_BROKER_URL"] = os.environ["CELERY_RESULT_BACKEND"] = BROKER
os.environ["REDIS_URL"] = CACHE
SECRET = "bench-callback-secret-0123456789"  # noqa: S105  (a local benchmark connection, not a credential)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load(
    port: int, path: str, bodies: list[tuple[bytes, dict[str, str]]], threads: int
) -> tuple[float, list[float], int]:
    """POST every body (split over ``threads`` keep-alive connections); return rate, latencies (ms), non-2xx."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    chunks = [bodies[i::threads] for i in range(threads)]

    def run(chunk: list[tuple[bytes, dict[str, str]]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        for body, headers in chunk:
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                bad += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    workers = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(bodies) / (time.perf_counter() - started), latencies, failures[0]


def _load_until_killed(
    port: int, path: str, bodies: list[tuple[bytes, dict[str, str]]], threads: int
) -> list[bytes]:
    """POST until the server dies; return the bodies answered 200."""
    answered: list[bytes] = []
    lock = threading.Lock()

    def run(chunk: list[tuple[bytes, dict[str, str]]]) -> None:
        mine: list[bytes] = []
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for body, headers in chunk:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    mine.append(body)
        except (OSError, http.client.HTTPException):
            pass  # killed
        with lock:
            answered.extend(mine)

    workers = [threading.Thread(target=run, args=(bodies[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answered


def _gunicorn(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "bench.bench_wsgi:application", "-b", f"127.0.0.1:{port}",
         "-w", str(args.workers), "-k", "gthread", "--threads", "4", "--keep-alive", "30",
         "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server


def _kill_tree(server: subprocess.Popen[bytes]) -> int:
    """kill -9 the gunicorn master and its workers (only the processes this benchmark started)."""
    children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
    for pid in [*children, str(server.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    server.wait(timeout=30)
    return len(children)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    bench_django("portal_bench")
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    redis.Redis.from_url(CACHE).flushdb()

    from channels_out import services
    from channels_out.models import CallbackPayload, Connection
    from portal.tenants.models import Company
    from portal.tenants.services import company_create

    company = Company.objects.filter(name="Bench Callbacks").first() or company_create(name="Bench Callbacks")
    connection = services.connection_save(
        company=company, actor=None,
        connection=Connection(
            company=company, name=f"CPaaS {time.time_ns()}", adapter_key="cpaas", channels=["sms"], sender_ids=["BENCH"],
            config={"base_url": "http://127.0.0.1:9/api/v2/", "api_token": "bench-token", "webhook_secret": SECRET, "service": "ENT"},
        ),
    )  # fmt: skip
    hook = f"/hooks/cpaas/{connection.uuid}/"

    def report(n: int) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"event": "sms:message:status", "payload": {
            "id": f"{uuid.uuid4()}:{n}", "mobile": "34612345678", "status": "DELIVRD", "code": "000", "units": 1,
            "credits": "0.0100", "deliv_at": int(time.time())}}).encode()  # fmt: skip
        return body, {"Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}

    reports = [report(n) for n in range(args.requests)]
    trivial: list[tuple[bytes, dict[str, str]]] = [(body, {}) for body, _headers in reports]
    port = _free_port()
    server = _gunicorn(args, port)
    try:
        warm = args.threads * 20
        _load(port, "/bench/trivial/", trivial[:warm], args.threads)
        _load(port, hook, [report(10**9 + n) for n in range(warm)], args.threads)
        before = CallbackPayload.objects.filter(connection=connection).count()
        base_rate, base_lat, base_bad = _load(port, "/bench/trivial/", trivial, args.threads)
        hook_rate, hook_lat, hook_bad = _load(port, hook, reports, args.threads)
        stored = CallbackPayload.objects.filter(connection=connection).count() - before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    print(
        f"gunicorn: {args.workers} gthread workers x 4 threads; client: {args.threads} keep-alive connections"
    )
    print(
        f"trivial view:       {base_rate:8.0f} req/s   p50 {statistics.median(base_lat):6.1f} ms   p99 {_pct(base_lat, 0.99):6.1f} ms   non-200 {base_bad}"
    )
    print(
        f"delivery reports:   {hook_rate:8.0f} req/s   p50 {statistics.median(hook_lat):6.1f} ms   p99 {_pct(hook_lat, 0.99):6.1f} ms   non-200 {hook_bad}"
    )
    print(f"ratio reports / trivial: {hook_rate / base_rate:.2f}  (target >= 0.5; p99 target < 100 ms)")
    print(f"reports answered 200: {args.requests - hook_bad}, stored raw: {stored}")
    if stored != args.requests - hook_bad:
        raise SystemExit("a report answered 200 was not stored")

    # Durability: kill -9 the whole web server mid-load; every report answered 200 must be stored.
    port = _free_port()
    server = _gunicorn(args, port)
    victims = [report(2 * 10**9 + n) for n in range(args.requests)]
    _load(port, hook, [report(3 * 10**9 + n) for n in range(args.threads * 5)], args.threads)  # workers up
    killer = threading.Timer(1.0, lambda: _kill_tree(server))
    killer.start()
    answered = _load_until_killed(port, hook, victims, args.threads)
    killer.join()
    wanted = set(answered)
    found = {
        bytes(body)
        for body in CallbackPayload.objects.filter(connection=connection, body__in=list(wanted)).values_list(
            "body", flat=True
        )
    }
    print(
        f"kill -9 of gunicorn (master + {args.workers} workers) mid-load: {len(answered)} of {len(victims)} "
        f"reports answered 200 before the kill, {len(found & wanted)} of them stored"
    )
    if found != wanted:
        raise SystemExit("a report answered 200 before kill -9 was lost")
    # No worker ran: drop this run's raw reports so that bench_channels.py (same database) does not apply them.
    CallbackPayload.objects.filter(connection=connection).delete()


if __name__ == "__main__":
    main()
