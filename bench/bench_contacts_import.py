"""Benchmark: importing contacts from CSV and XLSX (issue 6 "Measured", guide §8.2).

Measures, through the real services (``contacts.services.imports``) on a fresh company:
- the CSV import of N rows (phone, name and 5 attributes: text, number, date, yes/no, list), rows per second as a
  ratio to a loop that only normalises the same numbers with phonenumbers on one core, in the same run;
- the XLSX import of the same rows, as a ratio to the bare python-calamine reader iterating the same file;
- the dry run (preview) of each file, and the peak memory (RSS) of the import: the process plus its pool workers.

Run: .venv/bin/python bench/bench_contacts_import.py [--rows 1000000] [--skip-xlsx]
It uses its own database (portal_bench_ct by default); each import runs in a child process so that its peak
memory is its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DB_NAME", "portal_bench_ct")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"

HEADER = ["phoneNumber", "Name", "City", "Age", "Birthday", "VIP", "Level"]
CITIES = ["Madrid", "Paris", "Berlin", "Rome", "Lisbon", "Oslo"]
AREAS = ["201", "212", "305", "415", "617", "702", "808", "917"]


def _rows(count: int) -> list[list[str]]:
    rng = random.Random(42)
    phones: set[str] = set()
    while len(phones) < count:
        phones.add(f"+1{rng.choice(AREAS)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}")
    return [
        [
            phone,
            f"Name {i}",
            rng.choice(CITIES),
            str(rng.randint(18, 90)),
            f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1940, 2005)}",
            rng.choice(["yes", "no"]),
            rng.choice(["gold", "silver", "bronze"]),
        ]
        for i, phone in enumerate(sorted(phones))
    ]


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def child(path: str, fmt: str) -> None:
    """One import in this process: upload, first row, mapping + dry run, then the import job."""
    import django

    django.setup()
    from django.core.files import File

    from contacts import services
    from contacts.models import Contact, ContactImport
    from contacts.services import imports
    from portal.tenants.services import company_create

    company = company_create(name=f"Bench import {time.time_ns()}")
    attrs = {
        "City": services.attribute_create(company=company, actor=None, name="City", type="text"),
        "Age": services.attribute_create(company=company, actor=None, name="Age", type="number"),
        "Birthday": services.attribute_create(company=company, actor=None, name="Birthday", type="date"),
        "VIP": services.attribute_create(company=company, actor=None, name="VIP", type="bool"),
        "Level": services.attribute_create(
            company=company, actor=None, name="Level", type="list", options=["gold", "silver", "bronze"]
        ),
    }
    mapping = {
        0: "phone",
        1: "first_name",
        **{i: attrs[name].key for i, name in enumerate(HEADER) if name in attrs},
    }
    with open(path, "rb") as handle:
        contact_import = imports.import_upload(
            company=company, actor=None, file=File(handle), name=f"bench.{fmt}"
        )
    imports.import_first_row_set(company=company, actor=None, contact_import=contact_import, first_row=2)
    started = time.perf_counter()
    imports.import_mapping_set(company=company, actor=None, contact_import=contact_import, mapping=mapping)
    check = time.perf_counter() - started
    contact_import.refresh_from_db()
    if contact_import.status != ContactImport.Status.PREVIEWED:
        raise SystemExit(f"dry run: {contact_import.status} {contact_import.error}")
    started = time.perf_counter()
    imports.import_run_start(company=company, actor=None, contact_import=contact_import)
    apply = time.perf_counter() - started
    contact_import.refresh_from_db()
    if contact_import.status != ContactImport.Status.IMPORTED:
        raise SystemExit(f"import: {contact_import.status} {contact_import.error}")
    count = Contact.objects.filter(company=company).count()
    print(
        json.dumps(
            {
                "check_s": check,
                "import_s": apply,
                "imported": contact_import.imported,
                "rejected": contact_import.rejected,
                "contacts": count,
                "peak_mb": _peak_mb(),
            }
        )
    )


def _run_child(path: str, fmt: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", path, "--format", fmt],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    if result.returncode:
        raise SystemExit(f"the {fmt} import failed:\n{result.stderr[-3000:]}")
    data: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-xlsx", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--format", default="csv")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.format)
        return

    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
         f"create database {os.environ['DB_NAME']} owner portal"],
        capture_output=True, check=False,
    )  # fmt: skip
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import phonenumbers

    rows = _rows(args.rows)
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    csv_path = workdir / "contacts.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    phones = [r[0] for r in rows]
    n = len(rows)
    print(f"rows: {n:,}  (phone, name and 5 attributes; CSV {csv_path.stat().st_size / 1e6:.1f} MB)")

    # Baseline: phonenumbers only, one core, the same numbers (parse + validate + format, as contacts.values).
    started = time.perf_counter()
    for phone in phones:
        number = phonenumbers.parse(phone, "US")
        phonenumbers.is_valid_number(number)
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    baseline_s = time.perf_counter() - started
    baseline = n / baseline_s
    print(f"baseline  phonenumbers on one core: {baseline:,.0f} numbers/s ({baseline_s:.1f} s)")

    result = _run_child(str(csv_path), "csv")
    if result["contacts"] != n:
        raise SystemExit(f"expected {n} contacts: {result}")
    rate = n / result["import_s"]
    print(
        f"CSV  import: {result['import_s']:.1f} s = {rate:,.0f} rows/s, ratio {rate / baseline:.2f} "
        f"(target >= 0.7, <= 45 s for 1M); dry run {result['check_s']:.1f} s; "
        f"peak memory {result['peak_mb']:.0f} MB (target <= 512)"
    )
    if args.skip_xlsx:
        return
    from openpyxl import Workbook  # type: ignore[import-untyped]

    xlsx_path = workdir / "contacts.xlsx"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(xlsx_path)
    del rows, phones
    import python_calamine

    started = time.perf_counter()
    with open(xlsx_path, "rb") as handle:
        book = python_calamine.CalamineWorkbook.from_filelike(handle)
        read = sum(1 for _row in book.get_sheet_by_index(0).iter_rows())
    bare_s = time.perf_counter() - started
    bare = read / bare_s
    print(f"bare calamine reader: {bare:,.0f} rows/s ({bare_s:.1f} s)")
    result = _run_child(str(xlsx_path), "xlsx")
    if result["contacts"] != n:
        raise SystemExit(f"expected {n} contacts: {result}")
    rate = n / result["import_s"]
    print(
        f"XLSX import: {result['import_s']:.1f} s = {rate:,.0f} rows/s, ratio {rate / bare:.2f} to the bare "
        f"reader (target >= 0.6), {rate / baseline:.2f} to the phonenumbers loop; dry run "
        f"{result['check_s']:.1f} s; peak memory {result['peak_mb']:.0f} MB (target <= 512)"
    )


if __name__ == "__main__":
    main()
