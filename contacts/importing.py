"""Reading and checking import files (guide §8.2, inventory §8.4): formats, encodings, rows, per-row checks.

Nothing here writes to the database; ``contacts.services.imports`` stages what this module produces and applies it.

* **Formats.** CSV is read with the ``csv`` module from a text stream, XLSX with the streaming sheet reader of
  :mod:`contacts.xlsx` (expat, one row at a time), XLS with python-calamine (about 12x faster than openpyxl's
  read-only mode; an XLS sheet holds at most 65,536 rows, so its whole-sheet load is bounded). The format is decided by the file's content (the ZIP and OLE2 magic
  numbers), not only by its name, so a renamed file gets a clear error instead of garbage rows.
* **Streaming.** Rows are generated one at a time; neither a CSV nor an XLSX sheet is ever read whole (an XLSX
  keeps its shared strings table in memory). ``bench/bench_contacts_import.py`` measures the peak.
* **Encodings.** CSV files are read as UTF-8 (a BOM is dropped), Windows-1252 or Latin-1. Upload picks the first
  one that decodes the head of the file; the user can change it in step 2, and a decoding error further down the
  file stops the check with the row number and a hint to pick another encoding.
* **Parsing** (:func:`parse_chunk`) is a pure function of plain data, so chunks of rows can be parsed in other
  processes: phone parsing with phonenumbers is the bottleneck of an import (about 29k numbers/s per core).
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import json
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from contacts.models import ContactAttribute
from contacts.values import clean_attribute_value, normalize_phone

# Guide §8.2 step 1: ".csv, .xls and .xlsx files are supported".
EXTENSIONS = ("csv", "xls", "xlsx")
SAMPLE_ROWS = 50
MAX_COLUMNS = 200
ENCODINGS = ("utf-8", "cp1252", "latin-1")
# Target fields of the mapping besides attribute keys ("a3"); phone is the only required one (L2291).
PHONE = "phone"
BUILTIN_FIELDS = ("phone", "first_name", "last_name", "email")
NAME_MAX = 150
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FORMULA_START = ("=", "+", "-", "@")


class ImportFileError(Exception):
    """The file as a whole cannot be imported; ``message`` is shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (the letter headers of step 2)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = string.ascii_uppercase[rest] + letters
    return letters


def detect_format(name: str, head: bytes) -> str:
    """Return "csv", "xls" or "xlsx" from the name and the first bytes; raise ImportFileError otherwise."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in EXTENSIONS:
        raise ImportFileError(_("Choose a .csv, .xls or .xlsx file."))
    if not head:
        raise ImportFileError(_("The file is empty."))
    if head.startswith(_ZIP_MAGIC):
        if extension == "csv":
            raise ImportFileError(_("The file is a spreadsheet, not a CSV file; save it as .xlsx."))
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        return "xls"
    if extension != "csv":
        raise ImportFileError(_("The file is not a valid Excel workbook."))
    if b"\x00" in head[:4096]:
        raise ImportFileError(_("The file is not a text (CSV) file."))
    return "csv"


def detect_encoding(head: bytes) -> str:
    """The first encoding of ENCODINGS that decodes ``head`` (a cut multi-byte character at the end is fine)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"  # the five bytes Windows-1252 leaves undefined
    return "cp1252"


def detect_delimiter(text: str) -> str:
    """Comma, semicolon (European Excel), tab or pipe, whichever the first lines use most consistently."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    best, best_score = ",", 0
    for delimiter in (",", ";", "\t", "|"):
        counts = [line.count(delimiter) for line in lines]
        if not counts or not counts[0]:
            continue
        score = sum(1 for c in counts if c == counts[0]) * 10 + counts[0]
        if score > best_score:
            best, best_score = delimiter, score
    return best


@dataclass
class CsvProgress:
    """Where a CSV reader is in the file, for the progress bar (bytes read of the file's size)."""

    raw: IO[bytes]
    size: int

    def fraction(self) -> float:
        return min(1.0, self.raw.tell() / self.size) if self.size else 1.0


def _cell(value: Any) -> Any:
    """A calamine cell as import input: integral floats become integer text (34612345678.0 → "34612345678")."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, bool | int | float):
        return str(value) if not isinstance(value, bool) else value
    return value


def iter_rows(
    raw: IO[bytes], *, file_format: str, encoding: str = "utf-8", delimiter: str = ","
) -> tuple[Iterator[list[Any]], Callable[[], float]]:
    """Rows of the first sheet (or the CSV) from row 1, and a function giving the fraction read so far.

    Raises ImportFileError for a workbook calamine cannot open; a wrong CSV encoding raises
    ImportFileError from the iterator, with the row where decoding failed.
    """
    if file_format == "csv":
        size = raw.seek(0, io.SEEK_END)
        raw.seek(0)
        progress = CsvProgress(raw, size)
        # utf-8-sig drops a BOM; newline="" lets csv handle line breaks inside quoted cells.
        text = io.TextIOWrapper(raw, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="")
        return _csv_rows(text, delimiter, encoding), progress.fraction
    if file_format == "xlsx":
        # Streamed (contacts.xlsx): calamine would load the whole sheet first.
        from contacts.xlsx import SheetReader, XlsxError

        try:
            reader = SheetReader(raw)
        except XlsxError as exc:
            raise ImportFileError(_("The workbook cannot be read: %(error)s") % {"error": exc}) from exc
        return _xlsx_rows(reader), reader.fraction
    # .xls (BIFF) stays on calamine, which loads the sheet whole: the format holds at most 65,536 rows per sheet,
    # so that load is bounded (tens of MB at most) however the file was made.
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(raw)
        sheet = workbook.get_sheet_by_index(0)
    except Exception as exc:  # calamine raises its own error types per format; all mean "unreadable"
        raise ImportFileError(_("The workbook cannot be read: %(error)s") % {"error": exc}) from exc
    total = max(1, sheet.total_height or sheet.height or 1)
    # calamine yields rows from the first row of the sheet, but columns from the first used column.
    pad = [""] * sheet.start[1] if sheet.start else []
    done = [0]

    def rows() -> Iterator[list[Any]]:
        for row in sheet.iter_rows():
            done[0] += 1
            yield [*pad, *(_cell(v) for v in row)]

    return rows(), lambda: min(1.0, done[0] / total)


def _xlsx_rows(reader: Any) -> Iterator[list[Any]]:
    from contacts.xlsx import XlsxError

    try:
        yield from reader.rows()
    except XlsxError as exc:
        raise ImportFileError(_("The workbook cannot be read: %(error)s") % {"error": exc}) from exc


def _csv_rows(text: io.TextIOWrapper, delimiter: str, encoding: str) -> Iterator[list[Any]]:
    reader = csv.reader(text, delimiter=delimiter)
    number = 0
    try:
        for row in reader:
            number += 1
            yield row
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            _(
                "The file is not valid %(encoding)s text (after row %(row)d). "
                "Choose another encoding in step 2: UTF-8, Windows-1252 or Latin-1."
            )
            % {"encoding": encoding, "row": number}
        ) from exc
    except csv.Error as exc:
        raise ImportFileError(
            _("The CSV file cannot be read after row %(row)d: %(error)s") % {"row": number, "error": exc}
        ) from exc
    finally:
        # The wrapper would close the caller's file when collected; the caller owns it.
        text.detach()


def read_sample(
    raw: IO[bytes], *, file_format: str, encoding: str, delimiter: str
) -> tuple[list[list[str]], int]:
    """The first SAMPLE_ROWS rows as text (for steps 2-3) and the number of columns they use."""
    rows, _progress = iter_rows(raw, file_format=file_format, encoding=encoding, delimiter=delimiter)
    sample: list[list[str]] = []
    for row in rows:
        sample.append([display_cell(v) for v in row[:MAX_COLUMNS]])
        if len(sample) >= SAMPLE_ROWS:
            break
    width = 0
    for row in sample:
        used = [i for i, v in enumerate(row) if v.strip()]
        if used:
            width = max(width, used[-1] + 1)
    return [row[:width] + [""] * (width - len(row)) for row in sample], width


def display_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime.datetime):
        return value.strftime("%d.%m.%Y %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.strftime("%d.%m.%Y")
    return str(value)


def signature(sample: Sequence[Sequence[str]], columns: int, first_row: int) -> str:
    """The shape of a file for mapping presets (G10): column count plus the header row's texts when present."""
    import hashlib

    header = sample[first_row - 2] if first_row >= 2 and len(sample) >= first_row - 1 else []
    texts = [" ".join(str(v).split()).lower() for v in header]
    return hashlib.sha256(json.dumps([columns, texts]).encode()).hexdigest()[:32]


# -- per-row checks -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParseSpec:
    """Everything a worker process needs to check rows: plain data, picklable."""

    country: str
    mapping: Mapping[
        int, str
    ]  # column index -> "phone" / "first_name" / "last_name" / "email" / attribute key
    attributes: Mapping[str, tuple[str, str, tuple[str, ...]]]  # key -> (name, type, options)


def _unquote(value: Any) -> Any:
    # Exports put an apostrophe before = + - @ (formula-injection guard); take it off again on the way in.
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START:
        return value[1:]
    return value


def _copy_text(value: str | None) -> str:
    """One field of PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


_SPEC: ParseSpec | None = None
_ATTRS: dict[str, ContactAttribute] = {}


def init_worker(spec: ParseSpec) -> None:
    """Pool initializer: keep the spec and unsaved attribute objects for :func:`parse_chunk`."""
    global _SPEC, _ATTRS
    _SPEC = spec
    _ATTRS = {
        key: ContactAttribute(name=name, type=type_, options=list(options))
        for key, (name, type_, options) in spec.attributes.items()
    }


def parse_chunk(rows: Sequence[tuple[int, Sequence[Any]]]) -> tuple[str, int, int]:
    """Check ``(row number, cells)`` pairs; return COPY text for the staging table, rows read, blank rows.

    Each staging line is ``row_no, phone, raw phone, first_name, last_name, email, attributes JSON, reason``; a
    rejected row has a reason (several reasons joined by "; ") and no values. Fully blank rows are counted, not
    staged. Call :func:`init_worker` first.
    """
    spec = _SPEC
    if spec is None:
        raise RuntimeError("init_worker() was not called")
    lines: list[str] = []
    blank = 0
    phone_col = next(i for i, f in spec.mapping.items() if f == PHONE)
    for number, cells in rows:
        if not any(v not in (None, "") and (not isinstance(v, str) or v.strip()) for v in cells):
            blank += 1
            continue
        reasons: list[str] = []
        raw_phone = _unquote(cells[phone_col]) if phone_col < len(cells) else ""
        raw_text = display_cell(raw_phone).strip()
        phone = None
        try:
            phone = normalize_phone(raw_text, country=spec.country)
        except ValidationError as exc:
            reasons.append(_("No phone number.") if exc.code == "required" else " ".join(exc.messages))
        fields: dict[str, str] = {}
        attrs: dict[str, Any] = {}
        for index, target in spec.mapping.items():
            if target == PHONE:
                continue
            raw = _unquote(cells[index]) if index < len(cells) else ""
            if target in BUILTIN_FIELDS:
                text = display_cell(raw).strip()
                if target == "email" and text:
                    try:
                        validate_email(text)
                    except ValidationError:
                        reasons.append(_("“%(value)s” is not an e-mail address.") % {"value": text})
                elif len(text) > NAME_MAX:
                    reasons.append(_("At most %(max)d characters.") % {"max": NAME_MAX})
                fields[target] = text
                continue
            try:
                value = clean_attribute_value(_ATTRS[target], raw)
            except ValidationError as exc:
                reasons.append(" ".join(exc.messages))
                continue
            if value is not None:
                attrs[target] = value
        row_no = str(number)
        if reasons:
            line = [row_no, None, raw_text[:200], None, None, None, None, "; ".join(reasons)]
        else:
            line = [
                row_no,
                phone,
                None,
                fields.get("first_name"),
                fields.get("last_name"),
                fields.get("email"),
                json.dumps(attrs, ensure_ascii=False, separators=(",", ":")),
                None,
            ]
        lines.append("\t".join(_copy_text(v) for v in line) + "\n")
    return "".join(lines), len(rows), blank
