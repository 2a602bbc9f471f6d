"""The import's parsing pipeline: rows in, COPY text out, in worker processes, overlapped with the writes.

``contacts.services.imports`` documents the whole import; this module is the CPU side of it.

* :class:`RowChecker` checks rows exactly as :func:`contacts.importing.parse_chunk` does (that function stays as the
  reference the tests compare against) but is compiled once per import: one small function per mapped column,
  trivial values (plain text, a whole number, a DD.MM.YYYY date, yes/no, a list value) handled inline and anything
  else handed to :func:`contacts.values.clean_attribute_value`, so every error message still comes from there.
  The attributes' JSON is assembled directly and each field is escaped for COPY only when it needs it.
* :func:`phone_normalize` adds a fast path for numbers already written in E.164 (``+`` and 7-15 digits): the country
  code is read from the digits and the number goes straight to validation, skipping ``phonenumbers.parse`` (about
  half of the cost). It is taken only when ``parse`` would produce the same number (no leading zero, no national
  prefix to strip); otherwise, and for every other spelling, the normal :func:`contacts.values.normalize_phone`
  runs. Validation is never skipped: :func:`is_valid_national` gives what ``phonenumbers.is_valid_number`` gives,
  from the same metadata, in a tenth of the time. A cache of numbers already seen was measured and not kept:
  numbers in a contacts file are unique but for the rare duplicates, so it only cost memory (about 100 MB per
  million numbers).
* :func:`checked_chunks` runs the checks in a few worker processes (bare ``os.fork``, :class:`_Child`, which
  also works from a Celery prefork child, so the bulk worker uses both cores). A
  reader thread reads the file and hands chunks to the workers round robin, a collector thread takes their
  results off the pipes in file order, and the caller consumes them and writes them to PostgreSQL; at most
  ``window`` chunks are in flight, so memory stays flat whatever the file size. The collector lets the workers
  check ahead while the caller waits for the database (without it a worker blocked on its full pipe until the
  caller read, and the import waited for checked rows a quarter of its time). A worker that dies ends the
  iteration with an error, never with a hang.
"""

from __future__ import annotations

import datetime
import json
import os
import queue
import re
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, NamedTuple

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata
from phonenumbers.phonenumberutil import _maybe_strip_national_prefix_carrier_code

from contacts.importing import _FORMULA_START, BUILTIN_FIELDS, NAME_MAX, PHONE, ParseSpec, display_cell
from contacts.models import ContactAttribute
from contacts.values import _DOTTED_DATE, _NO, _YES, TEXT_MAX, clean_attribute_value, normalize_phone

Type = ContactAttribute.Type
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_encode_json_string: Callable[[str], str] = json.encoder.encode_basestring


# -- phone numbers ----------------------------------------------------------------------------------------------


@cache
def _metadata(country_code: int) -> Any:
    region = phonenumbers.region_code_for_country_code(country_code)
    return PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)


# The number types phonenumbers' _number_type_helper tries after general_desc; any match makes the number valid.
_VALID_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


class _Region(NamedTuple):
    """One region's validation patterns: ``leading_digits`` and, per number length, (general_desc, any type)."""

    leading_digits: re.Pattern[str] | None
    by_length: dict[int, tuple[re.Pattern[str], re.Pattern[str]] | None]
    other_lengths: tuple[re.Pattern[str], re.Pattern[str]] | None  # lengths no desc lists

    def valid(self, national: str) -> bool:
        """phonenumbers' ``_number_type_helper(national, metadata) != UNKNOWN`` for this region."""
        patterns = self.by_length.get(len(national), self.other_lengths)
        return patterns is not None and bool(
            patterns[0].fullmatch(national) and patterns[1].fullmatch(national)
        )


def _region_patterns(metadata: Any, leading_digits: bool) -> _Region:
    descs = [getattr(metadata, name) for name in _VALID_TYPES]
    if not metadata.same_mobile_and_fixed_line_pattern:
        descs.append(metadata.mobile)

    def at_length(length: int) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
        # As _is_number_matching_desc: a desc is tried when it has a pattern and allows the length (or lists none).
        def tried(desc: Any) -> bool:
            return (
                desc is not None
                and bool(desc.national_number_pattern)
                and (not desc.possible_length or length in desc.possible_length)
            )

        types = [desc.national_number_pattern for desc in descs if tried(desc)]
        if not tried(metadata.general_desc) or not types:
            return None
        alternation = "|".join(f"(?:{pattern})" for pattern in types)
        return re.compile(metadata.general_desc.national_number_pattern), re.compile(alternation)

    lengths = {
        n for desc in [metadata.general_desc, *descs] if desc is not None for n in desc.possible_length
    }
    return _Region(
        re.compile(metadata.leading_digits)
        if leading_digits and metadata.leading_digits is not None
        else None,
        {length: at_length(length) for length in lengths},
        at_length(-2),  # a length no desc lists: only descs without possible lengths are tried
    )


@cache
def _regions(country_code: int) -> tuple[_Region, ...]:
    """The country code's regions in phonenumbers' order (none: an unknown country code), compiled on first use."""
    codes = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    regions = []
    for code in codes:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, code.upper())
        if metadata is not None:
            # A single region is returned without looking at its leading digits.
            regions.append(_region_patterns(metadata, leading_digits=len(codes) > 1))
    return tuple(regions)


def is_valid_national(country_code: int, national: str) -> bool:
    """``phonenumbers.is_valid_number`` for ``+<country_code><national>``, ``national`` without a leading zero.

    The library spends about 14 µs per number, nearly all of it Python overhead: it runs ``_number_type_helper``
    twice (to choose the region in ``_region_code_for_number_from_list``, then again in
    ``is_valid_number_for_region``), each time with up to a dozen ``_is_number_matching_desc`` calls and their
    pattern lookups (and with numbers of many countries they overflow ``re``'s cache and are compiled again), while
    the regular expressions themselves take little time. This gives the same answer from the same metadata with the
    patterns compiled once per region: for each number length, the general pattern and one alternation of the type
    patterns tried at that length, so about two ``fullmatch`` calls (1 µs for a US number).

    The region is chosen as the library does: in order, a region with ``leading_digits`` when they match the start
    of the number (then its type check decides), any other when the number has a type there; a country code with a
    single region goes straight to its type check. (``is_valid_number_for_region`` also checks that the region's
    country code is the number's: always so for the regions of a country code, which the tests check.)
    ``tests/contacts/test_phone_fast.py`` compares this with the library on every region's example numbers, their
    mutations and random numbers; run it after upgrading ``phonenumbers``.
    """
    for region in _regions(country_code):
        if region.leading_digits is None:
            if region.valid(national):
                return True
        elif region.leading_digits.match(national):
            return region.valid(national)
    return False


def _e164_fast(text: str) -> str | None:
    """``text`` (``+`` and digits) as E.164, "" when it parses but is not a valid number, None for the slow path."""
    digits = text[1:]
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    # A leading zero (Italy and a few others) or a national prefix that parse() would strip: let parse() decide.
    if len(national) < 2 or national[0] == "0":
        return None
    metadata = _metadata(country_code)
    if metadata is None:
        return None
    carrier, stripped, _ = _maybe_strip_national_prefix_carrier_code(national, metadata)
    if stripped != national or carrier:
        return None
    return "+" + digits if is_valid_national(country_code, national) else ""


def phone_normalize(raw: str, *, country: str) -> str:
    """:func:`contacts.values.normalize_phone` with the E.164 fast path (same results, same errors)."""
    text = raw.strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+") and _E164.fullmatch(text):
        fast = _e164_fast(text)
        if fast:
            return fast
    # Not E.164, or an invalid number: the reference function gives the result or the exact error.
    return normalize_phone(raw, country=country)


# -- public ids -------------------------------------------------------------------------------------------------

# Hex digit -> the RFC 9562 variant nibble (binary 10xx) keeping its two low random bits.
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def uuid7_hex(count: int) -> list[str]:
    """``count`` time-ordered UUIDs (version 7, RFC 9562) as 32 hex digits, for the public ids of new contacts.

    48 bits of Unix milliseconds, the version, 74 random bits (``os.urandom``) and the variant. A random (version 4)
    id lands on a random page of the uuid index for every row, and at a million rows that index no longer fits in
    shared buffers (measured: about 1 s of the database's CPU per 100k rows more). Version 7 ids are as unique and
    as unguessable as the API needs and reveal only the creation time, which the contact shows anyway. Made here,
    in the checking processes, rather than by an SQL expression in the insert: that expression cost the database,
    the import's bottleneck, about 2.5 µs per row.
    """
    stamp = f"{time.time_ns() // 1_000_000:012x}"[-12:] + "7"
    random = os.urandom(10 * count).hex()
    variant = _VARIANT
    return [
        stamp + random[i : i + 3] + variant[random[i + 3]] + random[i + 4 : i + 19]
        for i in range(0, 20 * count, 20)
    ]


# -- rows -------------------------------------------------------------------------------------------------------


def _copy_field(value: str) -> str:
    """One field of PostgreSQL's COPY text format (escaped only when needed)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _unquote_text(value: str) -> str:
    # As importing._unquote: exports put an apostrophe before = + - @; take it off again on the way in.
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START:
        return value[1:]
    return value


def _json_value(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _encode_json_string(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


class _InvalidError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _generic(attribute: ContactAttribute) -> Callable[[Any], Any]:
    def clean(raw: Any) -> Any:
        if isinstance(raw, str):
            raw = _unquote_text(raw)
        try:
            return clean_attribute_value(attribute, raw)
        except ValidationError as exc:
            raise _InvalidError(" ".join(exc.messages)) from exc

    return clean


def _cleaner(attribute: ContactAttribute) -> Callable[[Any], Any]:
    """A function of one cell giving the stored value (None = empty) or raising _InvalidError, as clean_attribute_value."""
    generic = _generic(attribute)
    kind = attribute.type
    if kind == Type.TEXT:

        def text(raw: Any) -> Any:
            if type(raw) is not str:
                return generic(raw)
            value = _unquote_text(raw).strip()
            if not value:
                return None
            return value if len(value) <= TEXT_MAX else generic(raw)

        return text
    if kind == Type.NUMBER:

        def number(raw: Any) -> Any:
            if type(raw) is not str:
                return generic(raw)
            value = raw.strip()
            if not value:
                return None
            if len(value) <= 15 and value.isascii() and value.isdigit():
                return int(value)
            return generic(raw)

        return number
    if kind == Type.DATE:

        def date(raw: Any) -> Any:
            if type(raw) is not str:
                return generic(raw)
            value = raw.strip()
            if not value:
                return None
            match = _DOTTED_DATE.match(value)
            if match:
                day, month, year = (int(g) for g in match.groups())
                try:
                    return datetime.date(year, month, day).isoformat()
                except ValueError:
                    pass
            return generic(raw)

        return date
    if kind == Type.BOOL:
        yes = _("Yes").lower()

        def boolean_fast(raw: Any) -> Any:
            if type(raw) is not str:
                return generic(raw)
            value = raw.strip().lower()
            if not value:
                return None
            if value in _YES or value == yes:
                return True
            if value in _NO:
                return False
            return generic(raw)

        # The same order as clean_attribute_value: yes (and its translation) first, then no; anything else there.
        return boolean_fast
    if kind == Type.LIST:
        by_lower = {option.lower(): option for option in attribute.options}

        def choice(raw: Any) -> Any:
            if type(raw) is not str:
                return generic(raw)
            value = _unquote_text(raw).strip()
            if not value:
                return None
            found = by_lower.get(value.lower()) if len(value) <= TEXT_MAX else None
            return found if found is not None else generic(raw)

        return choice
    return generic


class RowChecker:
    """The per-row checks of an import, compiled for one mapping (see the module docstring).

    ``wide`` lines carry every staged column (``row_no, phone, raw, first_name, last_name, email, attrs, reason``)
    for the import; narrow ones only ``row_no, phone, raw, reason`` for the dry run, which writes no contact.
    With ``ids``, a wide line ends with one more field: the public id of the contact it may create
    (:func:`uuid7_hex`, NULL on a rejected row).
    """

    def __init__(self, spec: ParseSpec, *, wide: bool = True, ids: bool = False) -> None:
        self.country = spec.country
        self.wide = wide
        self.ids = ids and wide
        self.phone_col = next(i for i, f in spec.mapping.items() if f == PHONE)
        # In the mapping's order, as parse_chunk, so that several reasons of a row are listed in the same order.
        # A column is (index, "first_name" / "last_name" / "email", None) or (index, attribute key, cleaner).
        self.columns: list[tuple[int, str, Callable[[Any], Any] | None]] = []
        for index, target in spec.mapping.items():
            if target == PHONE:
                continue
            if target in BUILTIN_FIELDS:
                self.columns.append((index, target, None))
            else:
                name, type_, options = spec.attributes[target]
                attribute = ContactAttribute(name=name, type=type_, options=list(options))
                self.columns.append((index, target, _cleaner(attribute)))

    def check(self, start: int, rows: Sequence[Sequence[Any]]) -> tuple[str, int, int]:
        """Check rows numbered from ``start``; return COPY text, rows read and blank rows (as parse_chunk)."""
        lines: list[str] = []
        blank = 0
        country = self.country
        phone_col = self.phone_col
        columns = self.columns
        wide = self.wide
        ids = uuid7_hex(len(rows)) if self.ids else None
        for offset, cells in enumerate(rows):
            try:
                empty = not "".join(cells).strip()
            except TypeError:  # typed spreadsheet cells
                empty = not any(v not in (None, "") and (not isinstance(v, str) or v.strip()) for v in cells)
            if empty:
                blank += 1
                continue
            reasons: list[str] = []
            raw_phone = cells[phone_col] if phone_col < len(cells) else ""
            if type(raw_phone) is str:
                raw_text = _unquote_text(raw_phone).strip()
            else:
                raw_text = display_cell(raw_phone).strip()
            phone = ""
            try:
                phone = phone_normalize(raw_text, country=country)
            except ValidationError as exc:
                reasons.append(_("No phone number.") if exc.code == "required" else " ".join(exc.messages))
            fields = {"first_name": "\\N", "last_name": "\\N", "email": "\\N"}
            parts: list[str] = []
            for index, target, clean in columns:
                raw = cells[index] if index < len(cells) else ""
                if clean is not None:
                    try:
                        value = clean(raw)
                    except _InvalidError as exc:
                        reasons.append(exc.reason)
                        continue
                    if value is not None:
                        parts.append(f'"{target}":{_json_value(value)}')
                    continue
                text = _unquote_text(raw).strip() if type(raw) is str else display_cell(raw).strip()
                if target == "email":
                    if text:
                        try:
                            validate_email(text)
                        except ValidationError:
                            reasons.append(_("“%(value)s” is not an e-mail address.") % {"value": text})
                elif len(text) > NAME_MAX:
                    reasons.append(_("At most %(max)d characters.") % {"max": NAME_MAX})
                fields[target] = _copy_field(text)
            row_no = str(start + offset)
            if reasons:
                reason = _copy_field("; ".join(reasons))
                raw_field = _copy_field(raw_text[:200])
                if ids is not None:
                    lines.append(f"{row_no}\t\\N\t{raw_field}\t\\N\t\\N\t\\N\t\\N\t{reason}\t\\N\n")
                elif wide:
                    lines.append(f"{row_no}\t\\N\t{raw_field}\t\\N\t\\N\t\\N\t\\N\t{reason}\n")
                else:
                    lines.append(f"{row_no}\t\\N\t{raw_field}\t{reason}\n")
            elif wide:
                attrs = _copy_field("{" + ",".join(parts) + "}")
                id_field = f"\t{ids[offset]}" if ids is not None else ""
                lines.append(
                    f"{row_no}\t{phone}\t\\N\t{fields['first_name']}\t{fields['last_name']}\t{fields['email']}"
                    f"\t{attrs}\t\\N{id_field}\n"
                )
            else:
                lines.append(f"{row_no}\t{phone}\t\\N\t\\N\n")
        return "".join(lines), len(rows), blank


# -- worker processes -------------------------------------------------------------------------------------------

_CHECKER: RowChecker | None = None


_RESET_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1}


def _detach_from_parent(inherited: Sequence[Any]) -> None:
    """First thing in a checking process: make sure it cannot outlive the import or block it.

    * Signal handlers are the defaults again: forked from a Celery worker, the process would otherwise run the
      worker's own SIGTERM handler (warm shutdown) and ignore :meth:`terminate`, so the import would wait for it
      forever (seen with a real worker, ``tests/contacts/test_import_worker.py``).
    * The pipe ends it inherited but does not use are closed, its own inbox's write end and the other workers'
      ones included, so that it reads end-of-file, and ends, when the import's process is gone.
    * On Linux it is killed with its parent (``PR_SET_PDEATHSIG``): a checking process left behind would keep the
      parent's database connection (its socket is inherited) and so the import's transaction and locks open.
    """
    import ctypes

    for signum in _RESET_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    # Forked with these signals blocked (checked_chunks), so that one sent before the line above waited instead of
    # running the inherited handler; it is delivered now, with the default action.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _RESET_SIGNALS)
    for connection in inherited:
        connection.close()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the end-of-file above still ends it
        pass


def _worker(spec: ParseSpec, wide: bool, inbox: Any, outbox: Any, inherited: Sequence[Any] = ()) -> None:
    """A checking process: ``(start, rows)`` in, ``("ok", result)`` or ``("error", exception)`` out, None ends."""
    _detach_from_parent(inherited)
    checker = RowChecker(spec, wide=wide, ids=wide)
    while True:
        task = inbox.recv()
        if task is None:
            return
        try:
            outbox.send(("ok", checker.check(*task)))
        except Exception as exc:  # sent to the consumer, which raises it in the import's thread
            outbox.send(("error", exc))


class _Child:
    """A checking process: ``os.fork`` and nothing else.

    Not a ``multiprocessing`` / ``billiard`` process: their start-up in the child runs every "after fork" hook the
    parent's libraries registered, and kombu's closes the parent's broker connections from the child, reading a
    socket the child shares with the parent. With a connection waiting in a Redis ``BRPOP`` (a Celery client in
    the same process) that read blocked for ever and the import with it (seen in the test suite, found with
    py-spy). A bare fork also starts from a Celery prefork child, whose processes may not have children of their
    own through ``multiprocessing``. The child runs ``target(*args)`` and leaves with ``os._exit``, so no inherited
    ``atexit`` handler or finalizer runs (one could close the parent's database session).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exitcode: int | None = None

    @classmethod
    def fork(cls, target: Callable[..., None], *args: Any) -> _Child:
        # Blocked around the fork: the child must not run the parent's handlers before it resets them (a terminate()
        # in that window was ignored under load and the import waited for the 5 s kill). The child unblocks them in
        # _detach_from_parent.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _RESET_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    target(*args)
                    code = 0
                finally:
                    os._exit(code)
        finally:  # the parent's (the child never gets here)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return cls(pid)

    def poll(self) -> int | None:
        """The exit code once the process has ended (negative: the signal that ended it), else None."""
        if self.exitcode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exitcode = os.waitstatus_to_exitcode(status)
        return self.exitcode

    def terminate(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGTERM)

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when the process has ended."""
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


Chunk = tuple[int, list[list[Any]]]
# Seconds without a checked chunk after which the import fails: a chunk takes milliseconds, so only a stuck
# worker process (or reader) waits this long.
STALL_SECONDS = 120.0


def chunked(rows: Iterator[list[Any]], first_row: int, size: int) -> Generator[Chunk]:
    """``(number of the first row, rows)`` of ``size`` rows each, from ``first_row`` on (rows count from 1)."""
    chunk: list[list[Any]] = []
    start = first_row
    for number, row in enumerate(rows, start=1):
        if number < first_row:
            continue
        if not chunk:
            start = number
        chunk.append(row)
        if len(chunk) >= size:
            yield start, chunk
            chunk = []
    if chunk:
        yield start, chunk


@contextmanager
def checked_chunks(
    chunks: Iterator[Chunk], spec: ParseSpec, *, wide: bool, processes: int, window: int
) -> Iterator[Iterator[tuple[str, int, int]]]:
    """Results of :meth:`RowChecker.check` for ``chunks``, in order; in ``processes`` workers when above 0.

    With workers, a reader thread pulls ``chunks`` (reading the file) and feeds the workers round robin, at most
    ``window`` chunks ahead of the consumer. Errors of the reader (a bad file) or of a worker are raised by the
    iterator; leaving the context stops the thread and the workers.
    """
    if processes <= 0:
        checker = RowChecker(spec, wide=wide, ids=wide)
        yield (checker.check(*chunk) for chunk in chunks)
        return

    from multiprocessing.connection import Pipe

    workers: list[_Child] = []
    inboxes: list[Any] = []
    outboxes: list[Any] = []
    for _index in range(processes):
        inbox_read, inbox_write = Pipe(duplex=False)
        outbox_read, outbox_write = Pipe(duplex=False)
        # The parent's ends of this worker's pipes and of the workers forked before it: the child closes them.
        inherited = (inbox_write, outbox_read, *inboxes, *outboxes)
        workers.append(_Child.fork(_worker, spec, wide, inbox_read, outbox_write, inherited))
        inbox_read.close()
        outbox_write.close()
        inboxes.append(inbox_write)
        outboxes.append(outbox_read)
    stop = threading.Event()
    slots = threading.Semaphore(window)
    # The reader tells the collector how many chunks it sent, then None at the end (or the exception it hit).
    sent: queue.Queue[int | BaseException | None] = queue.Queue()
    # The collector hands the consumer each result in file order, then None (or the exception to raise).
    ready: queue.Queue[tuple[str, Any] | BaseException | None] = queue.Queue()

    def read() -> None:
        try:
            for index, chunk in enumerate(chunks):
                while not slots.acquire(timeout=0.2):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                inboxes[index % processes].send(chunk)
                sent.put(index)
            sent.put(None)
        except BaseException as exc:  # the consumer raises it
            sent.put(exc)

    def collect() -> None:
        # Drains the workers' pipes while the consumer is busy writing a batch: a result left in a full pipe would
        # block its worker, and the checks would stop whenever the database works (measured: the import waited
        # for checked rows 2.3 s of 9.8 s at 200k rows). The window bounds what waits here.
        while not stop.is_set():
            try:
                item = sent.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is None or isinstance(item, BaseException):
                ready.put(item)
                return
            try:
                ready.put(outboxes[item % processes].recv())
            except (EOFError, OSError):
                ready.put(RuntimeError("An import worker process ended unexpectedly."))
                return
            except BaseException as exc:  # never end silently: the consumer would wait for ever
                ready.put(exc)
                return

    reader = threading.Thread(target=read, name="import-reader", daemon=True)
    collector = threading.Thread(target=collect, name="import-collector", daemon=True)
    reader.start()
    collector.start()

    def next_result() -> tuple[str, Any] | BaseException | None:
        # Waits with a watchdog, so that a stuck pipeline fails the import (all or nothing) instead of hanging it.
        waited = 0.0
        while True:
            try:
                return ready.get(timeout=1.0)
            except queue.Empty:
                waited += 1.0
            if not collector.is_alive() and ready.empty():
                return RuntimeError("The import's result collector ended unexpectedly.")
            if any(worker.poll() is not None for worker in workers):
                return RuntimeError("An import worker process ended unexpectedly.")
            if waited >= STALL_SECONDS:
                return RuntimeError("The import's checking processes stopped responding.")

    def results() -> Iterator[tuple[str, int, int]]:
        while True:
            item = next_result()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            slots.release()
            status, value = item
            if status == "error":
                raise value
            yield value

    try:
        yield results()
    finally:
        # The workers hold no state: stop them first, so that a reader blocked on a full pipe gets an error
        # instead of waiting for a consumer that has gone (the import failed while chunks were in flight).
        stop.set()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            if not worker.join(timeout=5):  # never wait for a process that does not end: kill it
                os.kill(worker.pid, signal.SIGKILL)
                worker.join(timeout=60)
        reader.join(timeout=5)
        collector.join(timeout=5)
        for connection in (*inboxes, *outboxes):
            connection.close()
