"""Cells a spreadsheet will not run: the one place every CSV and workbook the app writes passes its values.

A spreadsheet opening a CSV treats a text cell that begins with `=`, `+`, `-` or `@` as a formula, and a
leading tab or carriage return can smuggle one past a naive check (the OWASP "CSV injection" rule). A report
title "=HYPERLINK(…)" or a display name "@SUM(A1)" would then run on the supervisor's desk. So:

- **CSV**: `csv_cell` puts a single quote before such a text (`'=1+1`), which Excel and LibreOffice show as the
  text itself; numbers stay numbers (−3 points is written `-3`), and a text that is only a plain number
  ("-3", "+1.5") is left alone too, since a spreadsheet reads it as that number, never as a formula.
- **xlsx**: `new_workbook` opens an XlsxWriter workbook that never turns a string into a formula, a number or a
  hyperlink, and `write_cell` writes each value by its type (text as a string cell, numbers as number cells,
  None as a blank), so "=1+1" is stored as the text "=1+1", shown as written, never evaluated.

`csv_writer` wraps `csv.writer` so that every row goes through `csv_cell`.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal
from typing import IO, Any, Iterable, Optional, Union

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")

# What XlsxWriter must never guess from a string: formulas, numbers and URLs are written only when asked.
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}


def formula_like(text: str) -> bool:
    """True when a spreadsheet would read `text` as a formula (or a tab/CR hides one)."""
    return bool(text) and text.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(text)


def csv_cell(value: Any) -> Any:
    """One CSV value, neutralised: None → "", formula-like text → quoted with a leading `'`, the rest as is."""
    if value is None:
        return ""
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose rows pass through `csv_cell` (same `writerow` / `writerows`)."""

    def __init__(self, stream: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: IO[str], **kwargs: Any) -> SafeWriter:
    return SafeWriter(stream, **kwargs)


def new_workbook(target: Union[str, IO[bytes]], **options: Any):
    """An XlsxWriter workbook writing to a path or a binary stream that never makes a formula from a string."""
    import xlsxwriter

    return xlsxwriter.Workbook(target, {**WORKBOOK_OPTIONS, **options})


def write_cell(worksheet, row: int, col: int, value: Any, cell_format: Optional[Any] = None) -> None:
    """Write one value by its type (0-based row and column, as XlsxWriter counts): text always as a string
    cell, numbers as number cells (bool as a boolean), dates as text in ISO form, None as a blank."""
    if value is None:
        worksheet.write_blank(row, col, None, cell_format)
    elif isinstance(value, bool):
        worksheet.write_boolean(row, col, value, cell_format)
    elif isinstance(value, (int, float, Decimal)):
        worksheet.write_number(row, col, value, cell_format)
    elif isinstance(value, (dt.date, dt.datetime)):
        worksheet.write_string(row, col, value.isoformat(), cell_format)
    else:
        worksheet.write_string(row, col, str(value), cell_format)
