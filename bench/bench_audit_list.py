"""Benchmark: a deep page of the audit list at a million rows, keyset (ours) against OFFSET (baseline).

Run: .venv/bin/python bench/bench_audit_list.py [--rows 1000000]
It uses its own database (portal_bench), loads rows with COPY, and prints the timings and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchsetup import bench_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    bench_django("portal_bench")
    from django.db import connection

    from portal.audit.models import AuditEntry
    from portal.audit.views import AUDIT_LIST
    from portal.core.listing import COUNT_CAP, list_page
    from portal.tenants.models import Company
    from portal.tenants.services import company_create

    company = Company.objects.filter(name="Bench Co").first() or company_create(name="Bench Co")
    other = Company.objects.filter(name="Bench Other").first() or company_create(name="Bench Other")
    have = AuditEntry.objects.count()
    if have < args.rows:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            raw = cursor.connection
            with raw.cursor().copy(
                "COPY audit_auditentry (company_id, actor_login, ip, action, target_type, target_id, uuid,"
                " created_at, updated_at) FROM STDIN"
            ) as copy:
                for i in range(args.rows - have):
                    company_id = company.pk if i % 10 else other.pk  # a neighbour tenant shares the table
                    copy.write_row(
                        (company_id, f"user{i % 97}", "10.0.0.1", "auth.logged_in", "", str(i),
                         f"{have + i:032x}", "2026-01-01 00:00:00+00", "2026-01-01 00:00:00+00")
                    )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_auditentry SET created_at = created_at + (id || ' seconds')::interval "
                "WHERE created_at = '2026-01-01 00:00:00+00'"
            )
            cursor.execute("ANALYZE audit_auditentry")
        print(f"loaded {args.rows - have} rows with COPY in {time.perf_counter() - started:.1f}s")
    qs = AuditEntry.objects.filter(company=company)
    total = qs.count()
    depth = total // 2
    page_size = AUDIT_LIST.page_size

    # A cursor at half depth, as a user who paged that far would hold it.
    anchor = qs.order_by("-created_at", "-id").values_list("created_at", "id")[depth]

    def keyset() -> None:
        from portal.core.listing import _encode

        list_page(qs, AUDIT_LIST, {"after": _encode(anchor[0], anchor[1], depth // page_size)})

    def offset() -> None:
        list(qs.order_by("-created_at", "-id")[depth : depth + page_size])
        qs[: COUNT_CAP + 1].count()  # both sides pay the same capped count

    def first_page() -> None:
        list_page(qs, AUDIT_LIST, {})

    def timeit(fn) -> float:  # type: ignore[no-untyped-def]
        fn()
        samples = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1000

    first_ms, keyset_ms, offset_ms = timeit(first_page), timeit(keyset), timeit(offset)
    print(f"company rows: {total:,}  page size: {page_size}  depth: row {depth:,}")
    print(f"first page (keyset + capped count): {first_ms:8.1f} ms")
    print(f"deep page, keyset (ours):           {keyset_ms:8.1f} ms")
    print(f"deep page, OFFSET (baseline):       {offset_ms:8.1f} ms")
    print(f"ratio baseline/ours:                {offset_ms / keyset_ms:8.1f}x")


if __name__ == "__main__":
    main()
