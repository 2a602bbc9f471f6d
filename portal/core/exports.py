"""Helpers for files users download (CSV and XLSX exports of any section)."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@")


def csv_safe(value: str) -> str:
    """Put an apostrophe before a cell starting with = + - @, which spreadsheet programs would run as a formula.

    The usual defence against CSV/formula injection (a contact named ``=cmd|' /C calc'!A0``); an import of the
    file takes the apostrophe off again (``contacts.importing``).
    """
    return "'" + value if value[:1] in FORMULA_START else value
