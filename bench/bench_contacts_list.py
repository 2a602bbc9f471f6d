"""Benchmark: the contacts list at a million contacts with a filter on a custom attribute (issue 6, guide §8.1).

Measures, through the real list engine and the company's spec:
- page 1 and a page about 100,000 rows deep (keyset cursor) with a filter on a list attribute (GIN containment);
- the same deep page cut with OFFSET (baseline in the same run);
- page 1 sorted by a number attribute (per-slot expression index) and a target count over the whole company,
  both also before the per-slot indexes exist (they are built on demand, ``contacts.indexes``), and the time
  the build of one of them takes.

Run: .venv/bin/python bench/bench_contacts_list.py [--rows 1000000]
It uses its own database (portal_bench), loads contacts with COPY, and prints the timings and their ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable

from benchsetup import bench_django

CITIES = ["Madrid", "Paris", "Berlin", "Rome", "Lisbon"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    bench_django("portal_bench")
    from django.db import connection

    from contacts import services
    from contacts.indexes import slot_index_ensure, slot_index_name
    from contacts.models import Contact, ContactAttribute
    from contacts.selectors import contact_list, contact_spec, target_count
    from portal.core.listing import COUNT_CAP, _encode, list_page
    from portal.tenants.models import Company
    from portal.tenants.services import company_create

    company = Company.objects.filter(name="Bench Contacts").first() or company_create(name="Bench Contacts")
    other = Company.objects.filter(name="Bench Contacts Other").first() or company_create(
        name="Bench Contacts Other"
    )
    attrs = {a.name: a for a in ContactAttribute.objects.filter(company=company)}
    if "City" not in attrs:
        attrs["City"] = services.attribute_create(
            company=company, actor=None, name="City", type="list", options=CITIES
        )
        attrs["Age"] = services.attribute_create(company=company, actor=None, name="Age", type="number")
    city, age = attrs["City"], attrs["Age"]
    have = Contact.objects.filter(company=company).count()
    if have < args.rows:
        started = time.perf_counter()
        rng = random.Random(6)
        with (
            connection.cursor() as cursor,
            cursor.connection.cursor().copy(
                "COPY contacts_contact (company_id, uuid, phone, first_name, last_name, email, attributes,"
                " created_at, updated_at) FROM STDIN"
            ) as copy,
        ):
            for i in range(have, args.rows):
                attributes = {city.key: rng.choice(CITIES), age.key: rng.randint(16, 80)}
                if i % 10 == 0:
                    attributes.pop(city.key)
                copy.write_row(
                    (company.pk, uuid.uuid4(), f"+1201{i:07d}", f"Name{i % 977}", f"Surname{i % 991}", "",
                     json.dumps(attributes), "2026-01-01 00:00:00+00", "2026-01-01 00:00:00+00")
                )  # fmt: skip
            for i in range(args.rows // 10):  # a neighbour tenant shares the table
                copy.write_row(
                    (other.pk, uuid.uuid4(), f"+1202{i:07d}", "", "", "", "{}",
                     "2026-01-01 00:00:00+00", "2026-01-01 00:00:00+00")
                )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE contacts_contact SET created_at = created_at + (id || ' seconds')::interval "
                "WHERE created_at = '2026-01-01 00:00:00+00'"
            )
            cursor.execute("VACUUM ANALYZE contacts_contact")
        print(f"loaded contacts with COPY in {time.perf_counter() - started:.1f}s")

    spec = contact_spec(company=company)
    qs = contact_list(company=company)
    params = {"filter": city.key, "mode": "value", "q": "Madrid"}
    matching = Contact.objects.filter(company=company, attributes__contains={city.key: "Madrid"})
    depth = min(100_000, matching.count() - spec.page_size)
    anchor = matching.order_by("-created_at", "-id").values_list("created_at", "id")[depth]
    deep = {**params, "after": _encode(anchor[0], anchor[1], depth // spec.page_size)}

    def first_page() -> None:
        list_page(qs, spec, params)

    def deep_page() -> None:
        page = list_page(qs, spec, deep)
        assert len(page.rows) == spec.page_size  # noqa: S101

    def deep_offset() -> None:
        list(
            matching.order_by("-created_at", "-id").prefetch_related("tags", "optouts")[
                depth : depth + spec.page_size
            ]
        )
        matching.order_by()[: COUNT_CAP + 1].count()  # both sides pay the same capped count

    def sorted_by_age() -> None:
        list_page(qs, spec, {"sort": f"-{age.key}"})

    def target() -> None:
        target_count(
            company=company,
            filters=[{"key": city.key, "mode": "value", "q": "Madrid"},
                     {"key": age.key, "mode": "range", "from": "18", "to": "25"}],
            spec=spec,
        )  # fmt: skip

    def timeit(fn: Callable[[], None]) -> float:
        fn()
        samples = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1000

    # The per-slot indexes are built on demand (contacts.indexes): first the sort as a large company meets it
    # before its index exists, then the build the list page queues, then everything with the indexes.
    with connection.cursor() as cursor:
        for attribute in (city, age):
            cursor.execute(f'DROP INDEX IF EXISTS "{slot_index_name(attribute.slot)}"')
    no_index_sort_ms, no_index_target_ms = timeit(sorted_by_age), timeit(target)
    started = time.perf_counter()
    slot_index_ensure(age.slot)
    build_s = time.perf_counter() - started
    slot_index_ensure(city.slot)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    first_ms, deep_ms, offset_ms = timeit(first_page), timeit(deep_page), timeit(deep_offset)
    sort_ms, target_ms = timeit(sorted_by_age), timeit(target)
    total = Contact.objects.filter(company=company).count()
    print(
        f"company contacts: {total:,}  page size: {spec.page_size}  filter: City = Madrid, depth row {depth:,}"
    )
    print(f"page 1, filter on attribute (keyset + capped count): {first_ms:8.1f} ms")
    print(f"deep page, keyset (ours):                            {deep_ms:8.1f} ms")
    print(f"deep page, OFFSET (baseline):                        {offset_ms:8.1f} ms")
    print(f"deep / first (target <= 1.5):                        {deep_ms / first_ms:8.2f}")
    print(f"ratio baseline/ours at depth:                        {offset_ms / deep_ms:8.1f}x")
    print(f"page 1 sorted by Age (slot index):                   {sort_ms:8.1f} ms")
    print(f"  before its on-demand index is built:               {no_index_sort_ms:8.1f} ms")
    print(f"  building that index (CONCURRENTLY):                {build_s * 1000:8.0f} ms")
    print(f"target count City=Madrid & Age 18-25 (target < 1 s): {target_ms:8.1f} ms")
    print(f"  without the slot indexes:                          {no_index_target_ms:8.1f} ms")


if __name__ == "__main__":
    main()
