"""Import contacts (guide §8.2, inventory §8.4): the wizard's writes, the dry run and the import job.

How a file becomes contacts
---------------------------
1. :func:`import_upload` keeps the file, decides its format and encoding and reads a sample (steps 1-2).
2. :func:`import_first_row_set` and :func:`import_mapping_set` store the wizard's choices (steps 2-3); the mapping
   step may save a preset, and a preset of the same file shape is offered automatically next time (G10).
3. :func:`import_check` is the **dry run** behind steps 4-5, run as a job: it streams the whole file, checks every
   row and stages the result exactly as the import does, counts new contacts, matches with stored contacts and
   rejected rows, writes the rejected-rows report, then rolls back. Nothing is lost in silence: every non-blank
   row is either counted for import or listed with its file row number and reason.
4. :func:`import_apply` is the import job: the same staging, then a few set-based statements.

Staging and writing. The file is read by a reader thread and checked in chunks by worker processes
(:mod:`contacts.services.imports_pipeline`: compiled per-row checks, an E.164 fast path for phone numbers; both
cores, in a Celery prefork child too), while this thread streams the results with ``COPY`` into a temporary table
in batches of ``BATCH_ROWS`` and writes each batch at once, so reading, checking and writing overlap instead of
adding up. Every row goes to ``import_stage`` (row number, phone, and the raw text and reason of a rejected row,
for the report). Per batch, ``DISTINCT ON (phone)`` keeps the last row of each number, one ``INSERT … SELECT …
ON CONFLICT DO NOTHING`` creates the contacts the company does not have yet, and the rows whose number is stored
go to ``import_left``: a number this import created from an earlier batch is replaced by the later row (G6: the
last row of a number is imported, as if the earlier one had not been there), a contact stored before the import
is kept in ``import_old`` for one ``UPDATE … FROM`` at the end (override or enrich, from the last row of its
number only). The tag is one ``INSERT … SELECT`` at the end. Never one query per row. The dry run runs the same
pipeline with narrow lines and no writes, then counts new and stored numbers in one join.

Measured (``bench/bench_contacts_import.py``, 1M rows, figures in README's Contacts section). Writing is the
floor on this machine: the import is one database backend, and at 200k rows (session 4) it used about 37 µs of
database CPU per row (the ``INSERT`` into ``contacts_contact`` and its ten indexes, the staging tables, and
the deferred foreign-key checks at commit: 3.5-6.5 µs), the checking processes about 18 µs and this
process about 5 µs. What was kept and what was not:

* kept: overlapping parse and write (the import takes about as long as its writes; a collector thread keeps the
  checks going while a batch is written, ``imports_pipeline.checked_chunks``); the compiled checks (2x the
  reference ``parse_chunk``) and the E.164 fast path (``parse`` skipped, validation on precompiled patterns:
  3.3 µs a number instead of 16); time-ordered (v7) public ids, because random v4 ids scatter their index
  inserts over a B-tree larger than shared buffers (about 1 s of database CPU per 100k rows); batches of 20k
  rows (smaller ones add statements, larger ones delay the first write); per-slot sort indexes built on demand
  only (``contacts.indexes``: each costs about 4.5 µs per row; the five of the benchmark were a third of the
  database's time).
* not kept: deferring the per-slot indexes that exist: they are shared by every company, so building them after
  the load would mean dropping them for everyone, and ``CREATE INDEX CONCURRENTLY`` cannot run in the import's
  transaction. Dropping the database constraint of ``Contact.company``: its checks at commit cost 3.5 s of the
  database's 34.7 s at 1M rows (XLSX 48.8 s with it, 44.3 s without, still short of 0.6 of the reader); the CSV
  targets are met with it, and it keeps the table's integrity. ``COPY`` straight into
  ``contacts_contact`` (about 10 % less database time) needs the numbers checked against stored contacts first
  and a retry when a concurrent insert collides; not worth the complexity. A larger ``gin_pending_list_limit``
  for the transaction showed no difference beyond noise; ``fastupdate = off`` on the GIN index was slower; nor
  did ``deduplicate_items = off`` on the ``(company, x, id)`` indexes help. A per-slot index on ``->>`` (text)
  instead of ``->`` (jsonb) costs the same per insert, so typed sort keys would not buy much either. The v7 id
  expression cost about 2.5 µs a row: the ids are made by the checking processes (``imports_pipeline.uuid7_hex``).
  ``synchronous_commit = off`` saves one WAL flush per import (milliseconds) and was not used. A cache of seen
  numbers did not pay (see imports_pipeline). UNLOGGED staging tables: the temporary ones are already unlogged
  and need no cleanup after a crash. One checking process instead of two during the import (so that the
  database keeps a core): no difference beyond noise.
* XLSX: python-calamine 0.9.1 has ``CalamineSheet.iter_rows()``, but it iterates a sheet that
  ``get_sheet_by_index`` has loaded whole (about 430 MB of cells for 1M rows x 7 columns, 740 MB at the peak of
  loading), and it cannot read a range of rows. XLSX sheets are therefore streamed by :mod:`contacts.xlsx` (expat
  over the decompressed sheet part, one row at a time, the shared strings kept); calamine stays for .xls, whose
  sheets hold at most 65,536 rows. The workers are still forked before the file is opened.

Failure. **Decision: the import is one transaction.** Staging and every write happen inside it, and the
import's status and counters commit with the data. A failure at any point (a bad file found late, a database
error, a killed worker) rolls everything back, so a failed job leaves the contacts exactly as before; the
import is then marked failed in a separate transaction. A job whose worker died is re-run from the start when
the task is delivered again (the status is RUNNING and older than the task time limit), which is safe because
nothing of the first attempt was committed. Progress cannot be read from uncommitted rows, so it is published
in Redis (:func:`import_progress`).

Duplicates (step 4). "Not import" leaves a stored contact untouched (acceptance 21), tag included; "override"
writes every mapped column, an empty cell clearing the stored value (G11); "enrich" fills only empty stored values.
Quick import tags stored numbers without importing them again (guide §8.2 L2227).
"""

from __future__ import annotations

import csv
import ctypes
import datetime
import gc
import io
import os
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import importing
from contacts.importing import PHONE, ImportFileError, ParseSpec
from contacts.models import ContactAttribute, ContactImport, ImportPreset
from contacts.services import imports_pipeline
from contacts.services._common import _check_company
from contacts.services.tags import _tags_by_name
from contacts.tasks import IMPORT_TIME_LIMIT
from contacts.values import normalize_phone
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import Change, audit_record
from portal.core.exceptions import ApplicationError
from portal.core.exports import csv_safe
from portal.tenants.models import Company

# Guide §8.2 gives no limit; 100 MB holds a million rows of phone, name and a few attributes (56 MB in the bench).
MAX_FILE_SIZE = 100 * 1024 * 1024
# Rows per chunk checked by a worker; rows per write batch; chunks checked ahead of the writes (memory bound).
CHUNK_ROWS = 2000
BATCH_ROWS = 20000
WINDOW_CHUNKS = 16
SAMPLE_LIMIT = 100  # phones and rejected rows kept for the preview page
# Below this size a pool costs more (forking, pickling) than it saves.
POOL_MIN_BYTES = 256 * 1024
PROGRESS_TTL = 3600
Status = ContactImport.Status


def _progress_key(contact_import: ContactImport) -> str:
    return f"contacts:import-progress:{contact_import.pk}"


def import_progress(contact_import: ContactImport) -> dict[str, Any]:
    """``{"percent": 0-100, "rows": rows read}`` of a running check or import (Redis; see the docstring)."""
    data = cache.get(_progress_key(contact_import))
    return data if isinstance(data, dict) else {"percent": 0, "rows": 0}


# -- wizard steps -----------------------------------------------------------------------------------------------


def _file_error(message: str) -> ValidationError:
    return ValidationError({"file": message})


@transaction.atomic
def import_upload(
    *,
    company: Company,
    actor: User | None,
    file: File[Any],
    name: str,
    kind: str = ContactImport.Kind.REGULAR,
    tag_name: str = "",
) -> ContactImport:
    """Keep an uploaded file as a new import (guide §8.2 step 1) and read its first rows.

    A quick import (phones only, L2219-L2227) also maps the one column to the phone number, skips a header row,
    and starts the dry run. Side effects: stores the file; a ContactImport row; for quick import the check job
    after commit. Raises ValidationError on ``file`` for an unsupported, empty, unreadable or too big file, a quick
    import file with more than one column, and on ``tag_name`` for a tag name over 100 characters.
    """
    size = file.size or 0
    if size > MAX_FILE_SIZE:
        raise _file_error(_("The file is larger than %(mb)d MB.") % {"mb": MAX_FILE_SIZE // (1024 * 1024)})
    file.seek(0)
    head = file.read(65536)
    file.seek(0)
    try:
        file_format = importing.detect_format(name, head)
    except ImportFileError as exc:
        raise _file_error(exc.message) from exc
    tag_name = " ".join(tag_name.split())
    if len(tag_name) > 100:
        raise ValidationError({"tag_name": _("A tag name has at most 100 characters.")})
    contact_import = ContactImport(
        company=company,
        kind=kind,
        file_name=os.path.basename(name)[:255],
        file_format=file_format,
        file_size=size,
        tag_name=tag_name,
        created_by=actor,
    )
    if file_format == "csv":
        contact_import.encoding = importing.detect_encoding(head)
        text = head.decode(contact_import.encoding, errors="ignore")
        contact_import.delimiter = importing.detect_delimiter(text)
    _read_sample(contact_import, file)
    if kind == ContactImport.Kind.QUICK:
        _quick_setup(company, contact_import)
    contact_import.file.save("source", file, save=False)
    contact_import.save()
    if kind == ContactImport.Kind.QUICK:
        _check_start(contact_import)
    return contact_import


def _read_sample(contact_import: ContactImport, raw: IO[bytes] | File[Any]) -> None:
    raw.seek(0)
    try:
        sample, columns = importing.read_sample(
            raw,
            file_format=contact_import.file_format,
            encoding=contact_import.encoding or "utf-8",
            delimiter=contact_import.delimiter or ",",
        )
    except ImportFileError as exc:
        raise _file_error(exc.message) from exc
    finally:
        raw.seek(0)
    if not columns:
        raise _file_error(_("The file has no rows with data."))
    contact_import.sample = sample
    contact_import.columns = columns


def _quick_setup(company: Company, contact_import: ContactImport) -> None:
    # Guide §8.2 L2226: "the file must contain only the column with phone numbers".
    if contact_import.columns > 1:
        raise _file_error(
            _("For quick import the file must contain only the column with phone numbers (it has %(n)d).")
            % {"n": contact_import.columns}
        )
    first = contact_import.sample[0][0] if contact_import.sample else ""
    try:
        normalize_phone(first, country=company.default_country)
    except ValidationError:
        contact_import.first_row = 2  # a header such as "phoneNumber"
    contact_import.mapping = {"0": PHONE}
    contact_import.duplicates = ContactImport.Duplicates.SKIP
    contact_import.status = Status.MAPPED


def _check_step(contact_import: ContactImport, allowed: Sequence[str]) -> None:
    if contact_import.status not in allowed:
        raise ApplicationError(
            _("This import is %(status)s; the step cannot be changed now.")
            % {"status": contact_import.get_status_display().lower()}
        )


EDITABLE = (Status.UPLOADED, Status.FIRST_ROW_SET, Status.MAPPED, Status.PREVIEWED)


@transaction.atomic
def import_first_row_set(
    *,
    company: Company,
    actor: User | None,
    contact_import: ContactImport,
    first_row: int,
    encoding: str = "",
) -> ContactImport:
    """Step 2: the first row that holds contacts (rows above it are skipped), and the CSV encoding.

    Side effects: updates the import; a new encoding re-reads the sample. Raises ValidationError on
    ``first_row`` / ``encoding`` / ``file``, ApplicationError when the import is no longer being prepared.
    """
    _check_company(company, contact_import)
    _check_step(contact_import, EDITABLE)
    if encoding and contact_import.file_format == "csv" and encoding != contact_import.encoding:
        if encoding not in ContactImport.Encoding.values:
            raise ValidationError({"encoding": _("Choose an encoding.")})
        contact_import.encoding = encoding
        with contact_import.file.open("rb") as raw:
            head = raw.read(65536)
            text = head.decode(encoding, errors="ignore")
            contact_import.delimiter = importing.detect_delimiter(text)
            _read_sample(contact_import, raw)
    if not 1 <= first_row <= max(1, len(contact_import.sample)):
        raise ValidationError(
            {"first_row": _("Choose one of rows 1-%(n)d.") % {"n": max(1, len(contact_import.sample))}}
        )
    contact_import.first_row = first_row
    contact_import.status = Status.FIRST_ROW_SET
    contact_import.error = ""
    contact_import.save()
    return contact_import


def import_signature(contact_import: ContactImport) -> str:
    return importing.signature(contact_import.sample, contact_import.columns, contact_import.first_row)


def mapping_targets(company: Company) -> list[tuple[str, str]]:
    """The choices of step 3's "Select attribute": the built-in fields, then the company's attributes."""
    builtin = [
        (PHONE, "phoneNumber"),  # the guide's name of the required column (L2291)
        ("first_name", _("Name")),
        ("last_name", _("Surname")),
        ("email", _("Email")),
    ]
    attributes = ContactAttribute.objects.filter(company=company).order_by("name")
    return builtin + [(a.key, a.name) for a in attributes]


@transaction.atomic
def import_mapping_set(
    *,
    company: Company,
    actor: User | None,
    contact_import: ContactImport,
    mapping: Mapping[int, str],
    preset_name: str = "",
) -> ContactImport:
    """Step 3: map columns to fields, optionally save the mapping as a preset, and start the dry run.

    Guide §8.2 L2291: the phone number is the only required column; one field maps to at most one column and
    unmapped columns are ignored [INFER]. Side effects: updates the import; creates or replaces the preset called
    ``preset_name``; enqueues the check job after commit. Raises ValidationError on ``mapping`` / ``preset_name``.
    """
    _check_company(company, contact_import)
    _check_step(contact_import, EDITABLE)
    valid = {key for key, _label in mapping_targets(company)}
    labels = dict(mapping_targets(company))
    cleaned: dict[str, str] = {}
    seen: dict[str, int] = {}
    errors: list[str] = []
    for index, target in sorted(mapping.items()):
        if not target:
            continue
        if target not in valid or not 0 <= index < max(contact_import.columns, 1):
            errors.append(_("Column %(col)s: choose an attribute.") % {"col": importing.column_letter(index)})
            continue
        if target in seen:
            errors.append(
                _("%(field)s is mapped to columns %(a)s and %(b)s; choose one.")
                % {
                    "field": labels[target],
                    "a": importing.column_letter(seen[target]),
                    "b": importing.column_letter(index),
                }
            )
            continue
        seen[target] = index
        cleaned[str(index)] = target
    if PHONE not in seen:
        errors.append(_("Map a column to phoneNumber: it is the only required column."))
    if errors:
        raise ValidationError({"mapping": errors})
    contact_import.mapping = cleaned
    preset_name = " ".join(preset_name.split())
    if preset_name:
        if len(preset_name) > 100:
            raise ValidationError({"preset_name": _("At most 100 characters.")})
        preset = ImportPreset.objects.filter(company=company, name__iexact=preset_name).first()
        if preset is None:
            preset = ImportPreset(company=company, name=preset_name)
        preset.signature = import_signature(contact_import)
        preset.mapping = cleaned
        preset.save()
        contact_import.preset = preset
    contact_import.status = Status.MAPPED
    contact_import.save()
    _check_start(contact_import)
    return contact_import


def preset_for(*, company: Company, contact_import: ContactImport) -> ImportPreset | None:
    """The newest preset saved for files of this shape (guide §8.2 L2294, G10), if any."""
    return (
        ImportPreset.objects.filter(company=company, signature=import_signature(contact_import))
        .order_by("-updated_at")
        .first()
    )


def _check_start(contact_import: ContactImport) -> None:
    from contacts.tasks import contact_import_check_task

    contact_import.status = Status.CHECKING
    contact_import.error = ""
    contact_import.save(update_fields=["status", "error", "updated_at"])
    cache.set(_progress_key(contact_import), {"percent": 0, "rows": 0}, PROGRESS_TTL)
    pk, company_id = contact_import.pk, contact_import.company_id
    transaction.on_commit(lambda: contact_import_check_task.delay(pk, company_id))


@transaction.atomic
def import_duplicates_set(
    *, company: Company, actor: User | None, contact_import: ContactImport, mode: str
) -> ContactImport:
    """Step 4: what to do with rows whose phone number is stored already (not import / override / enrich)."""
    _check_company(company, contact_import)
    _check_step(contact_import, (Status.PREVIEWED,))
    if mode not in ContactImport.Duplicates.values:
        raise ValidationError({"duplicates": _("Choose what to do with duplicate records.")})
    contact_import.duplicates = mode
    contact_import.save(update_fields=["duplicates", "updated_at"])
    return contact_import


@transaction.atomic
def import_run_start(*, company: Company, actor: User | None, contact_import: ContactImport) -> ContactImport:
    """Step 5 *Import*: queue the import job (bulk queue). Raises ApplicationError unless the preview is ready."""
    from contacts.tasks import contact_import_apply_task

    _check_company(company, contact_import)
    contact_import = ContactImport.objects.select_for_update().get(pk=contact_import.pk)
    _check_step(contact_import, (Status.PREVIEWED,))
    contact_import.status = Status.QUEUED
    contact_import.save(update_fields=["status", "updated_at"])
    cache.set(_progress_key(contact_import), {"percent": 0, "rows": 0}, PROGRESS_TTL)
    pk, company_id = contact_import.pk, contact_import.company_id
    transaction.on_commit(lambda: contact_import_apply_task.delay(pk, company_id))
    return contact_import


@transaction.atomic
def import_cancel(*, company: Company, actor: User | None, contact_import: ContactImport) -> None:
    """Drop an import that has not started; its file is deleted. Raises ApplicationError once it runs."""
    _check_company(company, contact_import)
    contact_import = ContactImport.objects.select_for_update().get(pk=contact_import.pk)
    _check_step(contact_import, (*EDITABLE, Status.CHECKING))
    contact_import.status = Status.CANCELLED
    contact_import.finished_at = timezone.now()
    contact_import.save(update_fields=["status", "finished_at", "updated_at"])
    name = contact_import.file.name
    storage = contact_import.file.storage
    transaction.on_commit(lambda: storage.delete(name))


# -- staging (shared by the dry run and the import) ------------------------------------------------------------


@dataclass
class StageResult:
    rows: int = 0  # non-blank rows after the first row
    blank: int = 0
    new: int = 0
    existing: int = 0
    rejected: int = 0


# The public id of a new contact comes with its row (imports_pipeline.uuid7_hex).
STAGE_COLUMNS = "row_no, phone, raw, first_name, last_name, email, attrs, reason, uuid"
NARROW_COLUMNS = "row_no, phone, raw, reason"


def _parse_spec(company: Company, contact_import: ContactImport) -> ParseSpec:
    attributes = {
        a.key: (a.name, a.type, tuple(a.options)) for a in ContactAttribute.objects.filter(company=company)
    }
    missing = [
        t
        for t in contact_import.mapping.values()
        if t not in importing.BUILTIN_FIELDS and t not in attributes
    ]
    if missing:
        raise ImportFileError(_("An attribute of the mapping was deleted; map the columns again."))
    return ParseSpec(
        country=company.default_country,
        mapping={int(k): v for k, v in contact_import.mapping.items()},
        attributes=attributes,
    )


def _pool_size(file_size: int) -> int:
    """Checking processes for a file of ``file_size`` bytes: none for small files, else one per core (max 4)."""
    if file_size < POOL_MIN_BYTES:
        return 0
    cores = os.cpu_count() or 1
    return min(cores, 4) if cores > 1 else 0


def _stage(
    company: Company,
    contact_import: ContactImport,
    report: Callable[[float, int], None],
    *,
    write: bool = False,
) -> StageResult:
    """Check every row into ``import_stage`` (all rows: row, phone, raw text and reason of a rejected row).

    The dry run (``write`` False) then builds ``import_rows``, the last row of each number with the stored
    contact it matches, and counts. The import (``write`` True) also writes the contacts batch by batch while
    the next rows are being checked (:func:`_write_batch`); the stored contacts it matched are left in
    ``import_old`` for the end. Must run inside a transaction (the tables are dropped on commit). Raises
    ImportFileError for a per-file error.
    """
    spec = _parse_spec(company, contact_import)
    result = StageResult()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # ON COMMIT DROP ends them with the transaction; inside an outer transaction (tests, a retried job in the
        # same connection) the previous run's tables may still be there.
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP_TABLES}")
        cursor.execute(
            "CREATE TEMP TABLE import_stage (row_no integer, phone text, raw text, reason text) ON COMMIT DROP"
        )
        if write:
            cursor.execute(
                "CREATE TEMP TABLE import_batch (row_no integer, phone text, raw text, first_name text,"
                " last_name text, email text, attrs jsonb, reason text, uuid uuid) ON COMMIT DROP"
            )
            cursor.execute(
                "CREATE TEMP TABLE import_left (row_no integer, phone text, first_name text, last_name text,"
                " email text, attrs jsonb) ON COMMIT DROP"
            )
            cursor.execute(
                "CREATE TEMP TABLE import_old (row_no integer, phone text, first_name text, last_name text,"
                " email text, attrs jsonb, contact_id bigint) ON COMMIT DROP"
            )
            cursor.execute(
                "CREATE TEMP TABLE import_new (contact_id bigint PRIMARY KEY, phone text) ON COMMIT DROP"
            )
        copy_sql = (
            f"COPY import_batch ({STAGE_COLUMNS}) FROM STDIN"
            if write
            else f"COPY import_stage ({NARROW_COLUMNS}) FROM STDIN"
        )
        psycopg_cursor = cursor.cursor
        last_report = 0.0

        with contact_import.file.open("rb") as raw:
            progress: list[Callable[[], float]] = [lambda: 0.0]

            def read() -> Generator[list[Any]]:
                # Opened by the first row asked for, so after the workers are forked: they do not inherit a
                # workbook that calamine holds in memory (which would count once per process).
                rows, progress[0] = importing.iter_rows(
                    raw,
                    file_format=contact_import.file_format,
                    encoding=contact_import.encoding or "utf-8",
                    delimiter=contact_import.delimiter or ",",
                )
                try:
                    yield from rows
                finally:
                    rows.close()  # type: ignore[attr-defined]

            def fraction() -> float:
                return progress[0]()

            rows = read()
            chunks = imports_pipeline.chunked(rows, contact_import.first_row, CHUNK_ROWS)
            processes = _pool_size(contact_import.file_size)
            batch = 0
            copy: Any = None
            try:
                # Each batch's COPY stays open while its chunks arrive, so the database parses them while the
                # workers check the next ones; it ends before the batch is written (an error inside the block
                # aborts the open COPY through the stack).
                with (
                    imports_pipeline.checked_chunks(
                        chunks, spec, wide=write, processes=processes, window=WINDOW_CHUNKS
                    ) as checked,
                    ExitStack() as copying,
                ):
                    for text, count, blank in checked:
                        if copy is None:
                            copy = copying.enter_context(psycopg_cursor.copy(copy_sql))
                        copy.write(text)
                        batch += count - blank
                        result.rows += count - blank
                        result.blank += blank
                        if batch >= BATCH_ROWS:
                            copying.close()
                            copy, batch = None, 0
                            if write:
                                _write_batch(cursor, company)
                        now = time.monotonic()
                        if now - last_report > 0.5:
                            last_report = now
                            report(fraction(), result.rows)
                    if copy is not None:
                        copying.close()
                        if write:
                            _write_batch(cursor, company)
            finally:
                # Close the readers while the file is open (a failed import stops them half way).
                chunks.close()
                rows.close()
                if contact_import.file_format != "csv":
                    _release_memory()
        if not result.rows:
            raise ImportFileError(_("The file has no contacts below the chosen first row."))
        report(1.0, result.rows)
        if write:
            # The last row of each stored number (G6) decides its update; earlier ones are duplicates.
            cursor.execute(
                "CREATE TEMP TABLE import_rows ON COMMIT DROP AS"
                " SELECT DISTINCT ON (phone) row_no, phone, first_name, last_name, email, attrs, contact_id"
                " FROM import_old ORDER BY phone, row_no DESC"
            )
            cursor.execute("SELECT (SELECT count(*) FROM import_new), (SELECT count(*) FROM import_rows)")
        else:
            # G6: of the rows with the same number, the last one is imported and the others are rejected.
            cursor.execute(
                "CREATE TEMP TABLE import_rows ON COMMIT DROP AS"
                " SELECT DISTINCT ON (s.phone) s.row_no, s.phone, c.id AS contact_id"
                " FROM import_stage s LEFT JOIN contacts_contact c ON c.company_id = %s AND c.phone = s.phone"
                " WHERE s.reason IS NULL ORDER BY s.phone, s.row_no DESC",
                [company.pk],
            )
            cursor.execute(
                "SELECT count(*) FILTER (WHERE contact_id IS NULL), count(*) FILTER (WHERE contact_id IS NOT NULL)"
                " FROM import_rows"
            )
        result.new, result.existing = cursor.fetchone()
        result.rejected = result.rows - result.new - result.existing
    return result


def _release_memory() -> None:
    """Hand the freed heap back to the system (glibc's ``malloc_trim``).

    python-calamine holds a whole sheet (hundreds of MB for a big workbook); freed, those pages would otherwise
    stay resident in this long-lived worker process, and the next import's forked workers would map them too.
    """
    gc.collect()
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    libc.malloc_trim(0)


TEMP_TABLES = "import_rows, import_stage, import_batch, import_left, import_old, import_new"

# One batch of the import, in three statements. First the rows of the batch join the stage (for the report);
# then the last row of each number in the batch is inserted when the company has no such contact, and a row
# whose number is stored already goes to import_left.
_BATCH_STAGE_SQL = f"INSERT INTO import_stage ({NARROW_COLUMNS}) SELECT {NARROW_COLUMNS} FROM import_batch"  # noqa: S608  (constants)
# The public ids are time-ordered (version 7) UUIDs made by the checking processes (imports_pipeline.uuid7_hex).
_BATCH_INSERT_SQL = """
WITH b AS (
    SELECT DISTINCT ON (phone) row_no, phone, first_name, last_name, email, attrs, uuid
    FROM import_batch WHERE reason IS NULL ORDER BY phone, row_no DESC
), ins AS (
    INSERT INTO contacts_contact (uuid, company_id, phone, first_name, last_name, email, attributes, created_at,
        updated_at)
    SELECT uuid, %(company)s, phone, coalesce(first_name, ''), coalesce(last_name, ''),
        coalesce(email, ''), coalesce(attrs, '{}'::jsonb), now(), now()
    FROM b ORDER BY row_no
    ON CONFLICT (company_id, phone) DO NOTHING
    RETURNING id, phone
), new AS (
    INSERT INTO import_new (contact_id, phone) SELECT id, phone FROM ins RETURNING 1
), left_over AS (
    INSERT INTO import_left SELECT row_no, phone, first_name, last_name, email, attrs FROM b
    WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.phone = b.phone)
    RETURNING 1
)
SELECT (SELECT count(*) FROM new), (SELECT count(*) FROM left_over)
"""
# A number this import inserted from an earlier row: the later row replaces that contact entirely (G6), as if
# only the later row had been imported.
_BATCH_REPLACE_SQL = """
UPDATE contacts_contact c SET first_name = coalesce(l.first_name, ''), last_name = coalesce(l.last_name, ''),
    email = coalesce(l.email, ''), attributes = coalesce(l.attrs, '{}'::jsonb), updated_at = now()
FROM import_left l JOIN import_new n ON n.phone = l.phone
WHERE c.id = n.contact_id AND c.company_id = %(company)s
"""
# A contact stored before the import: kept for the one UPDATE at the end (duplicate mode, last row wins).
_BATCH_OLD_SQL = """
INSERT INTO import_old (row_no, phone, first_name, last_name, email, attrs, contact_id)
SELECT l.row_no, l.phone, l.first_name, l.last_name, l.email, l.attrs, c.id
FROM import_left l JOIN contacts_contact c ON c.company_id = %(company)s AND c.phone = l.phone
WHERE NOT EXISTS (SELECT 1 FROM import_new n WHERE n.contact_id = c.id)
"""


def _write_batch(cursor: Any, company: Company) -> None:
    """Write the checked rows in ``import_batch`` (see the module docstring, "Staging"), then empty it."""
    params = {"company": company.pk}
    cursor.execute(_BATCH_STAGE_SQL)
    cursor.execute(_BATCH_INSERT_SQL, params)
    _inserted, left_over = cursor.fetchone()
    if left_over:
        cursor.execute(_BATCH_REPLACE_SQL, params)
        cursor.execute(_BATCH_OLD_SQL, params)
        cursor.execute("TRUNCATE import_left")
    cursor.execute("TRUNCATE import_batch")


def _rejected_rows(cursor: Any) -> Iterator[tuple[int, str, str]]:
    """Rejected rows in file order: checks that failed, then numbers repeated further down (G6)."""
    duplicate = _("Duplicate of row %(row)s in this file: the last row with a number is imported.")
    cursor.execute(
        "WITH d AS (SELECT phone, max(row_no) AS last FROM import_stage WHERE reason IS NULL"
        " GROUP BY phone HAVING count(*) > 1)"
        " SELECT s.row_no, coalesce(s.raw, s.phone), coalesce(s.reason, replace(%s, '%%(row)s', d.last::text))"
        " FROM import_stage s LEFT JOIN d ON s.reason IS NULL AND d.phone = s.phone"
        " WHERE s.reason IS NOT NULL OR s.row_no <> d.last ORDER BY s.row_no",
        [duplicate],
    )
    while batch := cursor.fetchmany(5000):
        yield from batch


def _write_report(contact_import: ContactImport, cursor: Any) -> list[list[Any]]:
    """Store the rejected rows as CSV (row, phone, reason); return the first SAMPLE_LIMIT for the page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Row"), _("Phone number"), _("Reason")])
    first: list[list[Any]] = []
    for row_no, raw, reason in _rejected_rows(cursor):
        if len(first) < SAMPLE_LIMIT:
            first.append([row_no, raw, reason])
        writer.writerow([row_no, csv_safe(raw or ""), csv_safe(reason)])
    if contact_import.report:
        contact_import.report.delete(save=False)
    contact_import.report.save(
        f"{contact_import.uuid}/rejected.csv", ContentFile(buffer.getvalue().encode("utf-8-sig")), save=False
    )
    return first


def _reporter(contact_import: ContactImport, weight: float = 1.0) -> Callable[[float, int], None]:
    key = _progress_key(contact_import)

    def report(fraction: float, rows: int) -> None:
        cache.set(key, {"percent": int(fraction * 100 * weight), "rows": rows}, PROGRESS_TTL)

    return report


def _fail(contact_import_id: int, message: str, status: str) -> None:
    ContactImport.objects.filter(pk=contact_import_id).update(
        status=status, error=message, finished_at=timezone.now() if status == Status.FAILED else None
    )


def import_check(*, contact_import_id: int, company_id: int) -> None:
    """The dry run of steps 4-5 (see the module docstring): count, stage, report, roll back.

    Idempotent: does nothing unless the import is CHECKING. Side effects: the import's counters, preview samples
    and rejected-rows report; progress in Redis. A per-file error (format, encoding, no rows) sends the import back
    to step 2 with the error shown there.
    """
    company = Company.objects.get(pk=company_id)
    contact_import = ContactImport.objects.filter(company=company, pk=contact_import_id).first()
    if contact_import is None or contact_import.status != Status.CHECKING:
        return
    try:
        with transaction.atomic():
            result = _stage(company, contact_import, _reporter(contact_import, 0.95))
            with connection.cursor() as cursor:
                rejected = _write_report(contact_import, cursor)
                cursor.execute(
                    "SELECT phone FROM import_rows WHERE contact_id IS NULL ORDER BY row_no LIMIT %s",
                    [SAMPLE_LIMIT],
                )
                new_sample = [r[0] for r in cursor.fetchall()]
                cursor.execute(
                    "SELECT phone FROM import_rows WHERE contact_id IS NOT NULL ORDER BY row_no LIMIT %s",
                    [SAMPLE_LIMIT],
                )
                existing_sample = [r[0] for r in cursor.fetchall()]
            # The staged rows vanish with the rollback; only the counters below are kept.
            transaction.set_rollback(True)
    except ImportFileError as exc:
        _fail(contact_import.pk, exc.message, Status.UPLOADED)
        return
    except Exception:
        # Anything else (the stored file gone, a database error): the wizard must not wait for a check that will
        # never end; it goes back to step 2 with the error, where the user may start the check again.
        _fail(
            contact_import.pk,
            _("The check of the file failed. Try again, or contact support if it fails again."),
            Status.UPLOADED,
        )
        raise
    ContactImport.objects.filter(pk=contact_import.pk, status=Status.CHECKING).update(
        status=Status.PREVIEWED,
        rows_total=result.rows,
        rows_new=result.new,
        rows_existing=result.existing,
        rows_rejected=result.rejected,
        preview={"new": new_sample, "existing": existing_sample, "rejected": rejected, "blank": result.blank},
        report=contact_import.report.name,
        updated_at=timezone.now(),
    )
    cache.set(_progress_key(contact_import), {"percent": 100, "rows": result.rows}, PROGRESS_TTL)
    if contact_import.auto_run:
        contact_import.refresh_from_db()
        import_run_start(company=company, actor=None, contact_import=contact_import)


def _claim(company: Company, contact_import_id: int) -> ContactImport | None:
    """Move QUEUED (or a RUNNING import whose worker died) to RUNNING; None when another worker has it."""
    stale = timezone.now() - datetime.timedelta(seconds=IMPORT_TIME_LIMIT)
    with transaction.atomic():
        contact_import = (
            ContactImport.objects.select_for_update(skip_locked=True)
            .filter(company=company, pk=contact_import_id)
            .filter(Q(status=Status.QUEUED) | Q(status=Status.RUNNING, started_at__lt=stale))
            .first()
        )
        if contact_import is None:
            return None
        contact_import.status = Status.RUNNING
        contact_import.started_at = timezone.now()
        contact_import.save(update_fields=["status", "started_at", "updated_at"])
    return contact_import


def import_apply(*, contact_import_id: int, company_id: int) -> None:
    """The import job (step 5 *Import*): stage the file and write contacts and tags in ONE transaction.

    Idempotent: only a QUEUED import (or a RUNNING one left by a dead worker) is run. Side effects, all in one
    transaction: contacts inserted and updated, the tag created and linked, the rejected-rows report, audit
    ``contact.imported`` with the counters, the import marked IMPORTED. On any error the transaction rolls back,
    so the contacts are exactly as before, and the import is marked FAILED with the reason.
    """
    company = Company.objects.get(pk=company_id)
    contact_import = _claim(company, contact_import_id)
    if contact_import is None:
        return
    try:
        with transaction.atomic():
            _apply(company, contact_import)
    except ImportFileError as exc:
        _fail(contact_import.pk, exc.message, Status.FAILED)
    except Exception:
        _fail(
            contact_import.pk,
            _("The import failed and nothing was imported. Try again, or contact support if it fails again."),
            Status.FAILED,
        )
        raise
    cache.set(
        _progress_key(contact_import), {"percent": 100, "rows": contact_import.rows_total}, PROGRESS_TTL
    )


def _apply(company: Company, contact_import: ContactImport) -> None:
    actor = contact_import.created_by
    # New contacts are written batch by batch while the file is read (_stage); stored ones are updated here.
    result = _stage(company, contact_import, _reporter(contact_import, 0.9), write=True)
    imported = result.new
    quick = contact_import.kind == ContactImport.Kind.QUICK
    mode = contact_import.duplicates
    targets = set(contact_import.mapping.values())
    with connection.cursor() as cursor:
        updated = 0
        if mode != ContactImport.Duplicates.SKIP and not quick:
            updated = _update_existing(cursor, company, mode, targets)
        tag = None
        name = contact_import.tag_name
        if quick and not name:
            name = _("Quick import %(when)s") % {"when": timezone.localtime().strftime("%d.%m.%Y %H:%M:%S")}
        if name:
            tag = _tags_by_name(company, actor, [name])[0]
            # Guide §8.2 L2213: every imported contact gets the tag; stored ones too unless they are not imported
            # (quick import tags them anyway, L2227).
            only_new = mode == ContactImport.Duplicates.SKIP and not quick
            cursor.execute(TAG_NEW_SQL if only_new else TAG_ALL_SQL, [company.pk, tag.pk])
        rejected = _write_report(contact_import, cursor)
        cursor.execute(f"DROP TABLE {TEMP_TABLES}")
    skipped = result.existing - updated
    contact_import.status = Status.IMPORTED
    contact_import.rows_total = result.rows
    contact_import.imported = imported
    contact_import.updated = updated
    contact_import.skipped = skipped
    contact_import.rejected = result.rejected
    contact_import.tag = tag
    contact_import.preview = {**contact_import.preview, "rejected": rejected}
    contact_import.finished_at = timezone.now()
    contact_import.error = ""
    contact_import.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACTS_IMPORTED,
        target=contact_import,
        changes=[
            Change(
                table=ContactImport._meta.db_table,
                operation=AuditDetail.Operation.INSERT,
                object_id=str(contact_import.pk),
                new={
                    "file": contact_import.file_name,
                    "kind": contact_import.kind,
                    "duplicates": mode,
                    "imported": imported,
                    "updated": updated,
                    "skipped": skipped,
                    "rejected": result.rejected,
                    "tag": tag.name if tag else "",
                },
            )
        ],
    )


_TAG_SQL = (
    "INSERT INTO contacts_contacttag (company_id, contact_id, tag_id, created_at, updated_at)"
    " SELECT %s, contact_id, %s, now(), now() FROM ({source}) t"
    " ON CONFLICT (contact_id, tag_id) DO NOTHING"
)
TAG_ALL_SQL = _TAG_SQL.format(
    source="SELECT contact_id FROM import_new UNION ALL SELECT contact_id FROM import_rows"
)
TAG_NEW_SQL = _TAG_SQL.format(source="SELECT contact_id FROM import_new")


def _update_existing(cursor: Any, company: Company, mode: str, targets: set[str]) -> int:
    """One UPDATE of the stored contacts matched by phone: override (G11) or enrich."""
    sets: list[str] = []
    for field in ("first_name", "last_name", "email"):
        if field not in targets:
            continue
        if mode == ContactImport.Duplicates.OVERRIDE:
            sets.append(f"{field} = coalesce(r.{field}, '')")
        else:
            sets.append(f"{field} = CASE WHEN c.{field} = '' THEN coalesce(r.{field}, '') ELSE c.{field} END")
    keys = sorted(t for t in targets if t not in importing.BUILTIN_FIELDS)
    params: list[Any] = []
    if keys:
        if mode == ContactImport.Duplicates.OVERRIDE:
            # Mapped attributes are replaced, an empty cell clearing the value (G11); others stay.
            sets.append("attributes = (c.attributes - %s::text[]) || coalesce(r.attrs, '{}'::jsonb)")
            params.append(keys)
        else:
            sets.append("attributes = coalesce(r.attrs, '{}'::jsonb) || c.attributes")
    sets.append("updated_at = now()")
    # Field names come from the fixed tuple above, never from the file or the user.
    cursor.execute(
        "UPDATE contacts_contact c SET "  # noqa: S608  (fixed field names, see above)
        + ", ".join(sets)
        + " FROM import_rows r WHERE c.id = r.contact_id AND c.company_id = %s",
        [*params, company.pk],
    )
    return int(cursor.rowcount)
