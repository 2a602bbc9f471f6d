"""Benchmark: importing contacts from CSV and XLSX (issue 6 "Measured", guide §8.2).

Measures, through the real services (``contacts.services.imports``) on a fresh company:
- the CSV import of N rows (phone, name and 5 attributes: text, number, date, yes/no, list), rows per second as a
  ratio to a loop that only normalises the same numbers with phonenumbers on one core, in the same run;
- the XLSX import of the same rows, as a ratio to the bare python-calamine reader iterating the same file;
- the dry run (preview) of each file, and the peak memory of the import's process tree (the process and its
  checking workers): the largest sum of their proportional set sizes (Pss), sampled from /proc every 100 ms.

Run: .venv/bin/python bench/bench_contacts_import.py [--rows 1000000] [--skip-xlsx] [--repeat 3]
[--with-slot-indexes] (the per-slot sort indexes are built on demand, ``contacts.indexes``, and absent by
default; the last option measures the import when all five attributes' indexes exist)
It uses its own database (portal_bench_ct by default); each import runs in a child process so that its peak
memory is its own, and the child deletes its company's contacts afterwards so that every run meets the same table
(the contacts of earlier companies stay as other tenants' rows). With --repeat, times are medians. The files are
kept in the temporary directory (same seed, same content) and reused by the next run with the same --rows.

Each import also prints the CPU seconds of the job's process, of its checking processes and of its database
backend (read from /proc: the server runs on this machine), which show where the time goes.

Figures: README's Contacts section. Session 4 (slot indexes on demand, precompiled phone validation, collector
thread): CSV 1M rows 41.1 s, ratio 0.83 to a 29.5k/s loop, dry run 14.2 s, 184 MB; XLSX 1M rows 48.8 s, 0.17 of
calamine (123k rows/s), 0.52 of the streaming reader (39.7k rows/s), 0.69 of the loop, dry run 35.5 s, 183 MB.
Session 3: CSV 68.1 s, ratio 0.33 to a 44.7k/s loop; XLSX 74.3 s, 0.08 of calamine, 0.28 of the streaming reader.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
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


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of this process, of its ended children (the checking workers) and of its database backend."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    with open(f"/proc/{backend}/stat") as handle:  # the server runs on this machine
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "own": own.ru_utime + own.ru_stime,
        "workers": workers.ru_utime + workers.ru_stime,
        "db": (int(fields[11]) + int(fields[12])) / ticks,
    }


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
    # The per-slot sort indexes are built on demand (contacts.indexes): absent unless some large company sorts or
    # range-filters by an attribute in that slot. --with-slot-indexes measures the import when all five exist.
    from django.db import connection as db

    from contacts.indexes import slot_index_ensure, slot_index_name

    with db.cursor() as cursor:
        for attribute in attrs.values():
            if os.environ.get("BENCH_WITH_SLOT_INDEXES"):
                slot_index_ensure(attribute.slot)
            else:
                cursor.execute(f'DROP INDEX IF EXISTS "{slot_index_name(attribute.slot)}"')
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
    cpu = _cpu_seconds()
    started = time.perf_counter()
    imports.import_run_start(company=company, actor=None, contact_import=contact_import)
    apply = time.perf_counter() - started
    cpu = {key: value - cpu[key] for key, value in _cpu_seconds().items()}
    contact_import.refresh_from_db()
    if contact_import.status != ContactImport.Status.IMPORTED:
        raise SystemExit(f"import: {contact_import.status} {contact_import.error}")
    count = Contact.objects.filter(company=company).count()
    from django.db import connection

    with connection.cursor() as cursor:  # the next run meets the same table
        # Statistics first: the deferred foreign-key checks of the DELETE look contacts up by id, and with the
        # statistics of the empty table (autovacuum is off here) each lookup is a sequential scan (8 ms a row).
        cursor.execute("ANALYZE contacts_contact")
        cursor.execute("DELETE FROM contacts_contacttag WHERE company_id = %s", [company.pk])
        cursor.execute("DELETE FROM contacts_contact WHERE company_id = %s", [company.pk])
    print(
        json.dumps(
            {
                "check_s": check,
                "import_s": apply,
                "imported": contact_import.imported,
                "rejected": contact_import.rejected,
                "contacts": count,
                "peak_mb": _peak_mb(),
                **{f"{key}_cpu_s": round(value, 2) for key, value in cpu.items()},
            }
        )
    )


def _tree_pss_mb(root: int) -> float:
    """The proportional set sizes (Pss, /proc/PID/smaps_rollup) of ``root`` and its descendants, summed.

    Pss shares a page between the processes that map it, so forked workers do not count their parent's pages
    again, as a sum of resident sets would.
    """
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                changed = True
    total_kb = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
                        break
        except OSError:
            continue
    return total_kb / 1024


def _run_child(path: str, fmt: str) -> dict[str, float]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", path, "--format", fmt],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _tree_pss_mb(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"the {fmt} import failed:\n{stderr[-3000:]}")
    data: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    data["tree_mb"] = peak[0]
    from django.db import connection

    with connection.cursor() as cursor:  # the child deleted its contacts; clean up for the next run
        cursor.execute("VACUUM ANALYZE contacts_contact")
    return data


def _runs(path: str, fmt: str, repeat: int, n: int) -> dict[str, float]:
    """``repeat`` imports of ``path``; medians of the times, the largest peaks."""
    results = [_run_child(path, fmt) for _run in range(repeat)]
    for result in results:
        if result["contacts"] != n:
            raise SystemExit(f"expected {n} contacts: {result}")
    return {
        "import_s": statistics.median(r["import_s"] for r in results),
        "check_s": statistics.median(r["check_s"] for r in results),
        "peak_mb": max(r["peak_mb"] for r in results),
        "tree_mb": max(r["tree_mb"] for r in results),
        "all_s": [round(r["import_s"], 1) for r in results],  # type: ignore[dict-item]
    }


def _baseline(phones: list[str], repeat: int) -> float:
    """Seconds of the phonenumbers-only loop (median of ``repeat``)."""
    import phonenumbers

    times = []
    for _run in range(repeat):
        started = time.perf_counter()
        for phone in phones:
            number = phonenumbers.parse(phone, "US")
            phonenumbers.is_valid_number(number)
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _files(count: int, skip_xlsx: bool) -> tuple[list[str], Path, Path]:
    """The phones, the CSV and the XLSX of ``count`` rows, written once into the temporary directory."""
    rows = _rows(count)
    workdir = Path(tempfile.gettempdir()) / f"bench-contacts-import-{count}"
    workdir.mkdir(exist_ok=True)
    csv_path = workdir / "contacts.csv"
    xlsx_path = workdir / "contacts.xlsx"
    if not csv_path.exists():
        with open(f"{csv_path}.part", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows)
        os.replace(f"{csv_path}.part", csv_path)
    if not skip_xlsx and not xlsx_path.exists():
        from openpyxl import Workbook  # type: ignore[import-untyped]

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
        workbook.save(f"{xlsx_path}.part")
        os.replace(f"{xlsx_path}.part", xlsx_path)
    return [r[0] for r in rows], csv_path, xlsx_path


def _memory(result: dict[str, float]) -> str:
    # getrusage's figure is not shown: Linux keeps ru_maxrss across exec, so the child would report the pages it
    # shared with this (big) parent right after the fork.
    return f"peak memory {result['tree_mb']:.0f} MB for the process tree (target <= 512)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-xlsx", action="store_true")
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--with-slot-indexes",
        action="store_true",
        help="build the five attributes' per-slot sort indexes first",
    )
    parser.add_argument("--child")
    parser.add_argument("--format", default="csv")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.format)
        return
    if args.with_slot_indexes:
        os.environ["BENCH_WITH_SLOT_INDEXES"] = "1"  # read by the child processes

    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
         f"create database {os.environ['DB_NAME']} owner portal"],
        capture_output=True, check=False,
    )  # fmt: skip
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    phones, csv_path, xlsx_path = _files(args.rows, args.skip_xlsx)
    n = len(phones)
    print(
        f"rows: {n:,}  (phone, name and 5 attributes; CSV {csv_path.stat().st_size / 1e6:.1f} MB); "
        f"times are medians of {args.repeat} run(s)"
    )
    # Baseline: phonenumbers only, one core, the same numbers (parse + validate + format, as contacts.values).
    baseline_s = _baseline(phones, args.repeat)
    baseline = n / baseline_s
    print(f"baseline  phonenumbers on one core: {baseline:,.0f} numbers/s ({baseline_s:.1f} s)")
    del phones
    if not args.skip_csv:
        result = _runs(str(csv_path), "csv", args.repeat, n)
        rate = n / result["import_s"]
        print(
            f"CSV  import: {result['import_s']:.1f} s {result['all_s']} = {rate:,.0f} rows/s, ratio "
            f"{rate / baseline:.2f} (target >= 0.7, <= 45 s for 1M); dry run {result['check_s']:.1f} s; "
            + _memory(result)
        )
    if args.skip_xlsx:
        return
    import python_calamine

    times = []
    for _run in range(args.repeat):
        started = time.perf_counter()
        with open(xlsx_path, "rb") as handle:
            book = python_calamine.CalamineWorkbook.from_filelike(handle)
            read = sum(1 for _row in book.get_sheet_by_index(0).iter_rows())
        times.append(time.perf_counter() - started)
        del book
    bare_s = statistics.median(times)
    bare = read / bare_s
    print(f"bare calamine reader (whole-sheet load): {bare:,.0f} rows/s ({bare_s:.1f} s)")
    # The reader the import uses for .xlsx (contacts.xlsx, streaming), alone on one core.
    from contacts.xlsx import SheetReader

    times = []
    for _run in range(args.repeat):
        started = time.perf_counter()
        with open(xlsx_path, "rb") as handle:
            read = sum(1 for _row in SheetReader(handle).rows())
        times.append(time.perf_counter() - started)
    stream_s = statistics.median(times)
    stream = read / stream_s
    print(f"bare streaming reader (contacts.xlsx): {stream:,.0f} rows/s ({stream_s:.1f} s)")
    result = _runs(str(xlsx_path), "xlsx", args.repeat, n)
    rate = n / result["import_s"]
    print(
        f"XLSX import: {result['import_s']:.1f} s {result['all_s']} = {rate:,.0f} rows/s, ratio {rate / bare:.2f} "
        f"to the bare calamine reader (target >= 0.6), {rate / stream:.2f} to the bare streaming reader, "
        f"{rate / baseline:.2f} to the phonenumbers loop; dry run {result['check_s']:.1f} s; "
        + _memory(result)
    )


if __name__ == "__main__":
    main()
