"""Benchmark: launch of a broadcast to N recipients (issue 7 "Measured", guide §6.6).

Measures the time from "fan-out starts" until every BroadcastRecipient row exists, through the real
``broadcasts.engine.broadcast_fan_out`` (a tag over N contacts plus a target over the same contacts, merged on the
number), against a raw ``COPY`` of the same N rows into the same table in the same run (target: at most 3x), and the
process's peak memory (target ≤ 300 MB).

Run: .venv/bin/python bench/bench_broadcast_launch.py [--rows 100000]
It uses its own database (portal_bench_bc), loads contacts with COPY and prints the timings and their ratio.
The contacts stay for the next run: on a first run the peak memory includes building them, so read it on a second.

Figures (23.11.2026, 2-core machine, load 1.2-1.9): 1,000,000 recipients: fan-out 29.2 s vs raw COPY 26.5 s = 1.10x
(target ≤ 3x); peak memory of the process after the fan-out 102 MB (target ≤ 300 MB).
"""

from __future__ import annotations

import argparse
import io
import resource
import time
import uuid

from benchsetup import bench_django, bench_env

bench_env("portal_bench_bc")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    bench_django("portal_bench_bc")
    from django.db import connection, transaction
    from django.utils import timezone

    from broadcasts import engine, services, tasks
    from broadcasts.models import Broadcast, BroadcastRecipient
    from broadcasts.services import BroadcastData, StepData
    from contacts.models import Contact, ContactTag, Tag
    from contacts.services import target_create
    from portal.tenants.models import Company
    from portal.tenants.services import company_create

    name = f"Bench Broadcasts {args.rows}"
    company = Company.objects.filter(name=name).first() or company_create(name=name)
    tag, _created = Tag.objects.get_or_create(company=company, name="bench")
    have = Contact.objects.filter(company=company).count()
    if have < args.rows:
        started = time.perf_counter()
        now = timezone.now().isoformat()
        buf = io.StringIO()
        for i in range(have, args.rows):
            buf.write(f"{now}\t{now}\t{company.pk}\t{uuid.uuid4()}\t+1201{i:07d}\tBench\t\t\t{{}}\n")
        buf.seek(0)
        with connection.cursor() as cursor:
            with cursor.copy(
                f"COPY {Contact._meta.db_table} (created_at, updated_at, company_id, uuid, phone, first_name, "
                "last_name, email, attributes) FROM STDIN"
            ) as copy:
                copy.write(buf.read())
            cursor.execute(
                f"INSERT INTO {ContactTag._meta.db_table} (created_at, updated_at, company_id, contact_id, tag_id) "  # noqa: S608
                f"SELECT now(), now(), company_id, id, %s FROM {Contact._meta.db_table} c WHERE company_id = %s "
                f"AND NOT EXISTS (SELECT 1 FROM {ContactTag._meta.db_table} t WHERE t.contact_id = c.id)",
                [tag.pk, company.pk],
            )
            cursor.execute("ANALYZE")
        print(f"loaded {args.rows - have} contacts in {time.perf_counter() - started:.1f} s")
    target = target_create(
        company=company,
        actor=None,
        name=f"bench {time.time()}",
        filters=[{"key": "first_name", "mode": "value", "q": "Bench"}],
    )
    # Never start the engine here: only the fan-out is measured.
    tasks.broadcast_advance_task.delay = lambda *a, **k: None  # type: ignore[method-assign,assignment]

    def fresh_run() -> Broadcast:
        run = services.broadcast_save(
            company=company,
            actor=None,
            data=BroadcastData(
                name="Bench", target_ids=[target.pk], tag_ids=[tag.pk], steps=[StepData("sms", "B", text="x")]
            ),
            action="draft",
        )
        Broadcast.objects.filter(pk=run.pk).update(
            status=Broadcast.Status.IN_PROGRESS, launched_at=timezone.now()
        )
        return run

    run = fresh_run()
    started = time.perf_counter()
    added = engine.broadcast_fan_out(company_id=company.pk, broadcast_id=run.pk)
    fan_out = time.perf_counter() - started
    fan_out_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if added != args.rows or BroadcastRecipient.objects.filter(broadcast=run).count() != args.rows:
        raise SystemExit(f"fan-out created {added} rows, expected {args.rows}")

    # Baseline: the same rows, already in memory, written with COPY into the same table and indexes.
    baseline_run = fresh_run()
    now = timezone.now().isoformat()
    rows = list(Contact.objects.filter(company=company).order_by("id").values_list("id", "phone"))
    payload = "".join(
        f"{now}\t{now}\t{company.pk}\t{baseline_run.pk}\t{cid}\t{phone}\tnot_initiated\t0\t{now}\t\n"
        for cid, phone in rows
    )
    started = time.perf_counter()
    copy_sql = (
        f"COPY {BroadcastRecipient._meta.db_table} (created_at, updated_at, company_id, broadcast_id, contact_id, "
        "address, state, step_order, next_check_at, reason) FROM STDIN"
    )
    with transaction.atomic(), connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        copy.write(payload)
    raw_copy = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"recipients: {args.rows:,}")
    print(
        f"fan-out (INSERT … SELECT, target ∪ tag merged): {fan_out:.2f} s ({args.rows / fan_out:,.0f} rows/s)"
    )
    print(f"raw COPY of the same rows: {raw_copy:.2f} s ({args.rows / raw_copy:,.0f} rows/s)")
    print(f"ratio fan-out / COPY: {fan_out / raw_copy:.2f}x (target ≤ 3x)")
    print(
        f"peak memory after the fan-out (before the baseline; includes a contact load done in this run): {fan_out_peak_mb:.0f} MB"
    )
    print(f"peak memory of this process (includes the baseline's in-memory rows): {peak_mb:.0f} MB")
    # Leave the database as it was for the next run (the contacts stay).
    BroadcastRecipient.objects.filter(broadcast__in=[run, baseline_run]).delete()
    Broadcast.objects.filter(pk__in=[run.pk, baseline_run.pk]).delete()


if __name__ == "__main__":
    main()
