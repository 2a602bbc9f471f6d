"""Fault test: 10,000 messages through the fake vendor, ``kill -9`` of the Celery worker mid-run, restart, and the
vendor counts each message exactly once (issue 5 "Measured", exactly-once submit of §4).

1. A seed-004 CPaaS connection points at the local fake vendor (tests/channels_out/fake_vendor.py, 127.0.0.1).
2. ``message_send_batch`` queues N SMS (one submit task per batch); one Celery worker (solo pool) submits them.
3. When about a third is accepted by the vendor, the worker gets SIGKILL; a new worker is started.
4. This process plays the beat's upkeep job (``outbox_sweep``) until every message has left ``queued``: leased rows
   of the dead worker come back after ``PORTAL_SUBMIT_LEASE_SECONDS`` and are submitted again with the same client
   reference, which the vendor recognises.
5. Checks: the vendor accepted every reference exactly once, every message is ``submitted`` with the vendor id the
   vendor gave, and the number of repeated tries the idempotency key absorbed is printed.

Run: .venv/bin/python bench/bench_fault_submit.py [--messages 10000]
It uses its own database (portal_bench) and Redis databases 12/13; everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid

from benchsetup import ROOT, bench_django, bench_env

bench_env("portal_bench")
BROKER = "redis://127.0.0.1:6379/12"
CACHE = "redis://127.0.0.1:6379/13"
os.environ["CELERY_BROKER_URL"] = os.environ["CELERY_RESULT_BACKEND"] = BROKER
os.environ["REDIS_URL"] = CACHE
os.environ["PORTAL_SUBMIT_LEASE_SECONDS"] = "5"  # the dead worker's rows come back quickly
os.environ["LOG_LEVEL"] = "WARNING"


def _worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "realtime,bulk,default", "-n",
         f"fault-{uuid.uuid4().hex[:6]}@localhost", "--pool", "solo", "--without-gossip", "--without-mingle",
         "--loglevel", "WARNING"],
        cwd=ROOT, env=dict(os.environ),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--kill-at", type=float, default=0.33, help="fraction accepted when the worker is killed"
    )
    args = parser.parse_args()

    bench_django("portal_bench")
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    redis.Redis.from_url(CACHE).flushdb()

    from channels_out import services
    from channels_out.models import Connection, Message
    from portal.tenants.models import Company
    from portal.tenants.services import company_create
    from tests.channels_out.fake_vendor import TOKEN, running

    company = Company.objects.filter(name="Bench Fault").first() or company_create(name="Bench Fault")
    Connection.objects.filter(company=company).update(enabled=False)
    with running() as vendor:
        vendor.keep_bodies = False
        services.connection_save(
            company=company, actor=None,
            connection=Connection(
                company=company, name=f"Fake {time.time_ns()}", adapter_key="cpaas", channels=["sms"],
                sender_ids=["FAULT"],
                config={"base_url": vendor.url + "/api/v2/", "api_token": TOKEN,
                        "webhook_secret": "fault-secret-0123456789", "service": "ENT"},
            ),
        )  # fmt: skip
        items = [
            services.OutgoingItem("sms", "FAULT", f"+3461{i:07d}", {"text": f"Fault test {i}"})
            for i in range(args.messages)
        ]
        started = time.perf_counter()
        messages = services.message_send_batch(company=company, actor=None, origin="broadcast", items=items)
        ids = [m.pk for m in messages]
        worker = _worker()
        kill_at = int(args.messages * args.kill_at)
        while len(vendor.accepted) < kill_at:
            if worker.poll() is not None:
                raise SystemExit("the worker died on its own")
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        killed_at = len(vendor.accepted)
        print(
            f"kill -9 of the worker after {killed_at} accepted messages ({time.perf_counter() - started:.1f} s)"
        )
        worker = _worker()
        try:
            pending = Message.objects.filter(pk__in=ids, status="queued")
            deadline = time.monotonic() + 900
            last_sweep = 0.0
            while pending.exists():
                if time.monotonic() > deadline:
                    raise SystemExit("messages still queued after 15 minutes")
                if time.monotonic() - last_sweep > 2:  # the beat's upkeep job
                    services.outbox_sweep()
                    last_sweep = time.monotonic()
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
        finally:
            worker.terminate()
            worker.wait(timeout=30)

        rows = dict(Message.objects.filter(pk__in=ids).values_list("client_reference", "vendor_message_id"))
        statuses = set(Message.objects.filter(pk__in=ids).values_list("status", flat=True))
        tries = sum(vendor.requests.values())
        print(
            f"messages: {args.messages}, all submitted in {elapsed:.1f} s ({args.messages / elapsed:.0f} msg/s)"
        )
        print(f"vendor: {len(vendor.accepted)} references accepted, {vendor.duplicates} accepted twice")
        print(
            f"vendor: {tries} submit requests in total, {tries - len(vendor.accepted)} repeats recognised by reference"
        )
        matching = sum(1 for ref, vid in rows.items() if vendor.accepted.get(ref) == vid)
        print(
            f"portal rows whose vendor id is the vendor's: {matching} / {len(rows)}; statuses: {sorted(statuses)}"
        )
        ok = (
            len(vendor.accepted) == args.messages
            and vendor.duplicates == 0
            and set(vendor.accept_counts.values()) == {1}
            and matching == args.messages
            and statuses == {"submitted"}
        )
        print("exactly once: " + ("YES" if ok else "NO"))
        if not ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
