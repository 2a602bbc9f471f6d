"""Benchmark: end-to-end simulated run of N recipients through a 2-step chain SMS → Viber (issue 7 "Measured").

30 % of the numbers are scripted in the simulator to come back undelivered on SMS (a definite failure, so the
engine falls back to Viber at once); every other report is "delivered". One process plays one worker: Celery runs
eagerly, so the fan-out, the engine's batches, the channel layer's submits, the simulator's callbacks and the
status subscriber all run here, one after the other, as one worker would run them. It prints messages per second
for the whole run and then proves "never twice": no (recipient, step) has two attempts, no message client
reference repeats, and the channel layer accepted as many messages as there are sent attempts.

Baseline (same process, same run): a bare ``message_send_batch`` of the same number of SMS messages straight into the
channel layer (no engine), to show the engine's overhead per message.

Reading the figures: with eager Celery every simulator report is its own callback-store + apply task, run in
line, so both numbers are dominated by the channel layer's per-report path on one process (10,000 recipients on
the development machine, 22.11.2026: 13,000 messages in 230.7 s = 56 messages/s end to end; the bare channel layer
98 messages/s; engine cost per message 1.73x; never twice: 0 duplicate (recipient, step), 0 repeated client
references). Messages/s per real worker with a broker and batched report application is not measured here.

Run: .venv/bin/python bench/bench_broadcast_e2e.py [--rows 10000]
It uses its own database (portal_bench_bc_e2e) and Redis databases 10/9 (override with REDIS_URL / CELERY_BROKER_URL).
"""

from __future__ import annotations

import argparse
import os
import time

from benchsetup import bench_django, bench_env

bench_env("portal_bench_bc_e2e")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    bench_django("portal_bench_bc_e2e")
    from django.db.models import Count

    from broadcasts import engine, services
    from broadcasts.models import Broadcast, BroadcastAttempt, BroadcastRecipient
    from broadcasts.services import BroadcastData, StepData
    from channels_out.models import Message, SimulatorRule
    from channels_out.services import (
        OutgoingItem,
        message_send_batch,
        simulated_reports_deliver,
        simulator_connection_create,
    )
    from portal.tenants.services import company_create

    company = company_create(name=f"Bench e2e {time.time():.0f}")
    simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])
    # Numbers +491511… (30 %) fail on SMS; everything else is delivered at once.
    SimulatorRule.objects.create(
        company=company,
        order=1,
        pattern="+491511*",
        channel="sms",
        report="undelivered",
        report_delay_seconds=0,
    )
    SimulatorRule.objects.create(
        company=company, order=2, pattern="*", report="delivered", report_delay_seconds=0
    )
    failing = int(args.rows * 0.3)
    numbers = [f"+491511{i:07d}" for i in range(failing)] + [
        f"+491518{i:07d}" for i in range(args.rows - failing)
    ]
    steps = [
        StepData("sms", "ACME", wait_value=10, wait_unit="min", text="Hello from the bench"),
        StepData("viber", "ACME", wait_value=10, wait_unit="min", text="Hello from the bench"),
    ]
    services.MAX_NUMBERS = max(services.MAX_NUMBERS, args.rows)  # typed numbers stand in for a target here

    started = time.perf_counter()
    run = services.broadcast_save(
        company=company,
        actor=None,
        data=BroadcastData(name="Bench e2e", numbers=numbers, steps=steps),
        action="launch",
    )
    rounds = 0
    while True:
        run.refresh_from_db()
        if run.status != Broadcast.Status.IN_PROGRESS:
            break
        rounds += 1
        while simulated_reports_deliver(limit=5000):
            pass
        engine.broadcast_advance(company_id=company.pk, broadcast_id=run.pk)
        if rounds > 10_000:
            raise SystemExit("the run did not finish")
    elapsed = time.perf_counter() - started
    messages = Message.objects.filter(company=company, origin=Message.Origin.BROADCAST).count()
    outcome = dict(
        BroadcastRecipient.objects.filter(broadcast=run)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    twice = (
        BroadcastAttempt.objects.filter(broadcast=run)
        .values("recipient_id", "step_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    sent_attempts = BroadcastAttempt.objects.filter(broadcast=run, message__isnull=False).count()
    repeated_refs = (
        Message.objects.filter(company=company, origin=Message.Origin.BROADCAST)
        .values("client_reference")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    print(f"recipients: {args.rows:,} (30 % scripted to fail on SMS), status {run.status}, rounds {rounds}")
    print(f"outcome: {outcome}")
    print(
        f"messages: {messages:,} (SMS {args.rows:,} + Viber {failing:,} expected = {args.rows + failing:,})"
    )
    print(f"end to end: {elapsed:.1f} s, {messages / elapsed:,.0f} messages/s on one worker process")
    print(f"never twice: attempts per (recipient, step) > 1: {twice}; repeated client references: {repeated_refs}; "
          f"sent attempts {sent_attempts:,} = messages {messages:,}: {sent_attempts == messages}")  # fmt: skip
    ok = (
        twice == 0
        and repeated_refs == 0
        and sent_attempts == messages == args.rows + failing
        and outcome.get("successful") == args.rows
    )

    # Baseline: the channel layer alone, same count of SMS, same process.
    items = [
        OutgoingItem(
            channel="sms", sender_id="ACME", to=n, payload={"text": "baseline"}, client_reference=f"base-{n}"
        )
        for n in numbers
    ]
    started = time.perf_counter()
    for i in range(0, len(items), engine.BATCH_SIZE):
        message_send_batch(
            company=company, actor=None, origin=Message.Origin.API, items=items[i : i + engine.BATCH_SIZE]
        )
    while simulated_reports_deliver(limit=5000):
        pass
    baseline = time.perf_counter() - started
    print(
        f"baseline (channel layer only, {len(items):,} SMS): {baseline:.1f} s, {len(items) / baseline:,.0f} messages/s"
    )
    print(f"engine cost per message vs baseline: {(elapsed / messages) / (baseline / len(items)):.2f}x")
    if not ok:
        raise SystemExit("FAILED: a recipient got a step twice, or counts do not match")


if __name__ == "__main__":
    main()
