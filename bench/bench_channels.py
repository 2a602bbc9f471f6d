"""Benchmark of the channel layer (issue 5 "Measured"), each figure against a baseline of the same run.

1. Submit throughput through the simulator by ONE Celery worker process (solo pool), as a ratio to no-op Celery
   tasks (``realtime.core.ping``) run by the same worker: target >= 0.3. Messages go one task per batch.
2. Delivery reports applied per second by one worker process (``delivery_events_apply``: stored callbacks
   applied in batches), as a ratio to the same number of reports applied one transaction per report.

Run: .venv/bin/python bench/bench_channels.py [--messages 5000] [--noop 2000] [--reports 5000]
It uses its own database (portal_bench) and Redis databases 12/13.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from benchsetup import bench_django

BROKER = "redis://127.0.0.1:6379/12"
CACHE = "redis://127.0.0.1:6379/13"
os.environ["CELERY_BROKER_URL"] = os.environ["CELERY_RESULT_BACKEND"] = BROKER
os.environ["REDIS_URL"] = CACHE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--noop", type=int, default=2000)
    parser.add_argument("--reports", type=int, default=5000)
    args = parser.parse_args()

    bench_django("portal_bench")
    import redis
    from django.db import transaction
    from django.utils import timezone

    redis.Redis.from_url(BROKER).flushdb()
    redis.Redis.from_url(CACHE).flushdb()

    from channels_out import services
    from channels_out.models import CallbackPayload, Message, SimulatorRule
    from channels_out.services.reports import _apply_batch
    from portal.core.tasks import ping_task
    from portal.tenants.models import Company
    from portal.tenants.services import company_create
    from tests.worker import celery_worker

    company = Company.objects.filter(name="Bench Channels").first() or company_create(name="Bench Channels")
    Message.objects.filter(company=company).delete()
    # Every waiting raw report of the database, not only ours: the apply phase below drains them all.
    CallbackPayload.objects.filter(state=CallbackPayload.State.RECEIVED).delete()
    CallbackPayload.objects.filter(company=company).delete()
    connection = services.simulator_connection_create(
        company=company, actor=None, name=f"Sim {time.time_ns()}", sender_ids=["BENCH"]
    )
    SimulatorRule.objects.filter(company=company).delete()
    SimulatorRule.objects.create(company=company, report="none")  # submit only: reports are measured below

    with celery_worker(broker_url=BROKER, cache_url=CACHE, queues="realtime,bulk"):
        ping_task.delay().get(timeout=30)  # warm up
        started = time.perf_counter()
        results = [ping_task.delay() for _ in range(args.noop)]
        results[-1].get(timeout=600)
        noop_rate = args.noop / (time.perf_counter() - started)

        items = [
            services.OutgoingItem("sms", "BENCH", f"+3461{i:07d}", {"text": f"Bench {i}"})
            for i in range(args.messages)
        ]
        started = time.perf_counter()
        services.message_send_batch(company=company, actor=None, origin="broadcast", items=items)
        pending = Message.objects.filter(company=company, status="queued")
        while pending.exists():
            time.sleep(0.05)
            if time.perf_counter() - started > 900:
                raise SystemExit("submit did not finish in 15 minutes")
        submit_rate = args.messages / (time.perf_counter() - started)
    submitted = Message.objects.filter(company=company, status="submitted").count()

    # Reports: one stored callback per message, then applied by this process as one worker would.
    adapter = services.adapter_for(connection)
    vendor_ids = list(
        Message.objects.filter(company=company, status="submitted").values_list(
            "vendor_message_id", flat=True
        )[: args.reports]
    )
    now = timezone.now().isoformat()

    def store(ids: list[str]) -> None:
        with transaction.atomic():
            for vid in ids:
                body = json.dumps(
                    {"events": [{"type": "status", "id": vid, "status": "delivered", "at": now}]}
                )
                cb = adapter.callback(0, json.loads(body)["events"])  # type: ignore[attr-defined]
                services.callback_store(connection=connection, body=cb.body, headers=cb.headers)

    half = len(vendor_ids) // 2
    store(vendor_ids[:half])
    started = time.perf_counter()
    while _apply_batch(1):  # baseline: one transaction per report
        pass
    single_rate = half / (time.perf_counter() - started)
    store(vendor_ids[half:])
    started = time.perf_counter()
    applied = services.delivery_events_apply()
    batch_rate = applied / (time.perf_counter() - started)

    print(f"no-op Celery tasks, 1 worker process:      {noop_rate:9.0f} tasks/s")
    print(
        f"submit through the simulator, 1 worker:     {submit_rate:9.0f} messages/s ({submitted} submitted)"
    )
    print(f"ratio submit / no-op:                       {submit_rate / noop_rate:9.2f}  (target >= 0.3)")
    print(f"reports applied, one transaction each:      {single_rate:9.0f} reports/s")
    print(f"reports applied in batches (ours):          {batch_rate:9.0f} reports/s")
    print(f"ratio batched / one-by-one:                 {batch_rate / single_rate:9.2f}x")


if __name__ == "__main__":
    main()
