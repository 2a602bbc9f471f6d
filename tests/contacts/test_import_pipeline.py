"""The import pipeline (contacts.services.imports_pipeline): the same results as the reference checks, faster.

* the E.164 fast path gives exactly what contacts.values.normalize_phone gives (numbers and errors);
* the compiled RowChecker writes the same COPY text as contacts.importing.parse_chunk;
* worker processes give the same chunks as in-process checking, and report a bad file or a failing worker;
* writing batch by batch keeps the import's meaning (last row of a number wins across batches, the duplicate mode
  applies to stored contacts once) and its one transaction (a failure in the middle leaves nothing behind).
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import random
import signal
import time
import uuid
from typing import Any
from unittest import mock

import phonenumbers
import pytest
from django.core.exceptions import ValidationError

from contacts import importing
from contacts.models import Contact, ContactImport, Tag
from contacts.services import imports, imports_pipeline
from contacts.services.imports_pipeline import RowChecker, checked_chunks, chunked, phone_normalize
from contacts.values import normalize_phone
from portal.tenants.models import Company
from tests.contacts.factories import make_attribute, make_contact
from tests.contacts.test_import import csv_bytes, prepare, run, xlsx_bytes

Status = ContactImport.Status


def _outcome(function: Any, raw: str, country: str) -> tuple[str, str]:
    try:
        return "ok", function(raw, country=country)
    except ValidationError as exc:
        return exc.code or "", " ".join(exc.messages)


def _numbers() -> list[str]:
    rng = random.Random(6)
    numbers = [
        "+12015550101",
        "+441134960000",
        "+4407911123456",  # a national prefix after the country code: parse() strips it
        "+390612345678",  # Italian leading zero
        "+79123456789",
        "+8613800138000",
        "+80012345678",  # non-geographic entity
        "+999123456789",  # no such country code
        "0034612345678",
        "34612345678.0",
        "+1 201 555 0101",
        "+12015550101x12",
        "+1",
        "",
    ]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(region)
        if example is not None:
            numbers.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    for country_code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for length in (4, 6, 8, 9, 10, 11, 12):
            digits = "".join(rng.choice("0123456789") for _digit in range(length))
            numbers.append(f"+{country_code}{digits}")
    return numbers


@pytest.mark.parametrize("country", ["US", "ES", "GB", "DE", ""])
def test_the_e164_fast_path_gives_what_normalize_phone_gives(country: str) -> None:
    for raw in _numbers():
        assert _outcome(phone_normalize, raw, country) == _outcome(normalize_phone, raw, country), raw


SPEC = importing.ParseSpec(
    country="US",
    mapping={0: "phone", 1: "first_name", 2: "a1", 3: "a2", 4: "a3", 5: "a4", 6: "a5", 7: "email", 8: "a6"},
    attributes={
        "a1": ("City", "text", ()),
        "a2": ("Age", "number", ()),
        "a3": ("Birthday", "date", ()),
        "a4": ("VIP", "bool", ()),
        "a5": ("Level", "list", ("Gold", "silver")),
        "a6": ("Mail", "email", ()),
    },
)


def _tricky_rows() -> list[list[Any]]:
    rng = random.Random(7)
    phones = [
        "+12015550101",
        "2015550102",
        " +12015550103 ",
        "'+12015550104",
        "bad",
        "",
        "0012015550105",
        12015550106,
    ]
    names = ["Ann", "", "  ", "'=cmd", "x" * 151, "Tab\there", "back\\slash", "new\nline", "Ünïcode"]
    cities = ["Madrid", "", " Paris ", "'@x", "y" * 1001, 'quote"d', 5, True]
    ages = ["34", "", "0034", "-5", "3,5", "1e3", "abc", "1" * 16, "٣", 41.5, 7, " 12 "]
    dates = ["01.02.1990", "31.02.2024", "1990-02-01", "2024-13-45", "", "1.2.1990", "20240101", "x",
             datetime.date(1990, 2, 1), datetime.datetime(1990, 2, 1, 10, 0, tzinfo=datetime.UTC)]  # fmt: skip
    bools = ["yes", "No", " TRUE ", "0", "y", "maybe", "", True, False, "Yes"]
    levels = ["gold", "SILVER", " Gold ", "bronze", "", "'=x"]
    emails = ["a@example.com", "", "not-an-email", " b@example.com "]
    rows: list[list[Any]] = [["", "", "", "", "", "", "", "", ""], ["  ", "", "", "", "", "", "", "", ""]]
    rows.extend(
        [rng.choice(phones), rng.choice(names), rng.choice(cities), rng.choice(ages), rng.choice(dates),
         rng.choice(bools), rng.choice(levels), rng.choice(emails), rng.choice(emails)]
        for _row in range(400)
    )  # fmt: skip
    rows.append(["+12015550107"])  # a short row
    rows.append(["", "", "", "", "", "", "", "", "only here", "unmapped"])
    return rows


@pytest.mark.parametrize("wide", [True, False])
def test_the_compiled_checker_writes_what_parse_chunk_writes(wide: bool) -> None:
    rows = _tricky_rows()
    importing.init_worker(SPEC)
    reference_text, count, blank = importing.parse_chunk([(n + 3, r) for n, r in enumerate(rows)])
    text, count2, blank2 = RowChecker(SPEC, wide=wide).check(3, rows)
    assert (count2, blank2) == (count, blank) == (len(rows), 2)
    if wide:
        assert text == reference_text
    else:  # the dry run's lines: row, phone, raw, reason
        narrow = []
        for line in reference_text.splitlines(keepends=True):
            fields = line[:-1].split("\t")
            narrow.append("\t".join([fields[0], fields[1], fields[2], fields[7]]) + "\n")
        assert text == "".join(narrow)


def test_import_lines_carry_a_new_time_ordered_id_for_each_accepted_row() -> None:
    rows = _tricky_rows()
    plain, _count, _blank = RowChecker(SPEC, wide=True).check(3, rows)
    before_ms = time.time_ns() // 1_000_000
    text, _count, _blank = RowChecker(SPEC, wide=True, ids=True).check(3, rows)
    after_ms = time.time_ns() // 1_000_000
    ids = []
    for line, reference in zip(text.splitlines(), plain.splitlines(), strict=True):
        rest, _tab, new_id = line.rpartition("\t")
        assert rest == reference
        if reference.split("\t")[7] != "\\N":  # a rejected row creates no contact
            assert new_id == "\\N"
            continue
        value = uuid.UUID(new_id)
        assert (value.version, value.variant) == (7, uuid.RFC_4122)
        assert before_ms <= value.int >> 80 <= after_ms
        ids.append(value)
    assert ids
    assert len(set(ids)) == len(ids)
    narrow, _count, _blank = RowChecker(SPEC, wide=False, ids=True).check(3, rows)
    assert narrow == RowChecker(SPEC, wide=False).check(3, rows)[0]  # the dry run writes no contact


def _without_ids(results: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The results with the last field of each line (a random public id, checked here) taken off."""
    stripped = []
    seen: set[str] = set()
    for text, count, blank in results:
        lines = []
        for line in text.splitlines():
            rest, _tab, new_id = line.rpartition("\t")
            assert uuid.UUID(new_id).version == 7
            seen.add(new_id)
            lines.append(rest + "\n")
        stripped.append(("".join(lines), count, blank))
    assert len(seen) == sum(count - blank for _text, count, blank in results)
    return stripped


def test_workers_give_the_chunks_in_order_and_report_errors() -> None:
    rows = [[f"+1201555{i:04d}", f"N{i}", "", "", "", "", ""] for i in range(5000)]
    with checked_chunks(chunked(iter(rows), 1, 300), SPEC, wide=True, processes=0, window=4) as results:
        expected = _without_ids(list(results))
    with checked_chunks(chunked(iter(rows), 1, 300), SPEC, wide=True, processes=2, window=4) as results:
        assert _without_ids(list(results)) == expected

    def bad_file() -> Any:
        yield from rows[:1000]
        raise importing.ImportFileError("The file is not valid utf-8 text (after row 1000).")

    with (
        pytest.raises(importing.ImportFileError, match="after row 1000"),
        checked_chunks(chunked(bad_file(), 1, 300), SPEC, wide=True, processes=2, window=4) as results,
    ):
        list(results)

    def boom(self: RowChecker, start: int, rows: Any) -> Any:
        raise RuntimeError(f"checking failed at row {start}")

    # The workers are forked, so they run the patched method.
    with (
        mock.patch.object(RowChecker, "check", boom),
        pytest.raises(RuntimeError, match="checking failed at row 1"),
        checked_chunks(chunked(iter(rows), 1, 300), SPEC, wide=True, processes=2, window=4) as results,
    ):
        list(results)


@pytest.fixture
def attrs(company: Company) -> dict[str, Any]:
    return {"city": make_attribute(company, "City", "text"), "age": make_attribute(company, "Age", "number")}


def _rows_with_repeats() -> list[list[Any]]:
    rows: list[list[Any]] = [["phone", "name", "city", "age"]]
    rows.extend([f"+1201555{3000 + i:04d}", f"N{i}", "Rome", str(i)] for i in range(30))
    rows[3] = ["+12015553020", "early", "Oslo", "1"]  # row 4: the number of row 22, two batches later
    rows.append(["+12015553020", "last", "", "99"])  # row 32: the last one wins
    rows.append(["+12015559999", "Stored again", "", "7"])  # row 33, a stored contact (also on row 5 below)
    rows[4] = ["+12015559999", "Stored first", "Lima", "5"]
    return rows


@pytest.mark.parametrize("mode", ["skip", "override", "enrich"])
def test_batches_keep_the_last_row_of_a_number_and_apply_the_mode_once(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any, mode: str
) -> None:
    stored = make_contact(company, "+12015559999", first_name="", attributes={attrs["age"].key: 1})
    mapping = {0: "phone", 1: "first_name", 2: attrs["city"].key, 3: attrs["age"].key}
    with mock.patch.object(imports, "BATCH_ROWS", 7), mock.patch.object(imports, "CHUNK_ROWS", 3):
        contact_import = prepare(
            company, csv_bytes(_rows_with_repeats()), "rep.csv", mapping,
            capture=django_capture_on_commit_callbacks, tag_name="rep",
        )  # fmt: skip
        checked = (contact_import.rows_new, contact_import.rows_existing, contact_import.rows_rejected)
        contact_import = run(company, contact_import, django_capture_on_commit_callbacks, mode)
    assert contact_import.status == Status.IMPORTED
    # 28 new numbers and 1 stored one; rows 4 and 22 repeat row 32's number, row 5 row 33's.
    assert checked == (28, 1, 3)
    assert (contact_import.imported, contact_import.rejected) == (28, 3)
    rejected = {row: reason for row, _raw, reason in contact_import.preview["rejected"]}
    assert sorted(rejected) == [4, 5, 22]
    assert rejected[4].startswith("Duplicate of row 32 in this file")
    assert rejected[22].startswith("Duplicate of row 32 in this file")
    assert rejected[5].startswith("Duplicate of row 33 in this file")
    again = Contact.objects.get(company=company, phone="+12015553020")
    assert (again.first_name, again.attributes) == (
        "last",
        {attrs["age"].key: 99},
    )  # row 22's values are gone
    stored.refresh_from_db()
    expected = {
        "skip": ("", {attrs["age"].key: 1}),
        "override": ("Stored again", {attrs["age"].key: 7}),  # the empty city of the last row stays empty
        "enrich": ("Stored again", {attrs["age"].key: 1}),  # only the last row fills the empties, not row 5
    }[mode]
    assert (stored.first_name, stored.attributes) == expected
    tag = Tag.objects.get(company=company, name="rep")
    tagged = Contact.objects.filter(company=company, tags=tag).count()
    assert tagged == (28 if mode == "skip" else 29)


def test_a_failure_between_batches_leaves_the_database_as_before(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """The batches are written in the import's one transaction: the second batch fails, the first is undone."""
    make_contact(company, "+12015553001", first_name="Stored")
    mapping = {0: "phone", 1: "first_name", 2: attrs["city"].key, 3: attrs["age"].key}
    write_batch = imports._write_batch
    calls = []

    def failing(cursor: Any, company: Company) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        write_batch(cursor, company)

    with mock.patch.object(imports, "BATCH_ROWS", 7), mock.patch.object(imports, "CHUNK_ROWS", 3):
        contact_import = prepare(
            company,
            csv_bytes(_rows_with_repeats()),
            "rep.csv",
            mapping,
            capture=django_capture_on_commit_callbacks,
        )
        with (
            mock.patch.object(imports, "_write_batch", failing),
            pytest.raises(RuntimeError, match="database went away"),
        ):
            run(company, contact_import, django_capture_on_commit_callbacks, "override")
    assert len(calls) == 2
    contact_import.refresh_from_db()
    assert contact_import.status == Status.FAILED
    assert list(Contact.objects.filter(company=company).values_list("phone", "first_name")) == [
        ("+12015553001", "Stored")
    ]
    assert not Tag.objects.filter(company=company).exists()


def test_imported_contacts_get_time_ordered_public_ids(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    mapping = {0: "phone", 1: "first_name"}
    contact_import = prepare(
        company,
        csv_bytes(_rows_with_repeats()),
        "ids.csv",
        mapping,
        capture=django_capture_on_commit_callbacks,
    )
    run(company, contact_import, django_capture_on_commit_callbacks)
    ids = list(Contact.objects.filter(company=company).values_list("uuid", flat=True))
    assert len(set(ids)) == len(ids) == 29
    assert {u.version for u in ids} == {7}
    now_ms = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
    assert all(abs((u.int >> 80) - now_ms) < 600_000 for u in ids)


def test_a_pipeline_worker_that_dies_fails_the_import_instead_of_hanging() -> None:
    rows = [[f"+1201555{i:04d}", "", "", "", "", "", ""] for i in range(3000)]

    def die(self: RowChecker, start: int, rows: Any) -> Any:
        import os

        os._exit(1)

    with (
        mock.patch.object(RowChecker, "check", die),
        pytest.raises(RuntimeError, match="ended unexpectedly"),
        checked_chunks(chunked(iter(rows), 1, 300), SPEC, wide=True, processes=2, window=4) as results,
    ):
        list(results)
    assert imports_pipeline._CHECKER is None


def test_workers_end_even_when_the_parent_ignores_sigterm() -> None:
    """Forked from a Celery worker, the checking processes used to inherit its SIGTERM handler (warm shutdown) and
    ignore terminate(), so the import waited for them forever. They reset their signal handlers first."""
    rows = [[f"+1201555{i:04d}", "", "", "", "", "", ""] for i in range(3000)]
    previous = signal.signal(signal.SIGTERM, lambda *_args: None)  # as the worker's handler: no exit
    try:
        started = time.monotonic()
        with checked_chunks(chunked(iter(rows), 1, 300), SPEC, wide=True, processes=2, window=4) as results:
            next(iter(results))  # chunks in flight when the import leaves (as after a failure)
        # Ended by terminate(), not by the 5 s fallback kill.
        assert time.monotonic() - started < 4
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_terminate_sent_before_a_worker_resets_its_handlers_still_ends_it() -> None:
    """Under load a worker may get terminate() before it has reset the handlers it inherited (seen once in the
    suite: the import then waited for the 5 s kill). The signals are blocked around the fork, so it waits."""
    from contacts.services import imports_pipeline

    rows = [[f"+1201555{i:04d}", "", "", "", "", "", ""] for i in range(3000)]
    detach = imports_pipeline._detach_from_parent

    def slow_detach(inherited: Any) -> None:
        time.sleep(0.5)  # not scheduled yet: the parent leaves the pipeline meanwhile
        detach(inherited)

    previous = signal.signal(signal.SIGTERM, lambda *_args: None)  # as the Celery worker's handler: no exit
    try:
        with mock.patch.object(imports_pipeline, "_detach_from_parent", slow_detach):
            started = time.monotonic()
            with checked_chunks(chunked(iter(rows), 1, 300), SPEC, wide=True, processes=2, window=4):
                pass  # leaves at once: terminate() reaches the workers inside slow_detach
            assert time.monotonic() - started < 4
    finally:
        signal.signal(signal.SIGTERM, previous)


def _die_inside_the_pipeline(pids: Any) -> None:
    rows = [[f"+1201555{i:04d}", "", "", "", "", "", ""] for i in range(3000)]
    with checked_chunks(chunked(iter(rows), 1, 300), SPEC, wide=True, processes=2, window=4) as results:
        next(iter(results))
        pids.send(_children(os.getpid()))  # a pipe: sent before the kill (a queue sends from a thread)
        os.kill(os.getpid(), signal.SIGKILL)  # the import's process is killed (OOM, hard time limit, deploy)


def test_workers_do_not_outlive_a_killed_import_process() -> None:
    """A checking process left behind would hold the import's database connection (an inherited socket), and so
    its transaction and locks; it ends with its parent."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_die_inside_the_pipeline, args=(sender,))
    process.start()
    assert receiver.poll(30)
    children = receiver.recv()
    process.join(timeout=30)
    assert process.exitcode == -signal.SIGKILL
    assert len(children) == 2
    deadline = time.monotonic() + 5
    alive = list(children)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _running(pid)]
        time.sleep(0.1)
    assert alive == []


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == parent:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_an_xlsx_is_opened_by_the_reader_thread_and_checked_by_the_workers(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """With workers, the workbook is opened after they are forked; typed cells still arrive as in-process."""
    rows: list[list[Any]] = [["phone", "name", "city", "age"]]
    rows.extend([12015554000 + i, f"N{i}", "Rome", i] for i in range(500))
    rows.append(["bad", "", "", ""])
    mapping = {0: "phone", 1: "first_name", 2: attrs["city"].key, 3: attrs["age"].key}
    with mock.patch.object(imports, "POOL_MIN_BYTES", 0), mock.patch.object(imports, "CHUNK_ROWS", 50):
        contact_import = prepare(
            company, xlsx_bytes(rows), "big.xlsx", mapping, capture=django_capture_on_commit_callbacks
        )
        assert (contact_import.rows_new, contact_import.rows_rejected) == (500, 1)
        contact_import = run(company, contact_import, django_capture_on_commit_callbacks)
    assert (contact_import.imported, contact_import.rejected) == (500, 1)
    assert contact_import.preview["rejected"][0][0] == 502
    assert Contact.objects.get(company=company, phone="+12015554007").attributes == {
        attrs["city"].key: "Rome",
        attrs["age"].key: 7,
    }


def test_a_stuck_checking_process_fails_the_import_instead_of_hanging() -> None:
    """A worker that never answers (say a lock inherited at fork) trips the watchdog; the context still ends."""
    rows = [[f"+1201555{i:04d}", "x", "", "", "", "", ""] for i in range(3000)]
    check = RowChecker.check

    def stuck(self: RowChecker, start: int, rows: Any) -> Any:
        if start > 1000:
            time.sleep(3600)
        return check(self, start, rows)

    started = time.monotonic()
    with (
        mock.patch.object(RowChecker, "check", stuck),
        mock.patch.object(imports_pipeline, "STALL_SECONDS", 2.0),
        pytest.raises(RuntimeError, match="stopped responding"),
        checked_chunks(chunked(iter(rows), 1, 1000), SPEC, wide=True, processes=2, window=4) as results,
    ):
        list(results)
    assert time.monotonic() - started < 15


def test_leaving_the_pipeline_with_chunks_in_flight_does_not_hang() -> None:
    """The import fails while workers and the reader are blocked on full pipes: the context still ends."""
    rows = [[f"+1201555{i % 10000:04d}", "x" * 200, "", "", "", "", ""] for i in range(20000)]
    started = time.monotonic()

    def import_that_fails() -> None:
        with checked_chunks(chunked(iter(rows), 1, 2000), SPEC, wide=True, processes=2, window=6) as results:
            next(results)
            time.sleep(0.5)  # let the workers fill their pipes
            raise RuntimeError("write failed")

    with pytest.raises(RuntimeError, match="write failed"):
        import_that_fails()
    assert time.monotonic() - started < 10
