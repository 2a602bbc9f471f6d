"""The streaming XLSX sheet reader (contacts.xlsx) against python-calamine's whole-sheet reader."""

from __future__ import annotations

import datetime
import io
import zipfile
from typing import Any

import pytest
import python_calamine
from openpyxl import Workbook  # type: ignore[import-untyped]

from contacts.importing import ImportFileError, _cell, iter_rows
from contacts.xlsx import SheetReader, XlsxError


def _book(rows: list[list[Any]], *, first_sheet: str = "", epoch_1904: bool = False) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if epoch_1904:
        workbook.epoch = datetime.datetime(1904, 1, 1)  # noqa: DTZ001  (naive, as in the file)
    if first_sheet:
        # The sheet read is the first in the workbook's order, not the first part written.
        other = workbook.create_sheet("Other", 0)
        other.append([first_sheet])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _calamine(data: bytes) -> list[list[Any]]:
    sheet = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    return [[_cell(v) for v in row] for row in sheet.iter_rows()]


def _trimmed(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows without trailing empty cells (calamine pads every row to the sheet's width)."""
    out = []
    for row in rows:
        row = list(row)
        while row and row[-1] in ("", None):
            row.pop()
        out.append(row)
    return out


def test_cells_read_as_calamine_reads_them() -> None:
    rows: list[list[Any]] = [
        ["phone", "name", "born", "when", "age", "vip", "score"],
        [
            12015550111,
            "Ana",
            datetime.date(1990, 2, 1),
            datetime.datetime(2020, 1, 2, 3, 4, 5),  # noqa: DTZ001
            34,
            True,
            4.5,
        ],
        ["+12015550112", "Ñoño “quoted” <b>", datetime.date(1985, 7, 20), None, 41.0, False, -3],
        [3.4612345678e10, None, None, None, None, None, None],
        ["Ana", "Ana", "", "", "", "", ""],  # a shared string used twice
    ]
    data = _book(rows)
    mine = list(SheetReader(io.BytesIO(data)).rows())
    assert _trimmed(mine) == _trimmed(_calamine(data))
    assert mine[1][0] == "12015550111"  # a phone stored as a number comes back exact, as text
    assert mine[3][0] == "34612345678"
    assert mine[1][2] == datetime.date(1990, 2, 1)
    assert mine[1][3] == datetime.datetime(2020, 1, 2, 3, 4, 5)  # noqa: DTZ001


def test_missing_rows_and_cells_keep_their_file_positions() -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet["A1"] = "phone"
    sheet["C1"] = "city"
    sheet["A4"] = "+12015550101"
    sheet["C4"] = "Madrid"
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows = list(SheetReader(io.BytesIO(buffer.getvalue())).rows())
    assert rows == [["phone", "", "city"], [], [], ["+12015550101", "", "Madrid"]]


def test_the_first_sheet_in_workbook_order_and_the_1904_date_system() -> None:
    data = _book([["phone", "born"], ["+12015550101", datetime.date(2001, 5, 6)]], first_sheet="first")
    assert list(SheetReader(io.BytesIO(data)).rows()) == [["first"]]
    data = _book([["born"], [datetime.date(2001, 5, 6)]], epoch_1904=True)
    assert list(SheetReader(io.BytesIO(data)).rows())[1] == [datetime.date(2001, 5, 6)]


def test_inline_strings_and_rich_text_without_phonetic_runs() -> None:
    buffer = io.BytesIO()
    main = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(
            "xl/workbook.xml",
            f'<workbook {main} {rel}><sheets><sheet name="S" r:id="rId1"/></sheets></workbook>',
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="worksheets/data.xml"/></Relationships>',
        )
        zf.writestr(
            "xl/sharedStrings.xml",
            f"<sst {main}><si><r><t>Ma</t></r><r><t>drid</t></r><rPh><t>マドリード</t></rPh></si></sst>",
        )
        zf.writestr(
            "xl/worksheets/data.xml",
            f'<worksheet {main}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>+12015550101</t></is></c>'
            '<c r="B1" t="s"><v>0</v></c><c r="C1" t="str"><f>A1</f><v>formula text</v></c>'
            '<c r="D1" t="e"><v>#N/A</v></c><c r="E1" t="b"><v>1</v></c></row></sheetData></worksheet>',
        )
    rows = list(SheetReader(io.BytesIO(buffer.getvalue())).rows())
    assert rows == [["+12015550101", "Madrid", "formula text", "#N/A", True]]


def test_a_broken_workbook_is_a_clear_file_error() -> None:
    with pytest.raises(XlsxError):
        SheetReader(io.BytesIO(b"PK\x03\x04 not really a zip"))
    data = _book([["phone"], ["+12015550101"]])
    # Cut the sheet's XML short: the error comes from the row iterator, as a per-file import error.
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            target.writestr(item, content)
    rows, _fraction = iter_rows(io.BytesIO(buffer.getvalue()), file_format="xlsx")
    with pytest.raises(ImportFileError, match="The workbook cannot be read"):
        list(rows)


def test_progress_reaches_the_whole_sheet() -> None:
    data = _book([[f"+1201555{i:04d}"] for i in range(3000)])
    rows, fraction = iter_rows(io.BytesIO(data), file_format="xlsx")
    assert fraction() == 0.0
    assert sum(1 for _row in rows) == 3000
    assert fraction() == 1.0


def test_a_sheet_with_a_namespace_prefix() -> None:
    """Some writers prefix SpreadsheetML elements (``<x:row>``); the prefix is read from the root element."""
    buffer = io.BytesIO()
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("xl/workbook.xml", f'<x:workbook xmlns:x="{main}"><x:sheets/></x:workbook>')
        zf.writestr(
            "xl/worksheets/sheet1.xml",
            f'<x:worksheet xmlns:x="{main}"><x:sheetData><x:row r="2"><x:c r="B2" t="inlineStr">'
            '<x:is><x:t>+12015550101</x:t></x:is></x:c><x:c r="C2"><x:v>7</x:v></x:c></x:row>'
            "</x:sheetData></x:worksheet>",
        )
    assert list(SheetReader(io.BytesIO(buffer.getvalue())).rows()) == [[], ["", "+12015550101", "7"]]
